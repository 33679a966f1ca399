"""Flow monitoring read API: /api/v1/flows/points, /daily, /breakdowns and /estimates.

HAPI conventions (``{"data": [...]}``, ``output_format=json|csv``, ``offset``/``limit`` ≤ 10,000).
Who sees what is decided in ``visibility`` only: anonymous callers and members of other
operations read the days of published periods (an estimate only when its whole week or month is
published), with small breakdown cells and vulnerability counts answered ``null`` and
``suppressed: true``; members of an operation (token or session) read all of it, unsuppressed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import Q, QuerySet
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from mobility.core.apitools import READ_AUTH, UNPROCESSABLE_EXTRA, PageParams, hapi_page
from mobility.core.models import Operation
from mobility.core.permissions import Action, operations_for

from .models import (
    FlowBreakdown,
    FlowBreakdownTotal,
    FlowDaily,
    FlowEstimate,
    FlowMonitoringPoint,
    FlowPublication,
)
from .visibility import (
    ranges_q,
    readable_intervals,
    sees_unpublished,
    split_months,
    suppress_small,
    visible_q,
)

router = Router(tags=["flows"])

POINT_FIELDS = [
    "operation",
    "location_code",
    "fmp_code",
    "fmp_name",
    "fmp_type",
    "border_location_code",
    "admin1_code",
    "admin2_code",
    "latitude",
    "longitude",
    "corridor",
    "movement_types",
    "observed_days",
    "observed_hours",
    "active",
]
VULNERABILITY = ["unaccompanied_children", "pregnant_women", "elderly", "disabilities"]
DAILY_FIELDS = [
    "operation",
    "location_code",
    "fmp_code",
    "fmp_name",
    "date",
    "direction",
    "records",
    "individuals",
    "males",
    "females",
    "children",
    "older",
    *VULNERABILITY,
    "suppressed",
]
BREAKDOWN_FIELDS = [
    "operation",
    "location_code",
    "fmp_code",
    "period",
    "date",
    "direction",
    "dimension",
    "value",
    "records",
    "individuals",
    "suppressed",
]
ESTIMATE_FIELDS = [
    "operation",
    "location_code",
    "fmp_code",
    "fmp_name",
    "period",
    "period_start",
    "period_end",
    "direction",
    "observed",
    "estimate",
    "lower",
    "upper",
    "coverage",
    "hours_observed",
    "hours_total",
    "method",
    "model_based",
]
# Methods whose interval rests on observed hours alone (estimation.METHOD_EXACT / METHOD_RATIO).
DATA_ONLY_METHODS = ("exact", "strata-ratio")


class FlowFilter(Schema):
    """What a reader of flow figures may ask for; one object for every flows endpoint."""

    operation: str | None = Field(None, description="operation slug, or part of its name (any case)")
    location_code: str | None = Field(None, description="ISO3 code of the FMP's country, e.g. SOM")
    fmp_code: str | None = Field(None, description="flow monitoring point code")
    direction: Literal["in", "out"] | None = Field(None, description="in (entering) or out (leaving)")
    start_date: dt.date | None = Field(
        None, description="from this day (for estimates: periods ending on or after)"
    )
    end_date: dt.date | None = Field(
        None, description="up to this day (for estimates: periods starting on or before)"
    )

    def operation_q(self) -> Q:
        if not self.operation:
            return Q()
        text = self.operation.strip()
        return Q(slug=text) | Q(name__icontains=text)

    def point_q(self, prefix: str = "") -> Q:
        q = Q()
        if self.location_code:
            q &= Q(
                **{
                    f"{prefix}country_iso3__in": {
                        self.location_code.strip(),
                        self.location_code.strip().upper(),
                    }
                }
            )
        if self.fmp_code:
            q &= Q(**{f"{prefix}code__iexact": self.fmp_code.strip()})
        return q

    def row_q(self, *, start_field: str = "date", end_field: str = "date") -> Q:
        q = self.point_q("fmp__")
        if self.direction:
            q &= Q(direction=self.direction)
        if self.start_date:
            q &= Q(**{f"{end_field}__gte": self.start_date})
        if self.end_date:
            q &= Q(**{f"{start_field}__lte": self.end_date})
        return q


class BreakdownFilter(FlowFilter):
    dimension: Literal[tuple(FlowBreakdown.Dimension.values)] | None = Field(  # type: ignore[valid-type]
        None, description="nationality, reason, transport, intended_duration, from_country, to_country, …"
    )
    level: Literal["fmp", "operation"] = Field(
        "fmp",
        description="fmp: a row per FMP and month (period=month, date = the month's first day; start_date "
        "and end_date select the months they touch); operation: a row per day summed over the operation's "
        "FMPs (period=day; fmp_code and location_code empty; not with an FMP filter)",
    )


class EstimateFilter(FlowFilter):
    period: Literal["week", "month"] | None = Field(None, description="week (ISO, Mon–Sun) or month")


def _readable(user, filters: FlowFilter) -> list[tuple[Operation, bool]]:
    """Operations the caller may read flows of, each with whether the caller sees it as the public."""
    member_ids = set(operations_for(user, Action.VIEW).values_list("pk", flat=True))
    published_ids = set(FlowPublication.objects.values_list("operation_id", flat=True).distinct())
    operations = Operation.objects.filter(filters.operation_q(), pk__in=member_ids | published_ids).order_by(
        "pk"
    )
    return [(op, not sees_unpublished(user, op)) for op in operations]


def _visible(user, readable: list[tuple[Operation, bool]], field: str = "date") -> Q:
    q = Q(pk__in=[])
    for operation, _public in readable:
        q |= Q(operation=operation) & visible_q(user, operation, field)
    return q


def _whole_months_visible(user, readable: list[tuple[Operation, bool]]) -> Q:
    """Monthly rows of members' operations, and of others the months published from first to last day."""
    q = Q(pk__in=[])
    for operation, _public in readable:
        months, _days = split_months(None, None, readable_intervals(user, operation))
        q |= Q(operation=operation) & ranges_q(months, "month")
    return q


