"""Reads of the flows pages: points, series, breakdowns, estimates, corridor balance, origin–destination.

Every function takes the reading ``user`` and goes through ``visibility``: members of the operation
read every day (unpublished days are flagged ``published=False`` so pages can mark them as drafts);
everyone else reads only the days of published periods, with small breakdown cells suppressed.
Series and balances read the summary tables (``FlowDaily``, ``FlowBreakdown``, and
``FlowBreakdownTotal`` for breakdowns over the whole operation); only the
origin–destination fallback reads the raw counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.db.models import Count, Max, Min, Q, Sum
from django.utils.translation import gettext as _

from mobility.core.models import Operation
from mobility.core.permissions import Action, operations_for
from mobility.gazetteer.services.versions import countries as iso_countries

from .models import (
    Corridor,
    Direction,
    FlowBreakdown,
    FlowBreakdownTotal,
    FlowCount,
    FlowDaily,
    FlowEstimate,
    FlowMonitoringPoint,
    FlowMonthly,
    FlowPublication,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from .visibility import (
    ranges_q,
    readable_intervals,
    sees_unpublished,
    split_months,
    suppress_small,
    visible_q,
)

BREAKDOWN_TOP = 10
DIRECTIONS = [Direction.IN.value, Direction.OUT.value]
# The world layer the maps draw (Natural Earth 110m, see its SOURCES.md): also where flow lines end.
COUNTRIES_STATIC = "restrictions/countries-110m.geojson"
COUNTRIES_LAYER = Path(__file__).resolve().parents[1] / "restrictions" / "static" / COUNTRIES_STATIC


@lru_cache(maxsize=1)
def country_points() -> dict[str, tuple[float, float]]:
    """A label point (lat, lon) per ISO3 code of the world layer, read once per process."""
    with COUNTRIES_LAYER.open(encoding="utf-8") as fh:
        layer = json.load(fh)
    return {
        f["properties"]["iso3"]: (f["properties"]["lat"], f["properties"]["lon"]) for f in layer["features"]
    }


def country_label(iso3: str) -> str:
    """A country's English name, or its code when the ISO table does not know it."""
    entry = iso_countries().get((iso3 or "").upper())
    return entry[1] if entry else iso3


# --- who reads what ------------------------------------------------------------------------------


def flow_operations(user) -> list[Operation]:
    """Operations whose flow pages the user may open: their own, then those with a published period."""
    mine = list(operations_for(user, Action.VIEW).order_by("name"))
    public = (
        Operation.objects.filter(flow_publications__isnull=False)
        .exclude(pk__in=[o.pk for o in mine])
        .distinct()
        .order_by("name")
    )
    return mine + list(public)


def may_open(user, operation: Operation) -> bool:
    """Members always; others when the operation has published some flow data."""
    return sees_unpublished(user, operation) or FlowPublication.objects.filter(operation=operation).exists()


@dataclass
class Published:
    """The published periods of an operation, to flag draft days for members."""

    ranges: list[tuple[dt.date, dt.date]]

    @classmethod
    def of(cls, operation: Operation) -> Published:
        return cls(
            list(FlowPublication.objects.filter(operation=operation).values_list("date_from", "date_to"))
        )

    def day(self, day: dt.date) -> bool:
        return any(a <= day <= b for a, b in self.ranges)

    def period(self, start: dt.date, end: dt.date) -> bool:
        return any(a <= start and end <= b for a, b in self.ranges)


def _daily(operation: Operation, user):
    return FlowDaily.objects.filter(operation=operation).filter(visible_q(user, operation))


def _range_q(date_from: dt.date | None, date_to: dt.date | None, field_name: str = "date") -> Q:
    q = Q()
    if date_from:
        q &= Q(**{f"{field_name}__gte": date_from})
    if date_to:
        q &= Q(**{f"{field_name}__lte": date_to})
    return q


def date_span(*, operation: Operation, user, fmp_ids=None) -> tuple[dt.date | None, dt.date | None]:
    """First and last day with counts the user may read (for the default date range)."""
    qs = _daily(operation, user)
    if fmp_ids is not None:
        qs = qs.filter(fmp_id__in=list(fmp_ids))
    span = qs.aggregate(first=Min("date"), last=Max("date"))
    return span["first"], span["last"]


