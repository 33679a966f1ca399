"""Django admin for registration: references, statuses and settings only — never a personal value.

Personal columns (names, dates of birth, phone, address, document numbers, disability answers,
specific needs, override reasons) are neither shown nor searchable here: the admin writes no access
log and is not a purpose. Households and individuals appear by reference and status, read-only;
every change to them goes through the audited services and pages. Identity documents are not
registered at all.
"""

from __future__ import annotations

from django.contrib import admin

from .models import (
    AccessLog,
    DedupCluster,
    DedupModel,
    Distribution,
    Entitlement,
    Household,
    Individual,
    Item,
    MatchPair,
    Merge,
    RegistrationGrant,
    RegistrationPolicy,
    Verification,
    VerificationRound,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows the listed fields only; nothing is added, changed or deleted from the admin."""

    def get_readonly_fields(self, request, obj=None):
        return self.fields or ()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RegistrationGrant)
class RegistrationGrantAdmin(ReadOnlyAdmin):
    """Grants are given on the operation's pages (``access.grant_set``), which audits them."""

    fields = ("user", "operation", "capabilities", "granted_by", "expires_at", "revoked_at", "created_at")
    list_display = ("user", "operation", "capabilities", "expires_at", "revoked_at")
    list_filter = ("operation",)


@admin.register(RegistrationPolicy)
class RegistrationPolicyAdmin(admin.ModelAdmin):
    list_display = ("operation", "retention_days", "match_threshold", "review_threshold")


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    fields = ("at", "user", "operation", "action", "purpose", "object_type", "object_id", "records")
    list_display = ("at", "user", "operation", "action", "purpose", "object_type", "object_id", "records")
    list_filter = ("action", "purpose", "operation")
    date_hierarchy = "at"


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    fields = (
        "operation",
        "reference",
        "status",
        "size",
        "population_group",
        "location_pcode",
        "admin1_pcode",
        "admin2_pcode",
        "site",
        "registered_on",
        "source",
    )
    list_display = ("reference", "operation", "status", "size", "admin2_pcode", "registered_on")
    list_filter = ("status", "operation", "source")
    search_fields = ("reference",)  # never a personal column


@admin.register(Individual)
class IndividualAdmin(ReadOnlyAdmin):
    fields = ("operation", "reference", "household", "status", "cluster", "merged_into")
    list_display = ("reference", "operation", "household", "status", "cluster", "merged_into")
    list_filter = ("status", "operation")
    search_fields = ("reference",)
    list_select_related = ("household", "merged_into")


@admin.register(DedupModel)
class DedupModelAdmin(ReadOnlyAdmin):
    fields = ("operation", "version", "records", "active", "created_at")  # not the settings: term frequencies
    list_display = ("operation", "version", "records", "active", "created_at")
    list_filter = ("operation", "active")


@admin.register(DedupCluster)
class DedupClusterAdmin(ReadOnlyAdmin):
    fields = ("id", "operation", "created_at")
    list_display = ("id", "operation", "created_at")
    list_filter = ("operation",)


@admin.register(MatchPair)
class MatchPairAdmin(ReadOnlyAdmin):
    fields = ("operation", "left", "right", "match_probability", "status", "decided_by", "decided_at")
    list_display = ("id", "operation", "left", "right", "match_probability", "status", "decided_at")
    list_filter = ("status", "operation")
    list_select_related = ("left", "right")


@admin.register(Merge)
class MergeAdmin(ReadOnlyAdmin):
    fields = ("operation", "survivor", "merged", "pair", "by", "at", "undone_by", "undone_at")
    list_display = ("id", "operation", "survivor", "merged", "by", "at", "undone_at")
    list_filter = ("operation",)
    list_select_related = ("survivor", "merged")


@admin.register(VerificationRound)
class VerificationRoundAdmin(ReadOnlyAdmin):
    fields = ("operation", "name", "site", "area_pcode", "started_on", "closed_on", "status", "created_by")
    list_display = ("name", "operation", "area_pcode", "started_on", "closed_on", "status")
    list_filter = ("status", "operation")


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdmin):
    fields = ("round", "household", "outcome", "moved_to_pcode", "members_present", "verified_on", "by")
    list_display = ("round", "household", "outcome", "verified_on")
    list_filter = ("outcome",)


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit", "sector", "operation")
    list_filter = ("operation", "sector")
    search_fields = ("code", "name")


@admin.register(Entitlement)
class EntitlementAdmin(admin.ModelAdmin):
    list_display = ("item", "operation", "quantity", "per_person", "period_days", "valid_from", "valid_to")
    list_filter = ("operation",)


@admin.register(Distribution)
class DistributionAdmin(ReadOnlyAdmin):
    # Not the override reason: a free text that may name people.
    fields = (
        "operation",
        "reference",
        "household",
        "item",
        "quantity",
        "distributed_on",
        "site",
        "distributor",
        "recorded_by",
    )
    list_display = ("reference", "operation", "household", "item", "quantity", "distributed_on")
    list_filter = ("operation", "item")
    search_fields = ("reference",)
    list_select_related = ("household", "item")
