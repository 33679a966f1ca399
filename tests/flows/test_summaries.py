"""The summary tables agree with the registry after a rebuild, in scope and out of it."""

import datetime as dt

import pytest

from mobility.flows.models import FlowBreakdown, FlowCount, FlowDaily, FlowMonitoringPoint
from mobility.flows.services import summaries_rebuild

pytestmark = pytest.mark.django_db

D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)


def _count(fmp, record_id, date, direction, individuals, **extra):
    return FlowCount.objects.create(
        operation=fmp.operation,
        fmp=fmp,
        record_id=record_id,
        date=date,
        direction=direction,
        individuals=individuals,
        **extra,
    )


def test_rebuild_sums_counts_per_day_direction_and_dimension(operation):
    fmp = FlowMonitoringPoint.objects.create(
        operation=operation, code="F1", name="Ressano", country_iso3="MOZ"
    )
    other = FlowMonitoringPoint.objects.create(
        operation=operation, code="F2", name="Negomano", country_iso3="MOZ"
    )
    _count(fmp, "1", D1, "in", 10, nationality="ZAF", males_18_59=4, females_18_59=5, pregnant_women=1)
    _count(fmp, "2", D1, "in", 3, nationality="MOZ", males_0_4=1, females_60=2)
    _count(fmp, "3", D1, "out", 7, nationality="ZAF")
    _count(fmp, "4", D2, "in", 1, nationality="ZAF")
    _count(other, "1", D1, "in", 100, nationality="TZA")

    written = summaries_rebuild(operation_id=operation.pk)

    day = FlowDaily.objects.get(fmp=fmp, date=D1, direction="in")
    assert (day.records, day.individuals, day.males, day.females, day.children, day.older) == (
        2,
        13,
        5,
        7,
        1,
        2,
    )
    assert day.pregnant_women == 1
    assert FlowDaily.objects.count() == 4 == written["daily"]
    nat = dict(
        FlowBreakdown.objects.filter(fmp=fmp, month=D1, direction="in", dimension="nationality").values_list(
            "value", "individuals"
        )
    )
    assert nat == {"ZAF": 11, "MOZ": 3}  # per month: D1's 10 and D2's 1

    # A scoped rebuild touches only its scope: change F1 on D1 and rebuild F1 on D1 alone.
    FlowCount.objects.filter(fmp=fmp, record_id="3").update(individuals=8)
    FlowCount.objects.filter(fmp=other).update(individuals=1)  # out of scope: must stay 100
    summaries_rebuild(operation_id=operation.pk, fmp_ids=[fmp.pk], date_from=D1, date_to=D1)
    assert FlowDaily.objects.get(fmp=fmp, date=D1, direction="out").individuals == 8
    assert FlowDaily.objects.get(fmp=other, date=D1).individuals == 100
    assert FlowDaily.objects.get(fmp=fmp, date=D2).individuals == 1

    # Deleted counts disappear from the summaries.
    FlowCount.objects.filter(fmp=fmp, date=D2).delete()
    summaries_rebuild(operation_id=operation.pk, fmp_ids=[fmp.pk])
    assert not FlowDaily.objects.filter(fmp=fmp, date=D2).exists()
    # (D1 and D2 share a month: the breakdowns of the month keep D1's rows alone.)
    assert (
        sum(
            FlowBreakdown.objects.filter(fmp=fmp, month=D1, dimension="nationality").values_list(
                "records", flat=True
            )
        )
        == FlowCount.objects.filter(fmp=fmp).count()
    )