# --- the points ----------------------------------------------------------------------------------


@dataclass
class PointRow:
    fmp: FlowMonitoringPoint
    last_count: dt.date | None = None
    records: int = 0
    individuals: int = 0


def fmp_list(*, operation: Operation, user) -> list[PointRow]:
    """Every point of the operation with its last visible count date and totals.

    Whole readable months come from ``FlowMonthly`` (a row per point and month); the days of a
    month only partly published, from ``FlowDaily``.
    """
    points = (
        FlowMonitoringPoint.objects.filter(operation=operation).select_related("corridor").order_by("code")
    )
    months, days = split_months(None, None, readable_intervals(user, operation))
    totals: dict[int, list] = {}

    def add(qs, last_field: str) -> None:
        for fmp_id, last, records, individuals in (
            qs.values("fmp_id")
            .annotate(last=Max(last_field), records=Sum("records"), individuals=Sum("individuals"))
            .values_list("fmp_id", "last", "records", "individuals")
        ):
            t = totals.setdefault(fmp_id, [None, 0, 0])
            t[0] = last if t[0] is None else max(t[0], last)
            t[1] += records or 0
            t[2] += individuals or 0

    if months:
        add(FlowMonthly.objects.filter(ranges_q(months, "month"), operation=operation), "last_date")
    if days:
        add(FlowDaily.objects.filter(ranges_q(days, "date"), operation=operation), "date")
    rows = []
    for fmp in points:
        last, records, individuals = totals.get(fmp.pk, (None, 0, 0))
        rows.append(PointRow(fmp=fmp, last_count=last, records=records, individuals=individuals))
    return rows


# --- series --------------------------------------------------------------------------------------


@dataclass
class Series:
    """Individuals per period and direction; ``None`` where nobody counted that period."""

    period: str
    labels: list[str] = field(default_factory=list)
    values: dict[str, list[int | None]] = field(default_factory=dict)
    published: list[bool] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "period": self.period,
            "labels": self.labels,
            "series": [{"direction": d, "values": self.values[d]} for d in DIRECTIONS],
            "published": self.published,
        }


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def flow_series(
    *,
    operation: Operation,
    user,
    fmp_ids,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    period: str = "daily",
) -> Series:
    """Individuals in and out per day (or per week starting Monday) over the FMPs, gaps where none counted."""
    rows = (
        _daily(operation, user)
        .filter(fmp_id__in=list(fmp_ids))
        .filter(_range_q(date_from, date_to))
        .values("date", "direction")
        .annotate(individuals=Sum("individuals"))
        .order_by("date")
    )
    by_key: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DIRECTIONS, 0))
    for row in rows:
        key = _week_start(row["date"]) if period == "weekly" else row["date"]
        by_key[key][row["direction"]] += row["individuals"] or 0
    series = Series(period=period, values={d: [] for d in DIRECTIONS}, totals=dict.fromkeys(DIRECTIONS, 0))
    if not by_key:
        return series
    published = Published.of(operation)
    step = dt.timedelta(days=7 if period == "weekly" else 1)
    day, last = min(by_key), max(by_key)
    while day <= last:
        counted = by_key.get(day)
        series.labels.append(day.isoformat())
        end = day + step - dt.timedelta(days=1)
        series.published.append(published.period(day, end) if period == "weekly" else published.day(day))
        for d in DIRECTIONS:
            value = counted[d] if counted is not None else None
            series.values[d].append(value)
            series.totals[d] += value or 0
        day += step
    return series


# --- breakdowns ----------------------------------------------------------------------------------

_CHOICE_LABELS = {
    FlowBreakdown.Dimension.REASON: dict(MovementReason.choices),
    FlowBreakdown.Dimension.TRANSPORT: dict(TransportMode.choices),
    FlowBreakdown.Dimension.DURATION: dict(IntendedDuration.choices),
}
_COUNTRY_DIMENSIONS = {
    FlowBreakdown.Dimension.NATIONALITY,
    FlowBreakdown.Dimension.FROM_COUNTRY,
    FlowBreakdown.Dimension.TO_COUNTRY,
}


