"""Admin for every tracking model. Figures are written by importers; the admin is for looking and fixing."""

from django.contrib import admin

from .models import (
    Alert,
    AlertRule,
    AreaFigure,
    Assessment,
    Event,
    FigureBreakdown,
    GroupMovement,
    IndicatorValue,
    PopulationFigure,
    SourceProfile,
)


class PopulationFigureInline(admin.TabularInline):
    model = PopulationFigure
    extra = 0
    fields = ("population_group", "households", "individuals", "males", "females")
    show_change_link = True


class IndicatorValueInline(admin.TabularInline):
    model = IndicatorValue
    extra = 0
    fields = ("sector", "indicator", "kind", "value_number", "value_boolean", "value_text")


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = (
        "place_key",
        "assessment_type",
        "round",
        "admin_level",
        "admin1_code",
        "admin2_code",
        "reporting_date",
    )
    list_filter = ("assessment_type", "admin_level", "operation")
    search_fields = ("place_key", "provider_admin1_name", "provider_admin2_name", "provider_location_name")
    raw_id_fields = ("round", "location", "import_job")
    list_select_related = ("round__operation",)
    inlines = [PopulationFigureInline, IndicatorValueInline]


class FigureBreakdownInline(admin.TabularInline):
    model = FigureBreakdown
    extra = 0
    fields = ("displacement_reason", "hazard_type", "origin_admin1_code", "origin_admin2_code", "individuals")


@admin.register(PopulationFigure)
class PopulationFigureAdmin(admin.ModelAdmin):
    list_display = ("assessment", "population_group", "households", "individuals")
    list_filter = ("population_group",)
    search_fields = ("assessment__place_key",)
    raw_id_fields = ("assessment",)
    list_select_related = ("assessment__round__operation",)
    inlines = [FigureBreakdownInline]


@admin.register(FigureBreakdown)
class FigureBreakdownAdmin(admin.ModelAdmin):
    list_display = ("figure", "displacement_reason", "hazard_type", "origin_admin1_code", "individuals")
    list_filter = ("displacement_reason", "hazard_type")
    raw_id_fields = ("figure",)


@admin.register(IndicatorValue)
class IndicatorValueAdmin(admin.ModelAdmin):
    list_display = (
        "assessment",
        "sector",
        "indicator",
        "kind",
        "value_number",
        "value_boolean",
        "value_text",
    )
    list_filter = ("sector", "kind")
    search_fields = ("indicator", "assessment__place_key")
    raw_id_fields = ("assessment",)


@admin.register(SourceProfile)
class SourceProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "label", "country_iso3", "assessment_type", "operation", "built_in")
    list_filter = ("built_in", "assessment_type")
    search_fields = ("name", "label")


class GroupMovementInline(admin.TabularInline):
    model = GroupMovement
    extra = 0
    fields = (
        "code",
        "population_group",
        "households",
        "individuals",
        "from_admin2_code",
        "to_admin2_code",
        "to_location",
        "shelter",
        "initial_needs",
    )
    raw_id_fields = ("to_location",)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("code", "event_type", "date", "operation", "admin1_code", "admin2_code")
    list_filter = ("event_type", "operation")
    search_fields = ("code", "description")
    date_hierarchy = "date"
    raw_id_fields = ("location", "import_job")
    inlines = [GroupMovementInline]


@admin.register(GroupMovement)
class GroupMovementAdmin(admin.ModelAdmin):
    list_display = (
        "event",
        "code",
        "population_group",
        "individuals",
        "from_admin2_code",
        "to_admin2_code",
        "shelter",
    )
    list_filter = ("population_group", "shelter")
    search_fields = ("code", "event__code")
    raw_id_fields = ("event", "to_location")


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("pk", "operation", "min_individuals", "watched_pcode")
    list_filter = ("operation",)
    filter_horizontal = ("subscribers",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("reason", "event", "rule", "created_at", "acknowledged_by", "acknowledged_at")
    list_filter = ("rule__operation",)
    raw_id_fields = ("event", "rule", "acknowledged_by")


@admin.register(AreaFigure)
class AreaFigureAdmin(admin.ModelAdmin):
    """Analytics cells are rebuilt from assessments: read only."""

    list_display = ("pcode", "admin_level", "population_group", "assessment_type", "round", "individuals")
    list_filter = ("admin_level", "population_group", "assessment_type")
    search_fields = ("pcode",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
