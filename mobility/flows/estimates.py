"""Writes ``FlowEstimate`` rows: the estimated total flow per FMP, period and direction.

``estimates_compute`` reads the count registry (``FlowCount``, summed per FMP, date, hour,
period length and direction), turns each FMP's history into an observed hour grid, fits the FMP's
hour-of-day profile on all of it, and estimates every ISO week or calendar month in scope with
``estimation.estimate_total``. docs/flows-estimates.md states the model.

Which hours were observed (the rule, also in the docs):

* A day is **reported** when the FMP has at least one count on it, in either direction (a count of
  0 individuals included), or a flow survey interview (the team was there). A day with neither is
  unobserved: teams do not reliably record "nobody came", so silence is not taken for zero.
  A team that wants a quiet day counted records a row with 0 individuals.
* On a reported day, the FMP's scheduled hours (``observed_hours``) are observed: a scheduled
  hour with no count is an observed zero. Every hour a count covers is observed too (a count
  outside the schedule means the team was there).
* A count with ``period_hours`` > 1 covers that many hours from ``hour_start`` (past midnight into
  the next day); one with no ``hour_start`` covers the scheduled hours, or the whole day when the
  FMP has no schedule (see ``estimation.covered_hours``). Its individuals are spread evenly over
  the hours it covers.
* A direction is estimated only at FMPs that have counted it at least once.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import zlib
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from mobility.core.models import Operation
from mobility.core.services import audit_record

from .estimation import N_BOOT, NoObservation, Record, build_grid, estimate_total, profile_from_grid
from .models import FlowCount, FlowEstimate, FlowMonitoringPoint, FlowSurvey

PERIOD_UNKNOWN = "The period must be week or month, not {period!r}."
DATES_REVERSED = "The first day {date_from} is after the last day {date_to}."


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the ISO week (Monday) or calendar month holding ``day``."""
    if period == FlowEstimate.Period.WEEK:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(start: dt.date, period: str) -> dt.date:
    if period == FlowEstimate.Period.WEEK:
        return start + dt.timedelta(days=6)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def periods_between(first: dt.date, last: dt.date, period: str) -> list[tuple[dt.date, dt.date]]:
    """Every whole period that overlaps first..last, as (start, end)."""
    out = []
    start = period_start(first, period)
    while start <= last:
        end = period_end(start, period)
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


def _seed(fmp_id: int, period: str, start: dt.date, direction: str) -> int:
    """A fixed seed per estimate, so a re-run gives the same interval."""
    return zlib.crc32(f"{fmp_id}:{period}:{start.isoformat()}:{direction}".encode())


@transaction.atomic
def estimates_compute(
    *,
    operation: Operation,
    period: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fmp_ids=None,
    n_boot: int = N_BOOT,
    by=None,
) -> int:
    """Estimate every FMP × period × direction in scope; returns the rows written (created or updated).

    Periods are whole ISO weeks or calendar months overlapping date_from..date_to (default: the
    FMP's first to last count). A period with no observed hour gets no estimate, and an older
    estimate of it is removed, so the table always matches the registry.
    """
    if period not in FlowEstimate.Period.values:
        raise ValidationError(_(PERIOD_UNKNOWN).format(period=period))
    if date_from and date_to and date_from > date_to:
        raise ValidationError(_(DATES_REVERSED).format(date_from=date_from, date_to=date_to))
    points = FlowMonitoringPoint.objects.filter(operation=operation).order_by("pk")
    if fmp_ids is not None:
        points = points.filter(pk__in=list(fmp_ids))
    points = list(points)
    rows = (
        FlowCount.objects.filter(fmp__in=points)
        .values("fmp_id", "date", "hour_start", "period_hours", "direction")
        .annotate(individuals=Sum("individuals"))
        .order_by()
    )
    by_fmp: dict[int, list[dict]] = defaultdict(list)
    for row in rows.iterator(chunk_size=10_000):
        by_fmp[row["fmp_id"]].append(row)
    survey_days: dict[int, set[dt.date]] = defaultdict(set)
    for fmp_id, day in FlowSurvey.objects.filter(fmp__in=points).values_list("fmp_id", "date").distinct():
        survey_days[fmp_id].add(day)

    written = 0
    for fmp in points:
        written += _estimate_point(
            fmp, by_fmp.get(fmp.pk, []), survey_days.get(fmp.pk, set()), period, date_from, date_to, n_boot
        )
    audit_record(
        action="flows.estimates.compute",
        obj=operation,
        by=by,
        detail={
            "period": period,
            "from": date_from.isoformat() if date_from else None,
            "to": date_to.isoformat() if date_to else None,
            "fmps": len(points),
            "written": written,
        },
    )
    return written


def _estimate_point(fmp, rows, survey_days, period, date_from, date_to, n_boot) -> int:
    existing = {
        (e.period_start, e.direction): e
        for e in FlowEstimate.objects.filter(fmp=fmp, period=period)
        .filter(**({"period_end__gte": date_from} if date_from else {}))
        .filter(**({"period_start__lte": date_to} if date_to else {}))
    }
    if not rows:
        FlowEstimate.objects.filter(pk__in=[e.pk for e in existing.values()]).delete()
        return 0
    dates = [r["date"] for r in rows] + list(survey_days)
    first, last = min(dates), max(dates)
    scope_first, scope_last = date_from or first, date_to or last
    periods = periods_between(scope_first, scope_last, period)
    if not periods:
        return 0
    # The history grid spans the FMP's data and the periods in scope.
    grid_start = min(first, periods[0][0])
    grid_end = max(last, periods[-1][1])
    schedule = list(fmp.observed_hours or [])
    reports = [
        Record(date=r["date"], hour_start=r["hour_start"], period_hours=r["period_hours"]) for r in rows
    ]
    reports += [Record(date=day, hour_start=None, period_hours=1) for day in survey_days]
    directions = sorted({r["direction"] for r in rows})
    written = 0
    keep: set[tuple[dt.date, str]] = set()
    for direction in directions:
        counts = [
            Record(
                date=r["date"],
                hour_start=r["hour_start"],
                period_hours=r["period_hours"],
                individuals=float(r["individuals"] or 0),
            )
            for r in rows
            if r["direction"] == direction
        ]
        grid = build_grid(
            start=grid_start, end=grid_end, counts=counts, reports=reports, schedule_hours=schedule
        )
        profile = profile_from_grid(grid)
        for start, end in periods:
            try:
                result = estimate_total(
                    grid.window(start, end),
                    profile=profile,
                    n_boot=n_boot,
                    seed=_seed(fmp.pk, period, start, direction),
                )
            except NoObservation:
                continue
            keep.add((start, direction))
            estimate = existing.get((start, direction)) or FlowEstimate(
                operation_id=fmp.operation_id, fmp=fmp, period=period, period_start=start, direction=direction
            )
            estimate.period_end = end
            # Counts spread across a period boundary can leave a fraction; never store more than estimated.
            estimate.observed = int(math.floor(result.observed + 1e-6))
            estimate.estimate = result.estimate
            estimate.lower = result.lower
            estimate.upper = result.upper
            estimate.coverage = result.coverage
            estimate.hours_observed = result.hours_observed
            estimate.hours_total = result.hours_total
            estimate.method = result.method
            estimate.full_clean(validate_unique=False)
            estimate.save()
            written += 1
    stale = [e.pk for key, e in existing.items() if key not in keep]
    FlowEstimate.objects.filter(pk__in=stale).delete()
    return written
