"""An officer computes weekly and monthly flow estimates from the count registry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from mobility.core.models import AuditEntry
from mobility.flows.estimates import PERIOD_UNKNOWN, estimates_compute, periods_between
from mobility.flows.models import FlowCount, FlowEstimate, FlowMonitoringPoint, FlowSurvey
from mobility.flows.services import summaries_rebuild

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2024, 3, 4)  # ISO week 10 of 2024
WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]


def _point(operation, code="MOZ-FMP-01", hours=range(8, 16), **extra) -> FlowMonitoringPoint:
    return FlowMonitoringPoint.objects.create(
        operation=operation,
        code=code,
        name="Ressano Garcia",
        country_iso3="MOZ",
        observed_days=[0, 1, 2, 3, 4, 5, 6],
        observed_hours=list(hours),
        **extra,
    )


_ids = iter(range(1, 10**6))


def _count(fmp, date, direction, individuals, hour_start=None, period_hours=1, **extra) -> FlowCount:
    return FlowCount.objects.create(
        operation=fmp.operation,
        fmp=fmp,
        record_id=f"R{next(_ids)}",
        date=date,
        hour_start=hour_start,
        period_hours=period_hours,
        direction=direction,
        individuals=individuals,
        **extra,
    )


def test_a_week_counted_every_hour_is_estimated_exactly(operation):
    fmp = _point(operation, hours=range(24))
    for day in WEEK:
        for hour in range(24):
            _count(fmp, day, "in", 3, hour_start=hour)
    summaries_rebuild(operation_id=operation.pk)

    assert estimates_compute(operation=operation, period="week") == 1
    estimate = FlowEstimate.objects.get()
    assert (estimate.period_start, estimate.period_end, estimate.direction) == (MONDAY, WEEK[-1], "in")
    assert estimate.observed == estimate.estimate == estimate.lower == estimate.upper == 7 * 24 * 3
    assert (estimate.coverage, estimate.hours_observed, estimate.hours_total) == (1.0, 168, 168)
    assert estimate.method == "exact"


def test_scheduled_hours_without_counts_are_observed_zeros_and_silent_days_are_unobserved(operation):
    # Schedule 08:00–16:00; counts at 09:00 and 13:00 only, Monday to Saturday; Sunday silent.
    fmp = _point(operation)
    for day in WEEK[:6]:
        _count(fmp, day, "in", 20, hour_start=9)
        _count(fmp, day, "in", 10, hour_start=13)
    # The team counted nobody leaving, but it was there: "out" is observed zero on the same hours.
    estimates_compute(operation=operation, period="week")

    inward = FlowEstimate.objects.get(direction="in")
    assert inward.hours_observed == 6 * 8 and inward.hours_total == 168
    assert inward.coverage == pytest.approx(48 / 168)
    assert inward.observed == 6 * 30
    assert inward.lower <= inward.estimate <= inward.upper
    assert inward.estimate > inward.observed  # Sunday and the nights are estimated …
    assert "nearest" in inward.method  # … and the nights rest on an assumption, which it says
    assert not FlowEstimate.objects.filter(direction="out").exists()  # never counted at this FMP


def test_a_direction_with_no_counts_on_a_reported_day_is_zero_there(operation):
    fmp = _point(operation, hours=range(24))
    _count(fmp, WEEK[0], "out", 1, hour_start=0)  # the FMP counts outflows too
    for day in WEEK:
        _count(fmp, day, "in", 5, hour_start=12)
    estimates_compute(operation=operation, period="week")
    out = FlowEstimate.objects.get(direction="out")
    # Every day reported (by the inflow counts) and the schedule is 24 h: all 168 hours observed.
    assert (out.hours_observed, out.observed, out.estimate, out.upper) == (168, 1, 1.0, 1.0)


def test_shift_totals_without_hours_cover_the_schedule(operation):
    fmp = _point(operation, hours=range(6, 18))
    for day in WEEK:
        _count(fmp, day, "in", 120, period_hours=12)  # a shift total, no hour recorded
    estimates_compute(operation=operation, period="week")
    estimate = FlowEstimate.objects.get()
    assert estimate.hours_observed == 7 * 12 and estimate.observed == 840


def test_a_survey_interview_marks_a_day_as_observed(operation):
    fmp = _point(operation)
    for day in WEEK[:6]:
        _count(fmp, day, "in", 8, hour_start=10)
    FlowSurvey.objects.create(operation=operation, fmp=fmp, record_id="S1", date=WEEK[6])
    estimates_compute(operation=operation, period="week")
    assert FlowEstimate.objects.get().hours_observed == 7 * 8


def test_a_rerun_updates_the_same_rows_with_the_same_interval(operation):
    fmp = _point(operation)
    for day in WEEK[:5]:
        _count(fmp, day, "in", 12, hour_start=9)
        _count(fmp, day, "out", 4, hour_start=11)
    _count(fmp, WEEK[0] + dt.timedelta(days=8), "in", 50, hour_start=9)  # the next week

    assert estimates_compute(operation=operation, period="week") == 4
    first = {
        (e.period_start, e.direction): (e.estimate, e.lower, e.upper) for e in FlowEstimate.objects.all()
    }
    assert estimates_compute(operation=operation, period="week") == 4
    again = {
        (e.period_start, e.direction): (e.estimate, e.lower, e.upper) for e in FlowEstimate.objects.all()
    }
    assert FlowEstimate.objects.count() == 4 and first == again

    # The second week's counts are deleted: its estimates go too.
    FlowCount.objects.filter(date__gt=WEEK[-1]).delete()
    assert estimates_compute(operation=operation, period="week") == 2
    assert set(FlowEstimate.objects.values_list("period_start", flat=True)) == {MONDAY}
    assert AuditEntry.objects.filter(action="flows.estimates.compute").count() == 3


def test_monthly_estimates_and_a_date_range(operation):
    fmp = _point(operation)
    other = _point(operation, code="MOZ-FMP-02")
    for day in (dt.date(2024, 2, 27), dt.date(2024, 3, 5), dt.date(2024, 4, 2)):
        _count(fmp, day, "in", 7, hour_start=10)
        _count(other, day, "in", 7, hour_start=10)

    written = estimates_compute(
        operation=operation,
        period="month",
        date_from=dt.date(2024, 3, 1),
        date_to=dt.date(2024, 3, 31),
        fmp_ids=[fmp.pk],
    )
    assert written == 1
    estimate = FlowEstimate.objects.get()
    assert (estimate.fmp, estimate.period_start, estimate.period_end) == (
        fmp,
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 31),
    )
    assert estimate.hours_total == 31 * 24 and estimate.hours_observed == 8


def test_a_period_other_than_week_or_month_is_refused(operation):
    with pytest.raises(ValidationError) as caught:
        estimates_compute(operation=operation, period="year")
    assert caught.value.messages == [PERIOD_UNKNOWN.format(period="year")]


def test_periods_are_iso_weeks_and_calendar_months():
    assert periods_between(dt.date(2024, 3, 6), dt.date(2024, 3, 12), "week") == [
        (dt.date(2024, 3, 4), dt.date(2024, 3, 10)),
        (dt.date(2024, 3, 11), dt.date(2024, 3, 17)),
    ]
    assert periods_between(dt.date(2024, 1, 31), dt.date(2024, 2, 1), "month") == [
        (dt.date(2024, 1, 1), dt.date(2024, 1, 31)),
        (dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    ]


def test_the_command_computes_and_reports(operation, capsys):
    fmp = _point(operation)
    for day in WEEK:
        _count(fmp, day, "in", 9, hour_start=10)
    call_command("flows", "estimate", "--operation", operation.slug, "--period", "week", "--fmp", fmp.code)
    out = capsys.readouterr().out
    assert "Wrote 1 weekly estimates" in out and "1 of them rest partly" in out
    assert FlowEstimate.objects.count() == 1


def test_the_command_names_an_unknown_point(operation):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No flow monitoring point NOPE"):
        call_command("flows", "estimate", "--operation", operation.slug, "--period", "week", "--fmp", "NOPE")
