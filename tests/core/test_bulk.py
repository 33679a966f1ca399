"""core.bulk.rows_insert: the same rows as bulk_create would store, on every backend."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from mobility.core.bulk import rows_insert
from mobility.core.models import Round
from mobility.tracking.models import Assessment, PopulationFigure

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(operation):
    round_ = Round.objects.create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )
    return Assessment.objects.create(
        operation=operation,
        round=round_,
        assessment_type="BA",
        place_key="MZ01",
        country_iso3="MOZ",
        admin_level=1,
        reporting_date=dt.date(2026, 1, 31),
    )


def test_rows_insert_stores_json_dates_and_nulls(assessment):
    fields = (
        "assessment_id",
        "population_group",
        "individuals",
        "households",
        "sadd",
        "shelter",
        "displacement_start",
    )
    rows = [
        (assessment.pk, "IDP", 120, None, {"female_0-4": 3}, {}, dt.date(2025, 12, 1)),
        (assessment.pk, "HOST", 0, 4, {}, {"camp": 5}, None),
    ]
    assert rows_insert(PopulationFigure, fields, iter(rows), batch_size=1) == 2
    stored = {f.population_group: f for f in PopulationFigure.objects.filter(assessment=assessment)}
    assert stored["IDP"].sadd == {"female_0-4": 3} and stored["IDP"].households is None
    assert stored["IDP"].displacement_start == dt.date(2025, 12, 1)
    assert stored["HOST"].shelter == {"camp": 5} and stored["HOST"].households == 4


def test_rows_insert_keeps_database_constraints(assessment):
    fields = ("assessment_id", "population_group", "individuals", "sadd", "shelter")
    rows_insert(PopulationFigure, fields, [(assessment.pk, "IDP", 1, {}, {})])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(PopulationFigure, fields, [(assessment.pk, "IDP", 2, {}, {})])  # one figure per group
    assert PopulationFigure.objects.get(assessment=assessment).individuals == 1


def test_rows_insert_of_nothing_writes_nothing(assessment):
    assert rows_insert(PopulationFigure, ("assessment_id", "population_group", "individuals"), []) == 0
