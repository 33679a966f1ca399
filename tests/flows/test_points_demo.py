"""The demo corridor: four real places of Cabo Delgado, counts only in observed hours, stored once."""

from __future__ import annotations

import pytest

from mobility.flows.demo import CORRIDOR, DAYS, START, flows_demo
from mobility.flows.models import Corridor, FlowCount, FlowDaily, FlowMonitoringPoint, FlowSurvey

pytestmark = pytest.mark.django_db


def test_the_demo_is_real_shaped_and_stored_once(operation):
    first = flows_demo(operation)
    assert first["points_created"] == 4 and first["counts"] == first["counts_created"] > 5000
    assert first["surveys"] == first["surveys_created"] == 48
    corridor = Corridor.objects.get(operation=operation)
    assert corridor.name == CORRIDOR and corridor.points.count() == 4
    for point in FlowMonitoringPoint.objects.filter(operation=operation):
        counts = FlowCount.objects.filter(fmp=point)
        hours = set(counts.values_list("hour_start", flat=True))
        days = {d.weekday() for d in counts.values_list("date", flat=True)}
        assert hours <= set(point.observed_hours) and days <= set(point.observed_days), point.code
        assert counts.filter(direction="in").exists() and counts.filter(direction="out").exists()
        assert min(counts.values_list("date", flat=True)) >= START
        assert (max(counts.values_list("date", flat=True)) - START).days < DAYS
    nationalities = set(FlowCount.objects.values_list("nationality", flat=True))
    assert {"MOZ", "TZA", "MWI"} <= nationalities
    assert sum(FlowDaily.objects.values_list("individuals", flat=True)) == sum(
        FlowCount.objects.values_list("individuals", flat=True)
    )
    again = flows_demo(operation)
    assert (again["points_created"], again["counts_created"], again["surveys_created"]) == (0, 0, 0)
    assert FlowCount.objects.count() == first["counts"] and FlowSurvey.objects.count() == 48