def value_label(dimension: str, value: str) -> str:
    """A breakdown value as people read it: a country name, a reason's label, or the value itself."""
    if not value:
        return _("Not recorded")
    if dimension in _COUNTRY_DIMENSIONS:
        return country_label(value)
    labels = _CHOICE_LABELS.get(dimension)
    return str(labels.get(value, value)) if labels else value


@dataclass
class BreakdownRow:
    value: str
    label: str
    records: int
    individuals: int | None  # None: suppressed for a public reader
    share: float | None = None


@dataclass
class Breakdown:
    dimension: str
    label: str
    rows: list[BreakdownRow]
    total: int
    others: int  # values past the top rows (members only; 0 for public readers)
    suppressed: int


def _suppress(rows: list[BreakdownRow], *, public: bool) -> int:
    """Suppress small cells; when only one is hidden, hide the next smallest too (or the total gives it away)."""
    if not public:
        return 0
    hidden = 0
    for row in rows:
        shown = suppress_small(row.individuals, public=True)
        if shown is None and row.individuals:
            row.individuals, row.records = None, 0
            hidden += 1
    if hidden == 1:
        candidates = [r for r in rows if r.individuals]
        if candidates:
            smallest = min(candidates, key=lambda r: r.individuals)
            smallest.individuals, smallest.records = None, 0
            hidden += 1
    return hidden


