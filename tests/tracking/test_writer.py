"""Rows that split one place-round into parts are summed once; re-writing changes nothing; levels never add up twice."""

import datetime as dt

import pytest

from mobility.core.models import PopulationGroup
from mobility.core.services import round_create
from mobility.tracking.analytics import ANALYTICS_DISAGREE
from mobility.tracking.models import AreaFigure, Assessment, FigureBreakdown, PopulationFigure
from mobility.tracking.records import AssessmentRecord, BreakdownPart, RecordBuilder
from mobility.tracking.services import assessments_write

pytestmark = pytest.mark.django_db
IDP = PopulationGroup.IDP


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


def record(round_, level, codes, **kw):
    return AssessmentRecord(
        operation_id=round_.operation_id,
        round_id=round_.pk,
        assessment_type="BA",
        place_key=codes[-1] if codes else "MOZ",
        country_iso3="MOZ",
        admin_level=level,
        reporting_date=dt.date(2026, 1, 31),
        **{f"admin{i + 1}_code": c for i, c in enumerate(codes)},
        **kw,
    )


def dtm_like_rows(round_):
    """Ancuabe reported as three rows (reason × origin), Balama as one: DTM API v3 style."""
    builder = RecordBuilder()
    rows = [
        (["MZ01", "MZ0101"], "conflict", "MZ01", 100, 40, 60),
        (["MZ01", "MZ0101"], "conflict", "MZ07", 50, 20, 30),
        (["MZ01", "MZ0101"], "natural_disaster", "MZ01", 7, None, None),
        (["MZ01", "MZ0102"], "conflict", "MZ01", 30, 10, 20),
    ]
    for codes, reason, origin, n, m, f in rows:
        rec = builder.record(record(round_, 2, codes))
        builder.add_figure(
            rec,
            population_group=IDP,
            individuals=n,
            males=m,
            females=f,
            part=BreakdownPart(
                displacement_reason=reason, origin_admin1_code=origin, individuals=n, males=m, females=f
            ),
        )
    return builder.results()


def test_split_rows_make_one_figure_with_parts(round1):
    counts = assessments_write(records=dtm_like_rows(round1))
    assert (counts.created, counts.updated, counts.unchanged) == (2, 0, 0)
    ancuabe = PopulationFigure.objects.get(assessment__place_key="MZ0101")
    assert ancuabe.individuals == 157
    assert ancuabe.males is None  # one part had no sex split: the sum is not known
    assert sorted(ancuabe.breakdowns.values_list("individuals", flat=True)) == [7, 50, 100]
    assert FigureBreakdown.objects.count() == 4
    cells = {(c.admin_level, c.pcode): c.individuals for c in AreaFigure.objects.all()}
    assert cells == {(2, "MZ0101"): 157, (2, "MZ0102"): 30, (1, "MZ01"): 187, (0, "MOZ"): 187}


def test_writing_the_same_records_again_changes_nothing(round1):
    assessments_write(records=dtm_like_rows(round1))
    counts = assessments_write(records=dtm_like_rows(round1))
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 2)
    assert Assessment.objects.count() == 2 and PopulationFigure.objects.count() == 2


def test_a_changed_figure_updates_in_place(round1):
    assessments_write(records=dtm_like_rows(round1))
    records = dtm_like_rows(round1)
    records[1].figures[IDP].individuals = 31
    records[1].figures[IDP].parts[0].individuals = 31
    counts = assessments_write(records=records)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    assert AreaFigure.objects.get(pcode="MOZ").individuals == 188


def test_a_reported_total_is_not_added_to_its_parts(round1):
    records = dtm_like_rows(round1)
    builder = RecordBuilder()
    total = builder.record(record(round1, 0, []))
    builder.add_figure(total, population_group=IDP, individuals=200)
    counts = assessments_write(records=records + builder.results())
    assert AreaFigure.objects.get(pcode="MOZ").individuals == 200  # reported, not 200 + 187
    assert AreaFigure.objects.get(pcode="MZ01").individuals == 187
    assert counts.summary["analytics_warnings"] == [
        ANALYTICS_DISAGREE.format(round=1, group=IDP, pcode="MOZ", reported=200, children=187)
    ]


def test_a_published_round_is_never_changed_in_place(round1):
    from mobility.core.imports import ImportFailed
    from mobility.core.services import round_advance
    from mobility.tracking.services import ROUND_CLOSED

    assessments_write(records=dtm_like_rows(round1))
    for state in ("collecting", "validating", "published"):
        round_advance(round=round1, to=state)
    assert assessments_write(records=dtm_like_rows(round1)).unchanged == 2  # a re-run is still fine
    records = dtm_like_rows(round1)
    records[0].figures[IDP].individuals += 1
    with pytest.raises(ImportFailed) as err:
        assessments_write(records=records)
    assert str(err.value) == ROUND_CLOSED.format(number=1, operation=round1.operation, status="published")
