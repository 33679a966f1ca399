from django.contrib import admin

from .models import ApiToken, AuditEntry, ImportJob, ImportRowError, Membership, Operation, Round


class RoundInline(admin.TabularInline):
    model = Round
    extra = 0
    fields = ("number", "version", "name", "start_date", "end_date", "status")
    readonly_fields = ("status", "version")  # the lifecycle moves through services, not by hand


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ("name", "country_iso3", "status")
    search_fields = ("name", "country_iso3")
    inlines = [RoundInline, MembershipInline]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("operation", "number", "version", "status", "start_date", "end_date")
    list_filter = ("status", "operation")
    readonly_fields = ("status", "published_at", "corrects", "version")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "user", "action", "object_type", "object_id", "operation")
    list_filter = ("action", "operation")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")


class RowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    can_delete = False
    readonly_fields = ("row", "column", "value", "message")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "original_name",
        "status",
        "rows_read",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "created_at",
    )
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    inlines = [RowErrorInline]
