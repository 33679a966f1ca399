"""Admin: releases and their cells, read-only (publishing goes through the publish page or the CLI)."""

from django.contrib import admin

from .models import PublishedCell, Release


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = (
        "operation",
        "reporting_round",
        "version",
        "status",
        "threshold",
        "published_at",
        "published_by",
    )
    list_filter = ("status", "operation")
    search_fields = ("operation__name", "change_note")


@admin.register(PublishedCell)
class PublishedCellAdmin(ReadOnlyAdmin):
    list_display = (
        "release",
        "assessment_type",
        "population_group",
        "admin_level",
        "admin1_code",
        "admin2_code",
        "location_code",
        "breakdown",
        "band",
        "individuals",
        "suppressed",
    )
    list_filter = ("breakdown", "suppressed", "admin_level", "population_group")
    search_fields = ("admin1_code", "admin2_code", "location_code")
    list_select_related = ("release__operation",)
