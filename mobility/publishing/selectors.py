"""Reads of releases and published cells. Public readers only ever see cells of current releases."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from mobility.core.models import Operation

from .models import PublishedCell, Release


def release_list(
    *, operation: Operation | None = None, public: bool = True, reporting_round: int | None = None
) -> QuerySet[Release]:
    """Releases, newest round and version first; ``public`` keeps only current ones."""
    qs = Release.objects.select_related("operation", "round", "published_by").annotate(
        cell_count=Count("cells"), suppressed_count=Count("cells", filter=Q(cells__suppressed=True))
    )
    if operation is not None:
        qs = qs.filter(operation=operation)
    if reporting_round is not None:
        qs = qs.filter(reporting_round=reporting_round)
    if public:
        qs = qs.filter(status=Release.Status.CURRENT)
    return qs.order_by("operation__name", "-reporting_round", "-version")


def release_current(*, operation: Operation, reporting_round: int) -> Release | None:
    return Release.objects.filter(
        operation=operation, reporting_round=reporting_round, status=Release.Status.CURRENT
    ).first()


def published_cells(
    *,
    release: Release | None = None,
    operation: Operation | None = None,
    breakdown: str | None = PublishedCell.Breakdown.TOTAL,
    admin_level: int | None = None,
    population_group: str | None = None,
    assessment_type: str | None = None,
    sites: bool | None = False,
    current_only: bool = True,
) -> QuerySet[PublishedCell]:
    """Published cells. Area totals by default: ``breakdown=""`` and no location code.

    ``sites=True`` gives site-level cells (``location_code`` set), ``None`` both; ``breakdown`` may
    be "sex_age" or "reason" or None (all).
    """
    qs = PublishedCell.objects.all()
    if release is not None:
        qs = qs.filter(release=release)
    if operation is not None:
        qs = qs.filter(release__operation=operation)
    if current_only:
        qs = qs.filter(release__status=Release.Status.CURRENT)
    if breakdown is not None:
        qs = qs.filter(breakdown=breakdown)
    if admin_level is not None:
        qs = qs.filter(admin_level=admin_level)
    if population_group:
        qs = qs.filter(population_group=population_group)
    if assessment_type:
        qs = qs.filter(assessment_type=assessment_type)
    if sites is True:
        qs = qs.exclude(location_code="")
    elif sites is False and breakdown == PublishedCell.Breakdown.TOTAL:
        qs = qs.filter(location_code="")
    return qs.order_by(
        "assessment_type",
        "population_group",
        "admin_level",
        "admin1_code",
        "admin2_code",
        "admin3_code",
        "location_code",
        "band",
        "id",
    )
