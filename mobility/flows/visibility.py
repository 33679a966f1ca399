"""Who sees which flow figures: members see everything of their operation; everyone else sees only
the days of published periods (``FlowPublication``), with small breakdown cells suppressed.

Pages and the API both go through these two functions, so they can never disagree.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q

from mobility.core.permissions import Action, can

from .models import FlowPublication


def sees_unpublished(user, operation) -> bool:
    """Members of the operation (any role that may VIEW) read unpublished flow data."""
    return can(user, Action.VIEW, operation)


def published_dates_q(operation, field: str = "date") -> Q:
    """A filter keeping rows whose ``field`` lies in a published period of the operation.

    Matches nothing when the operation has published no period.
    """
    q = Q(pk__in=[])
    for date_from, date_to in FlowPublication.objects.filter(operation=operation).values_list(
        "date_from", "date_to"
    ):
        q |= Q(**{f"{field}__gte": date_from, f"{field}__lte": date_to})
    return q


def visible_q(user, operation, field: str = "date") -> Q:
    """Everything for members; published periods for everyone else."""
    return Q() if sees_unpublished(user, operation) else published_dates_q(operation, field)


def disclosure_threshold() -> int:
    return int(settings.MOBILITY["DISCLOSURE_THRESHOLD"])


def suppress_small(value: int | None, *, public: bool) -> int | None:
    """A breakdown cell for a public reader: ``None`` (suppressed) when 0 < value < threshold.

    Totals per FMP, day and direction are not suppressed (they are counts at a public place, not
    a profile of people); breakdowns by nationality, origin or destination are, because a cell of
    one or two people can point to someone.
    """
    if not public or value is None or value == 0 or value >= disclosure_threshold():
        return value
    return None


# --- whole months (the per-FMP breakdowns are monthly) -------------------------------------------

Interval = tuple[dt.date, dt.date]


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    if day.month == 12:
        return day.replace(day=31)
    return day.replace(month=day.month + 1, day=1) - dt.timedelta(days=1)


def _first_whole(day: dt.date) -> dt.date | None:
    """The first day of the first whole month from ``day`` on (None past the calendar's end)."""
    if day.day == 1:
        return day
    end = _month_end(day)
    return None if end == dt.date.max else end + dt.timedelta(days=1)


def _last_whole(day: dt.date) -> dt.date | None:
    """The first day of the last whole month up to ``day`` (None before the calendar's start)."""
    start = _month_start(day)
    if day == _month_end(day):
        return start
    return None if start == dt.date.min else (start - dt.timedelta(days=1)).replace(day=1)


def merged(intervals) -> list[Interval]:
    """Date intervals (inclusive) merged where they overlap or touch, in order."""
    out: list[list[dt.date]] = []
    for low, high in sorted(intervals):
        if out and low <= out[-1][1] + dt.timedelta(days=1):
            out[-1][1] = max(out[-1][1], high)
        else:
            out.append([low, high])
    return [(low, high) for low, high in out]


def readable_intervals(user, operation) -> list[Interval] | None:
    """The days the user may read flows of: None for members (every day), else the published periods."""
    if sees_unpublished(user, operation):
        return None
    return merged(FlowPublication.objects.filter(operation=operation).values_list("date_from", "date_to"))


def split_months(
    date_from: dt.date | None, date_to: dt.date | None, intervals: list[Interval] | None
) -> tuple[list[Interval], list[Interval]]:
    """The readable days of [date_from, date_to] as (whole months, other days).

    Whole months are (first month's first day, last month's first day) ranges, read from the monthly
    breakdowns; the other days (a month only partly asked for or partly readable) are date ranges
    read from the counts. ``intervals`` None means every day is readable.
    """
    low = date_from or dt.date.min
    high = date_to or dt.date.max
    spans = [(low, high)] if intervals is None else [(max(a, low), min(b, high)) for a, b in intervals]
    months: list[Interval] = []
    days: list[Interval] = []
    for a, b in merged((a, b) for a, b in spans if a <= b):
        first, last = _first_whole(a), _last_whole(b)
        if first is None or last is None or last < first:
            days.append((a, b))
            continue
        months.append((first, last))
        if a < first:
            days.append((a, first - dt.timedelta(days=1)))
        if b > _month_end(last):
            days.append((_month_end(last) + dt.timedelta(days=1), b))
    return months, days


def ranges_q(ranges: list[Interval], field: str) -> Q:
    """Rows whose ``field`` lies in one of the ranges (nothing when there is none)."""
    q = Q(pk__in=[])
    for low, high in ranges:
        bounds = {}
        if low > dt.date.min:
            bounds[f"{field}__gte"] = low
        if high < dt.date.max:
            bounds[f"{field}__lte"] = high
        q |= Q(**bounds)
    return q