def breakdown(
    *,
    operation: Operation,
    user,
    dimension: str,
    fmp_ids=None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    direction: str | None = None,
    top: int = BREAKDOWN_TOP,
) -> Breakdown:
    """The top values of one dimension over the FMPs and dates, largest first, small cells suppressed in public.

    ``fmp_ids=None`` is every FMP of the operation, read from the operation-wide sums.
    """
    sums = _breakdown_sums(
        operation=operation,
        user=user,
        dimension=dimension,
        fmp_ids=fmp_ids,
        date_from=date_from,
        date_to=date_to,
        direction=direction,
    )
    public = not sees_unpublished(user, operation)
    rows = [
        BreakdownRow(
            value=value, label=value_label(dimension, value), records=records, individuals=individuals
        )
        for value, (records, individuals) in sorted(sums.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]
    total = sum(r.individuals for r in rows)
    suppressed = _suppress(rows, public=public)
    shown = rows[:top]
    others = 0 if public else sum(r.individuals for r in rows[top:])
    for row in shown:
        row.share = round(100 * row.individuals / total, 1) if total and row.individuals is not None else None
    return Breakdown(
        dimension=dimension,
        label=str(FlowBreakdown.Dimension(dimension).label),
        rows=shown,
        total=total,
        others=others,
        suppressed=suppressed,
    )


def _breakdown_sums(
    *, operation: Operation, user, dimension: str, fmp_ids, date_from, date_to, direction
) -> dict[str, tuple[int, int]]:
    """value → (records, individuals) over the FMPs and the days the user may read.

    Operation-wide: the daily totals. Some FMPs: whole months from the monthly breakdowns, the
    other days (a month partly asked for, or partly published) from the counts of those days.
    """
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    same = Q(direction=direction) if direction else Q()

    def add(rows) -> None:
        for value, records, individuals in rows:
            cell = sums[value or ""]
            cell[0] += records or 0
            cell[1] += individuals or 0

    if fmp_ids is None:
        qs = FlowBreakdownTotal.objects.filter(same, operation=operation, dimension=dimension)
        qs = qs.filter(visible_q(user, operation)).filter(_range_q(date_from, date_to))
        add(
            qs.values("value").annotate(r=Sum("records"), i=Sum("individuals")).values_list("value", "r", "i")
        )
    else:
        ids = list(fmp_ids)
        months, days = split_months(date_from, date_to, readable_intervals(user, operation))
        if months:
            qs = FlowBreakdown.objects.filter(
                same, ranges_q(months, "month"), operation=operation, dimension=dimension, fmp_id__in=ids
            )
            add(
                qs.values("value")
                .annotate(r=Sum("records"), i=Sum("individuals"))
                .values_list("value", "r", "i")
            )
        if days:
            qs = FlowCount.objects.filter(same, ranges_q(days, "date"), operation=operation, fmp_id__in=ids)
            add(
                qs.values(dimension)
                .annotate(r=Count("id"), i=Sum("individuals"))
                .values_list(dimension, "r", "i")
            )
    return {value: (records, individuals) for value, (records, individuals) in sums.items()}


# --- estimates -----------------------------------------------------------------------------------


@dataclass
class EstimatePeriod:
    """One week or month of an FMP with its estimate per direction (either may be missing)."""

    period: str
    start: dt.date
    end: dt.date
    published: bool
    inflow: FlowEstimate | None = None
    outflow: FlowEstimate | None = None


def estimates_latest(*, fmp: FlowMonitoringPoint, user, period: str, limit: int = 6) -> list[EstimatePeriod]:
    """The newest ``limit`` weeks or months of estimates of an FMP, newest first.

    Public readers see a period only when one published period covers all of it (as in the API).
    """
    operation = fmp.operation
    qs = FlowEstimate.objects.filter(fmp=fmp, period=period)
    published = Published.of(operation)
    if not sees_unpublished(user, operation):
        inside = Q(pk__in=[])
        for a, b in published.ranges:
            inside |= Q(period_start__gte=a, period_end__lte=b)
        qs = qs.filter(inside)
    starts = list(qs.values_list("period_start", flat=True).distinct().order_by("-period_start")[:limit])
    rows: dict[dt.date, EstimatePeriod] = {}
    for e in qs.filter(period_start__in=starts).order_by("-period_start", "direction"):
        row = rows.setdefault(
            e.period_start,
            EstimatePeriod(
                period=period,
                start=e.period_start,
                end=e.period_end,
                published=published.period(e.period_start, e.period_end),
            ),
        )
        if e.direction == Direction.IN:
            row.inflow = e
        else:
            row.outflow = e
    return list(rows.values())


# --- corridor ------------------------------------------------------------------------------------


@dataclass
class BalancePoint:
    fmp: FlowMonitoringPoint
    inflow: int = 0
    outflow: int = 0
    records: int = 0
    last_count: dt.date | None = None

    @property
    def balance(self) -> int:
        return self.inflow - self.outflow


@dataclass
class CorridorBalance:
    days: list[dict]
    points: list[BalancePoint]
    inflow: int
    outflow: int
    unpublished_days: int

    @property
    def balance(self) -> int:
        return self.inflow - self.outflow

    def as_json(self) -> dict:
        return {
            "labels": [d["date"] for d in self.days],
            "inflow": [d["in"] for d in self.days],
            "outflow": [d["out"] for d in self.days],
            "balance": [d["balance"] for d in self.days],
            "published": [d["published"] for d in self.days],
        }


def corridor_balance(
    *, corridor: Corridor, user, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> CorridorBalance:
    """Per day: people in, out and the balance (in − out) over the corridor's FMPs; and per FMP."""
    operation = corridor.operation
    points = list(FlowMonitoringPoint.objects.filter(corridor=corridor).order_by("code"))
    qs = _daily(operation, user).filter(fmp__corridor=corridor).filter(_range_q(date_from, date_to))
    per_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DIRECTIONS, 0))
    for row in qs.values("date", "direction").annotate(n=Sum("individuals")).order_by("date"):
        per_day[row["date"]][row["direction"]] += row["n"] or 0
    by_point = {p.pk: BalancePoint(fmp=p) for p in points}
    for row in qs.values("fmp_id", "direction").annotate(
        n=Sum("individuals"), r=Sum("records"), last=Max("date")
    ):
        bp = by_point[row["fmp_id"]]
        if row["direction"] == Direction.IN:
            bp.inflow += row["n"] or 0
        else:
            bp.outflow += row["n"] or 0
        bp.records += row["r"] or 0
        bp.last_count = max(filter(None, [bp.last_count, row["last"]]), default=None)
    published = Published.of(operation)
    days = []
    for day in sorted(per_day):
        v = per_day[day]
        days.append(
            {
                "date": day.isoformat(),
                "in": v["in"],
                "out": v["out"],
                "balance": v["in"] - v["out"],
                "published": published.day(day),
            }
        )
    return CorridorBalance(
        days=days,
        points=list(by_point.values()),
        inflow=sum(d["in"] for d in days),
        outflow=sum(d["out"] for d in days),
        unpublished_days=sum(1 for d in days if not d["published"]),
    )


