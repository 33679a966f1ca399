"""Admin for points of entry, their status history and travel restrictions: for looking and fixing.

Status records are history: the admin shows them read-only (a change is a new record, made with
`mobility restrictions status` or an import), so the "as of" answers of the past never shift.
"""

from django.contrib import admin

from .models import PoEStatus, PointOfEntry, TravelRestriction


class PoEStatusInline(admin.TabularInline):
    model = PoEStatus
    extra = 0
    fields = (
        "effective_from",
        "status",
        "restriction",
        "affected_groups",
        "measures",
        "published",
        "recorded_at",
    )
    readonly_fields = fields
    ordering = ("-effective_from", "-id")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PointOfEntry)
class PointOfEntryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "type", "country_iso3", "border_country_iso3", "iata_code", "operation")
    list_filter = ("operation", "type", "country_iso3")
    search_fields = ("code", "name", "iata_code", "admin1_code", "admin2_code")
    inlines = [PoEStatusInline]


@admin.register(PoEStatus)
class PoEStatusAdmin(admin.ModelAdmin):
    list_display = (
        "poe",
        "effective_from",
        "status",
        "restriction",
        "published",
        "recorded_at",
        "recorded_by",
    )
    list_filter = ("status", "restriction", "published", "poe__operation")
    search_fields = ("poe__code", "poe__name", "notes", "source")
    date_hierarchy = "effective_from"
    list_select_related = ("poe", "recorded_by")
    readonly_fields = (
        "poe",
        "effective_from",
        "status",
        "restriction",
        "affected_groups",
        "measures",
        "daily_inflow",
        "daily_outflow",
        "notes",
        "source",
        "recorded_at",
        "recorded_by",
        "job",
    )

    def has_add_permission(self, request):
        return False


@admin.register(TravelRestriction)
class TravelRestrictionAdmin(admin.ModelAdmin):
    list_display = (
        "imposing_iso3",
        "target",
        "target_iso3",
        "target_region",
        "kind",
        "effective_from",
        "effective_to",
        "source",
        "source_ref",
        "published",
    )
    list_filter = ("kind", "target", "source", "published", "operation")
    search_fields = ("imposing_iso3", "target_iso3", "target_region", "source_ref", "notes")
    date_hierarchy = "effective_from"
    raw_id_fields = ("job",)