def _whole_period_visible(readable: list[tuple[Operation, bool]]) -> Q:
    """Estimates of members' operations, and of others only when one publication covers the whole period."""
    ranges: dict[int, list[tuple[dt.date, dt.date]]] = {}
    for operation_id, date_from, date_to in FlowPublication.objects.filter(
        operation__in=[op for op, public in readable if public]
    ).values_list("operation_id", "date_from", "date_to"):
        ranges.setdefault(operation_id, []).append((date_from, date_to))
    q = Q(pk__in=[])
    for operation, public in readable:
        if not public:
            q |= Q(operation=operation)
            continue
        for date_from, date_to in ranges.get(operation.pk, []):
            q |= Q(operation=operation, period_start__gte=date_from, period_end__lte=date_to)
    return q


class _Rows:
    """Slices a values() queryset, then shapes each row (names, suppression) for the page."""

    def __init__(self, qs: QuerySet, shape):
        self.qs, self.shape = qs, shape

    def __getitem__(self, item: slice):
        return [self.shape(row) for row in self.qs[item]]


def _joined(values) -> str:
    return ",".join(str(v) for v in values or [])


@router.get("/points", auth=READ_AUTH, summary="Flow monitoring points")
def points(request, filters: Query[FlowFilter], page: Query[PageParams]):
    """FMPs of the operations the caller may read: with something published, or the caller's own."""
    readable = _readable(request.user, filters)
    qs = (
        FlowMonitoringPoint.objects.filter(filters.point_q(), operation__in=[op for op, _p in readable])
        .order_by("operation_id", "code", "pk")
        .values(
            "operation__slug",
            "country_iso3",
            "code",
            "name",
            "type",
            "border_country_iso3",
            "admin1_code",
            "admin2_code",
            "latitude",
            "longitude",
            "corridor__slug",
            "movement_types",
            "observed_days",
            "observed_hours",
            "active",
        )
    )

    def shape(row):
        return {
            "operation": row["operation__slug"],
            "location_code": row["country_iso3"],
            "fmp_code": row["code"],
            "fmp_name": row["name"],
            "fmp_type": row["type"],
            "border_location_code": row["border_country_iso3"] or None,
            "admin1_code": row["admin1_code"] or None,
            "admin2_code": row["admin2_code"] or None,
            "latitude": row["latitude"],
            "longitude": row["longitude"],
            "corridor": row["corridor__slug"],
            "movement_types": _joined(row["movement_types"]),
            "observed_days": _joined(row["observed_days"]),
            "observed_hours": _joined(row["observed_hours"]),
            "active": row["active"],
        }

    return hapi_page(_Rows(qs, shape), page, fields=POINT_FIELDS, filename="flow-points")


