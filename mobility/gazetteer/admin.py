from django.contrib import admin

from .models import AdminArea, AreaAlias, AreaCrosswalk, GazetteerVersion, Location, MatchReview, PcodeChange


@admin.register(GazetteerVersion)
class GazetteerVersionAdmin(admin.ModelAdmin):
    list_display = ("country_iso3", "edition", "valid_from", "source_format", "is_current", "area_count")
    list_filter = ("is_current", "source_format")
    search_fields = ("country_iso3", "edition")


@admin.register(AdminArea)
class AdminAreaAdmin(admin.ModelAdmin):
    list_display = ("pcode", "name", "level", "country_iso3", "version")
    list_filter = ("level", "country_iso3")
    search_fields = ("pcode", "name", "name_normalized")
    raw_id_fields = ("parent", "version")
    exclude = ("geometry",)


@admin.register(PcodeChange)
class PcodeChangeAdmin(admin.ModelAdmin):
    list_display = ("pcode", "change", "old_name", "new_name", "old_parent", "new_parent", "to_version")
    list_filter = ("change",)


@admin.register(AreaCrosswalk)
class AreaCrosswalkAdmin(admin.ModelAdmin):
    list_display = ("old_pcode", "new_pcode", "method", "weight", "from_version", "to_version")


@admin.register(AreaAlias)
class AreaAliasAdmin(admin.ModelAdmin):
    list_display = ("name", "pcode", "level", "country_iso3", "parent_pcode", "source")
    search_fields = ("name", "pcode")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "type", "country_iso3", "admin2_code", "pcode_mismatch")
    list_filter = ("type", "pcode_mismatch", "country_iso3")
    search_fields = ("code", "name")


@admin.register(MatchReview)
class MatchReviewAdmin(admin.ModelAdmin):
    list_display = (
        "provider_name",
        "country_iso3",
        "level",
        "parent_pcode",
        "match_status",
        "status",
        "occurrences",
    )
    list_filter = ("status", "country_iso3", "level")
