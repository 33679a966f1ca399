"""Admin for every flows model. Counts and summaries are written by importers; the admin is for looking.

The summary tables (FlowDaily, FlowBreakdown) and the estimates are derived: they are read-only
here, because an edit would be overwritten by the next rebuild and would disagree with the counts.
"""

from django.contrib import admin

from .models import (
    Corridor,
    FlowBreakdown,
    FlowCount,
    FlowDaily,
    FlowEstimate,
    FlowMonitoringPoint,
    FlowPublication,
    FlowSurvey,
)
from .points import schedule_text


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived rows: shown, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PointInline(admin.TabularInline):
    model = FlowMonitoringPoint
    extra = 0
    fields = ("code", "name", "type", "country_iso3", "active")
    show_change_link = True


@admin.register(Corridor)
class CorridorAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "operation")
    list_filter = ("operation",)
    search_fields = ("name", "slug")
    inlines = [PointInline]


@admin.register(FlowMonitoringPoint)
class FlowMonitoringPointAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "type",
        "country_iso3",
        "border_country_iso3",
        "corridor",
        "schedule",
        "active",
    )
    list_filter = ("type", "active", "operation", "country_iso3")
    search_fields = ("code", "name", "admin1_code", "admin2_code")
    raw_id_fields = ("corridor",)
    list_select_related = ("corridor",)

    @admin.display(description="observed")
    def schedule(self, obj):
        return schedule_text(obj.observed_days, obj.observed_hours)


@admin.register(FlowCount)
class FlowCountAdmin(admin.ModelAdmin):
    list_display = ("record_id", "fmp", "date", "hour_start", "direction", "nationality", "individuals")
    list_filter = ("direction", "transport", "reason", "operation")
    search_fields = ("record_id", "fmp__code")
    date_hierarchy = "date"
    raw_id_fields = ("fmp", "job")
    list_select_related = ("fmp",)


@admin.register(FlowDaily)
class FlowDailyAdmin(ReadOnlyAdmin):
    list_display = ("fmp", "date", "direction", "records", "individuals", "males", "females", "children")
    list_filter = ("direction", "operation")
    date_hierarchy = "date"
    list_select_related = ("fmp",)


@admin.register(FlowBreakdown)
class FlowBreakdownAdmin(ReadOnlyAdmin):
    list_display = ("fmp", "month", "direction", "dimension", "value", "records", "individuals")
    list_filter = ("dimension", "direction", "operation")
    date_hierarchy = "month"
    list_select_related = ("fmp",)


@admin.register(FlowSurvey)
class FlowSurveyAdmin(admin.ModelAdmin):
    list_display = ("record_id", "fmp", "date", "direction", "sex", "age", "nationality", "reason")
    list_filter = ("direction", "sex", "reason", "operation")
    search_fields = ("record_id", "fmp__code")
    date_hierarchy = "date"
    raw_id_fields = ("fmp", "job")
    list_select_related = ("fmp",)


@admin.register(FlowEstimate)
class FlowEstimateAdmin(ReadOnlyAdmin):
    list_display = (
        "fmp",
        "period",
        "period_start",
        "direction",
        "observed",
        "estimate",
        "lower",
        "upper",
        "coverage",
    )
    list_filter = ("period", "direction", "operation")
    list_select_related = ("fmp",)


@admin.register(FlowPublication)
class FlowPublicationAdmin(admin.ModelAdmin):
    list_display = ("operation", "date_from", "date_to", "published_by", "created_at")
    list_filter = ("operation",)
    raw_id_fields = ("published_by",)