@router.get("/daily", auth=READ_AUTH, summary="Daily flow counts per FMP and direction")
def daily(request, filters: Query[FlowFilter], page: Query[PageParams]):
    """Records (rows counted) and individuals per FMP, day and direction, with sex/age and vulnerability sums."""
    readable = _readable(request.user, filters)
    public = {op.pk for op, is_public in readable if is_public}
    columns = ["records", "individuals", "males", "females", "children", "older", *VULNERABILITY]
    qs = (
        FlowDaily.objects.filter(_visible(request.user, readable), filters.row_q())
        .order_by("operation_id", "fmp_id", "date", "direction")
        .values(
            "operation_id",
            "operation__slug",
            "fmp__country_iso3",
            "fmp__code",
            "fmp__name",
            "date",
            "direction",
            *columns,
        )
    )

    def shape(row):
        is_public = row["operation_id"] in public
        out = {
            "operation": row["operation__slug"],
            "location_code": row["fmp__country_iso3"],
            "fmp_code": row["fmp__code"],
            "fmp_name": row["fmp__name"],
            "date": row["date"],
            "direction": row["direction"],
            **{c: row[c] for c in columns},
        }
        # Vulnerability counts describe people, so small ones are hidden from the public like breakdown cells.
        for name in VULNERABILITY:
            out[name] = suppress_small(row[name], public=is_public)
        out["suppressed"] = any(out[name] is None for name in VULNERABILITY)
        return out

    return hapi_page(_Rows(qs, shape), page, fields=DAILY_FIELDS, filename="flows-daily")


@router.get(
    "/breakdowns",
    auth=READ_AUTH,
    summary="Flows by nationality, reason, transport, origin, destination",
    openapi_extra=UNPROCESSABLE_EXTRA,  # level=operation with a point filter (LEVEL_WITH_POINT)
)
def breakdowns(request, filters: Query[BreakdownFilter], page: Query[PageParams]):
    """Per FMP and month (or, with level=operation, per operation and day), direction and dimension
    value; cells of fewer than the threshold are null for the public."""
    readable = _readable(request.user, filters)
    public = {op.pk for op, is_public in readable if is_public}
    if filters.level == "operation":
        return _operation_breakdowns(request, filters, page, readable, public)
    # Per FMP the rows are monthly: a month is shown whole or not at all (to the public, when one
    # or more publications cover all its days), and start/end dates select the months they touch.
    q = _whole_months_visible(request.user, readable) & filters.point_q("fmp__")
    if filters.direction:
        q &= Q(direction=filters.direction)
    if filters.start_date:
        q &= Q(month__gte=filters.start_date.replace(day=1))
    if filters.end_date:
        q &= Q(month__lte=filters.end_date)
    if filters.dimension:
        q &= Q(dimension=filters.dimension)
    qs = (
        FlowBreakdown.objects.filter(q)
        .order_by("operation_id", "fmp_id", "month", "direction", "dimension", "value")
        .values(
            "operation_id",
            "operation__slug",
            "fmp__country_iso3",
            "fmp__code",
            "month",
            "direction",
            "dimension",
            "value",
            "records",
            "individuals",
        )
    )

    return hapi_page(
        _Rows(qs, lambda row: _breakdown_row(row, public)),
        page,
        fields=BREAKDOWN_FIELDS,
        filename="flows-breakdowns",
    )