# --- origin–destination --------------------------------------------------------------------------


@dataclass
class OdRow:
    origin: str
    destination: str
    origin_label: str
    destination_label: str
    records: int
    individuals: int | None  # None: suppressed for a public reader


def _od_counts(
    *, operation: Operation, date_from, date_to, level: str, direction, fmp_ids, periods
) -> list[dict]:
    """origin, destination, records, individuals: the analytics module's query, else a small ORM one."""
    try:
        from .analytics import od_matrix
    except ImportError:  # a trimmed install without the analytics module
        od_matrix = None
    if od_matrix is not None:
        return list(
            od_matrix(
                operation_id=operation.pk,
                date_from=date_from,
                date_to=date_to,
                level=level,
                direction=direction,
                fmp_ids=fmp_ids,
                periods=periods,
            )
        )
    origin, destination = (
        ("from_admin1", "to_admin1") if level == "admin1" else ("from_country", "to_country")
    )
    qs = FlowCount.objects.filter(operation=operation).filter(_range_q(date_from, date_to))
    if periods is not None:
        inside = Q(pk__in=[])
        for a, b in periods:
            inside |= Q(date__gte=a, date__lte=b)
        qs = qs.filter(inside)
    if direction:
        qs = qs.filter(direction=direction)
    if fmp_ids is not None:
        qs = qs.filter(fmp_id__in=list(fmp_ids))
    return [
        {
            "origin": r[origin],
            "destination": r[destination],
            "records": r["records"],
            "individuals": r["individuals"],
        }
        for r in qs.values(origin, destination).annotate(records=Count("id"), individuals=Sum("individuals"))
    ]


def od_flows(
    *,
    operation: Operation,
    user,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    level: str = "country",
    direction: str | None = None,
    fmp_ids=None,
) -> list[OdRow]:
    """People counted per origin and destination, largest first; public readers get published days only."""
    public = not sees_unpublished(user, operation)
    rows = _od_counts(
        operation=operation,
        date_from=date_from,
        date_to=date_to,
        level=level,
        direction=direction,
        fmp_ids=fmp_ids,
        periods=Published.of(operation).ranges if public else None,
    )
    names = (
        _area_names([c for r in rows for c in (r["origin"], r["destination"])]) if level == "admin1" else {}
    )
    out = []
    for row in rows:
        origin, destination = row["origin"] or "", row["destination"] or ""
        shown = suppress_small(row["individuals"] or 0, public=public)
        out.append(
            OdRow(
                origin=origin,
                destination=destination,
                origin_label=_place_label(origin, level, names),
                destination_label=_place_label(destination, level, names),
                records=(row["records"] or 0) if shown is not None else 0,
                individuals=shown,
            )
        )
    out.sort(key=lambda r: (-(r.individuals or 0), r.origin, r.destination))
    return out


def _place_label(code: str, level: str, names: dict[str, str]) -> str:
    if not code:
        return _("Not recorded")
    return names.get(code, code) if level == "admin1" else country_label(code)


def _area_names(codes) -> dict[str, str]:
    from mobility.gazetteer.models import AdminArea

    codes = {c for c in codes if c}
    return dict(
        AdminArea.objects.filter(version__is_current=True, pcode__in=codes).values_list("pcode", "name")
    )


def place_points(codes, *, level: str) -> dict[str, tuple[float, float]]:
    """A point (lat, lon) per country or admin 1 code to draw flow lines between.

    Countries come from the world layer; admin 1 areas from the middle of their bounding box in the
    current gazetteer (areas without a boundary have no point and are left off the map).
    """
    codes = {c for c in codes if c}
    if level != "admin1":
        known = country_points()
        return {c: known[c] for c in codes if c in known}
    from mobility.gazetteer.models import AdminArea

    points = {}
    for pcode, a, b, c, d in AdminArea.objects.filter(
        version__is_current=True, pcode__in=codes, min_lon__isnull=False
    ).values_list("pcode", "min_lon", "min_lat", "max_lon", "max_lat"):
        points[pcode] = (round((b + d) / 2, 4), round((a + c) / 2, 4))
    return points
