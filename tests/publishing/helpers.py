"""Test helpers for the public read APIs: published cells straight from assessments, or the real publish."""

from __future__ import annotations

import pytest

from mobility.core.models import Round
from mobility.gazetteer.models import AdminArea
from mobility.gazetteer.services.versions import countries
from mobility.publishing.models import PublishedCell, Release
from mobility.tracking.models import Assessment


def release_publish_or_skip():
    """publishing.services.release_publish, or skip: it is written by another part of issue 4."""
    try:
        from mobility.publishing.services import release_publish
    except ImportError:
        pytest.skip("mobility.publishing.services.release_publish does not exist yet")
    return release_publish


def publish_all(*, threshold: int | None = None) -> list[Release]:
    """Publish every round that has assessments, through the real publishing service."""
    release_publish = release_publish_or_skip()
    kwargs = {} if threshold is None else {"threshold": threshold}
    from mobility.tracking.ops import round_to_validating

    return [
        release_publish(
            round=round_to_validating(round=r), source_note="IOM DTM (tests)", confirm=True, **kwargs
        )
        for r in Round.objects.filter(assessments__isnull=False).distinct()
    ]


def cells_from_assessments(round_: Round, *, suppress_below: int = 0) -> Release:
    """A current release of the round whose cells copy its figures and parts (no disclosure logic)."""
    release = Release.objects.create(
        operation=round_.operation, round=round_, reporting_round=round_.number, source_note="tests"
    )
    names = dict(AdminArea.objects.filter(version__is_current=True).values_list("pcode", "name"))
    cells = []
    for a in Assessment.objects.filter(round=round_).prefetch_related("figures__breakdowns"):
        common = dict(
            release=release,
            assessment_type=a.assessment_type,
            country_iso3=a.country_iso3,
            location_name=countries().get(a.country_iso3, ("", a.country_iso3))[1],
            admin_level=a.admin_level,
            admin1_code=a.admin1_code,
            admin1_name=names.get(a.admin1_code, ""),
            admin2_code=a.admin2_code,
            admin2_name=names.get(a.admin2_code, ""),
            provider_admin1_name=a.provider_admin1_name,
            provider_admin2_name=a.provider_admin2_name,
            reporting_date=a.reporting_date,
            reference_period_start=round_.start_date,
            reference_period_end=round_.end_date,
        )
        for f in a.figures.all():
            small = f.individuals < suppress_below
            cells.append(
                PublishedCell(
                    **common,
                    population_group=f.population_group,
                    individuals=None if small else f.individuals,
                    males=f.males,
                    females=f.females,
                    suppressed=small,
                    suppression="primary" if small else "",
                )
            )
            for p in f.breakdowns.all():
                cells.append(
                    PublishedCell(
                        **common,
                        population_group=f.population_group,
                        breakdown=PublishedCell.Breakdown.REASON,
                        displacement_reason=p.displacement_reason,
                        provider_reason=p.provider_reason,
                        origin_admin1_code=p.origin_admin1_code,
                        origin_admin1_name=p.origin_admin1_name,
                        individuals=p.individuals,
                        males=p.males,
                        females=p.females,
                        source_ref=p.source_ref[:64],
                    )
                )
    PublishedCell.objects.bulk_create(cells)
    return release