def _breakdown_row(row: dict, public: set) -> dict:
    """A breakdown row (per FMP, or operation-wide without FMP columns) with small cells suppressed."""
    individuals = suppress_small(row["individuals"], public=row["operation_id"] in public)
    suppressed = individuals is None and row["individuals"] is not None
    return {
        "operation": row["operation__slug"],
        "location_code": row.get("fmp__country_iso3"),
        "fmp_code": row.get("fmp__code"),
        "period": "month" if "month" in row else "day",
        "date": row["month"] if "month" in row else row["date"],
        "direction": row["direction"],
        "dimension": row["dimension"],
        "value": row["value"] or None,
        "records": None if suppressed else row["records"],
        "individuals": individuals,
        "suppressed": suppressed,
    }


LEVEL_WITH_POINT = "level=operation sums every FMP of an operation: leave out fmp_code and location_code"


def _operation_breakdowns(request, filters: BreakdownFilter, page, readable, public):
    """/breakdowns?level=operation: the operation-wide sums (FlowBreakdownTotal)."""
    if filters.fmp_code or filters.location_code:
        raise HttpError(422, LEVEL_WITH_POINT)
    q = _visible(request.user, readable) & filters.row_q()  # no FMP filter: day and direction only
    if filters.dimension:
        q &= Q(dimension=filters.dimension)
    qs = (
        FlowBreakdownTotal.objects.filter(q)
        .order_by("operation_id", "dimension", "date", "direction", "value")
        .values(
            "operation_id",
            "operation__slug",
            "date",
            "direction",
            "dimension",
            "value",
            "records",
            "individuals",
        )
    )

    return hapi_page(
        _Rows(qs, lambda row: _breakdown_row(row, public)),
        page,
        fields=BREAKDOWN_FIELDS,
        filename="flows-breakdowns",
    )


@router.get(
    "/estimates", auth=READ_AUTH, summary="Estimated total flows per FMP, week or month (95% interval)"
)
def estimates(request, filters: Query[EstimateFilter], page: Query[PageParams]):
    """Estimated totals over every hour of a week or month, with 95% interval and coverage (docs/flows-estimates.md)."""
    readable = _readable(request.user, filters)
    q = _whole_period_visible(readable) & filters.row_q(start_field="period_start", end_field="period_end")
    if filters.period:
        q &= Q(period=filters.period)
    qs = (
        FlowEstimate.objects.filter(q)
        .order_by("operation_id", "fmp_id", "period", "period_start", "direction")
        .values(
            "operation__slug",
            "fmp__country_iso3",
            "fmp__code",
            "fmp__name",
            "period",
            "period_start",
            "period_end",
            "direction",
            "observed",
            "estimate",
            "lower",
            "upper",
            "coverage",
            "hours_observed",
            "hours_total",
            "method",
        )
    )

    def shape(row):
        return {
            "operation": row["operation__slug"],
            "location_code": row["fmp__country_iso3"],
            "fmp_code": row["fmp__code"],
            "fmp_name": row["fmp__name"],
            "period": row["period"],
            "period_start": row["period_start"],
            "period_end": row["period_end"],
            "direction": row["direction"],
            "observed": row["observed"],
            "estimate": round(row["estimate"], 1),
            "lower": round(row["lower"], 1),
            "upper": round(row["upper"], 1),
            "coverage": round(row["coverage"], 4),
            "hours_observed": row["hours_observed"],
            "hours_total": row["hours_total"],
            "method": row["method"],
            "model_based": row["method"] not in DATA_ONLY_METHODS,
        }

    return hapi_page(_Rows(qs, shape), page, fields=ESTIMATE_FIELDS, filename="flows-estimates")
