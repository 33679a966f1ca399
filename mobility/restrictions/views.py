"""Points of entry (status map with a date slider, counts over time, change log, one point's history)
and travel restrictions between countries (who restricts entry from a country on a date, and what
a country imposes).

Anonymous users and members of other operations see published status records and restrictions
only; members see drafts too, marked as such. An operation with nothing published is a 404 to
non-members. Views are thin: the "as of" rules are the selectors'.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

from django.core.paginator import Paginator
from django.db.models import Max, Min, Q, QuerySet
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mobility.core.models import Operation
from mobility.core.permissions import Action, can, operations_for

from . import selectors
from .countries import country_name
from .models import (
    AffectedGroup,
    Measure,
    OperationalStatus,
    PoEStatus,
    PointOfEntry,
    RestrictionType,
    TravelRestriction,
)

COUNTRIES_STATIC = "restrictions/countries-110m.geojson"
CHANGES_PER_PAGE = 25
TIMELINE_POINTS = 120  # samples of the counts-over-time chart
STATUS_ORDER = [
    s.value
    for s in (
        OperationalStatus.OPEN,
        OperationalStatus.PARTIAL,
        OperationalStatus.CLOSED,
        OperationalStatus.UNKNOWN,
    )
]
# The legend's order: most severe first (the selectors keep the severity rule).
KIND_ORDER = [
    TravelRestriction.Kind.TOTAL,
    TravelRestriction.Kind.VISA,
    TravelRestriction.Kind.PARTIAL,
    TravelRestriction.Kind.MEDICAL,
]
BAD_DATE = "{name}: {value!r} is not a date (YYYY-MM-DD)."


# --- who sees what -------------------------------------------------------------------------------


def restriction_operations(user) -> list[Operation]:
    """The user's operations, then those with a published status record or travel restriction."""
    mine = list(operations_for(user, Action.VIEW).order_by("name"))
    public = (
        Operation.objects.filter(
            Q(points_of_entry__statuses__published=True) | Q(travel_restrictions__published=True)
        )
        .exclude(pk__in=[o.pk for o in mine])
        .distinct()
        .order_by("name")
    )
    return mine + list(public)


def _operation(request, slug: str) -> tuple[Operation, selectors.Audience]:
    operation = get_object_or_404(Operation, slug=slug)
    audience = selectors.Audience.of(request.user)
    if not audience.sees_drafts_of(operation) and not (
        PoEStatus.objects.filter(poe__operation=operation, published=True).exists()
        or TravelRestriction.objects.filter(operation=operation, published=True).exists()
    ):
        raise Http404(_("Nothing of this operation is published."))
    return operation, audience


def _statuses(operation: Operation, audience: selectors.Audience) -> QuerySet[PoEStatus]:
    return PoEStatus.objects.filter(poe__operation=operation).filter(audience.records_q("poe__operation_id"))


def _day(request, name: str, default: dt.date | None) -> dt.date | None:
    value = request.GET.get(name)
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(BAD_DATE.format(name=name, value=value)) from None


def _common(request, operation: Operation, audience: selectors.Audience) -> dict:
    return {
        "operation": operation,
        "operations": restriction_operations(request.user),
        "member": audience.sees_drafts_of(operation),
        "may_import": can(request.user, Action.IMPORT, operation),
        "countries_url": static(COUNTRIES_STATIC),
    }


def _pick(request, target: str):
    operations = restriction_operations(request.user)
    chosen = request.GET.get("operation")
    if chosen and any(op.slug == chosen for op in operations):
        return redirect(target, slug=chosen)
    if not operations:
        return render(request, "restrictions/empty.html", {})
    return redirect(target, slug=operations[0].slug)


@require_GET
def index(request):
    """The points of entry of the chosen operation (``?operation=slug``) or the first one."""
    return _pick(request, "restrictions:points")


@require_GET
def travel_index(request):
    """The travel restrictions of the chosen operation (``?operation=slug``) or the first one."""
    return _pick(request, "restrictions:travel")


# --- points of entry -----------------------------------------------------------------------------


def _status_label(code: str | None) -> str:
    if not code or code == selectors.NO_STATUS:
        return _("No status recorded")
    return str(OperationalStatus(code).label)


def _counts(pairs) -> dict[str, int]:
    found = Counter(record.status if record else selectors.NO_STATUS for _poe, record in pairs)
    return {key: found.get(key, 0) for key in selectors.STATUS_KEYS}


def _span(operation: Operation, audience: selectors.Audience) -> tuple[dt.date | None, dt.date | None]:
    """The slider's range: first to last change, or to today when the last change is within a year."""
    span = _statuses(operation, audience).aggregate(first=Min("effective_from"), last=Max("effective_from"))
    first, last = span["first"], span["last"]
    today = timezone.localdate()
    if last and last < today and (today - last).days <= 365:
        last = today
    return first, last


def counts_over_time(
    operation: Operation, audience: selectors.Audience, first: dt.date, last: dt.date
) -> dict:
    """Points per status on every day of the span, thinned to about ``TIMELINE_POINTS`` days for the chart."""
    days = selectors.status_counts_by_day(
        date_from=first, date_to=last, audience=audience, operation=operation
    )
    step = max(1, math.ceil(len(days) / TIMELINE_POINTS))
    shown = days[::step]
    if shown[-1] is not days[-1]:
        shown.append(days[-1])
    return {
        "labels": [d["date"].isoformat() for d in shown],
        "series": [
            {"status": key, "label": str(OperationalStatus(key).label), "values": [d[key] for d in shown]}
            for key in STATUS_ORDER
        ],
    }


def measure_labels(codes: list[str]) -> list[str]:
    labels = dict(Measure.choices)
    return [str(labels.get(code, code)) for code in codes or []]


def group_labels(codes: list[str]) -> list[str]:
    labels = dict(AffectedGroup.choices)
    return [str(labels.get(code, code)) for code in codes or []]


def _change_rows(operation: Operation, audience: selectors.Audience) -> list[dict]:
    rows = selectors.status_change_log(audience=audience, operation=operation)
    for row in rows:
        row["status_label"] = _status_label(row["status"])
        row["previous_label"] = _status_label(row["previous_status"]) if row["previous_status"] else ""
        row["restriction_label"] = (
            str(RestrictionType(row["restriction"]).label) if row["restriction"] else ""
        )
        row["measure_labels"] = measure_labels(row["measures"])
    return rows


def _status_json(poe: PointOfEntry, record: PoEStatus | None) -> dict:
    return {
        "code": poe.code,
        "status": record.status if record else selectors.NO_STATUS,
        "label": _status_label(record.status if record else None),
        "since": record.effective_from.isoformat() if record else None,
        "restriction": record.get_restriction_display() if record else "",
        "published": record.published if record else None,
    }


@require_GET
def points(request, slug: str):
    """Map of every point coloured by its status on the chosen date, with a date slider."""
    operation, audience = _operation(request, slug)
    first, last = _span(operation, audience)
    try:
        day = _day(request, "date", min(timezone.localdate(), last) if last else timezone.localdate())
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    pairs = selectors.points_as_of(day=day, audience=audience, operation=operation)
    counts = _counts(pairs)
    pager = Paginator(_change_rows(operation, audience), CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    slider = None
    if first and last and first < last:
        clamped = min(max(day, first), last)
        slider = {"max": (last - first).days, "value": (clamped - first).days}
    return render(
        request,
        "restrictions/points.html",
        {
            **_common(request, operation, audience),
            "day": day,
            "first": first,
            "last": last,
            "slider": slider,
            "states": [{"poe": poe, "status": record} for poe, record in pairs],
            "counts": counts,
            "statuses_url": reverse("restrictions:points_statuses", args=[operation.slug]),
            "map_points": [
                {
                    **_status_json(poe, record),
                    "name": poe.name,
                    "type": poe.get_type_display(),
                    "lat": poe.latitude,
                    "lon": poe.longitude,
                    "url": reverse("restrictions:point", args=[operation.slug, poe.code]),
                }
                for poe, record in pairs
                if poe.latitude is not None and poe.longitude is not None
            ],
            "timeline": counts_over_time(operation, audience, first, last) if first and last else None,
            "changes": pager,
            "status_labels": [(key, OperationalStatus(key).label) for key in STATUS_ORDER],
            "count_rows": [(key, OperationalStatus(key).label, counts[key]) for key in STATUS_ORDER],
        },
    )


@require_GET
def points_statuses(request, slug: str):
    """The status of every point on ``?date=`` and the counts by status (JSON for the slider)."""
    operation, audience = _operation(request, slug)
    try:
        day = _day(request, "date", timezone.localdate())
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    pairs = selectors.points_as_of(day=day, audience=audience, operation=operation)
    return JsonResponse(
        {
            "operation": operation.slug,
            "date": day.isoformat(),
            "counts": _counts(pairs),
            "points": [_status_json(poe, record) for poe, record in pairs],
        }
    )


@require_GET
def point(request, slug: str, code: str):
    """One point: its facts and its whole status history, newest first."""
    operation, audience = _operation(request, slug)
    poe = get_object_or_404(selectors.points_visible(audience=audience, operation=operation), code=code)
    records = list(_statuses(operation, audience).filter(poe=poe).order_by("effective_from", "id"))
    history = []
    for i, record in enumerate(records):
        following = records[i + 1] if i + 1 < len(records) else None
        history.append(
            {
                "record": record,
                "until": following.effective_from - dt.timedelta(days=1)
                if following and following.effective_from > record.effective_from
                else None,
                "corrected": following is not None and following.effective_from == record.effective_from,
                "measures": measure_labels(record.measures),
                "groups": group_labels(record.affected_groups),
            }
        )
    history.reverse()
    today = timezone.localdate()
    current = selectors.status_on(records, today)
    return render(
        request,
        "restrictions/point.html",
        {
            **_common(request, operation, audience),
            "poe": poe,
            "history": history,
            "current": current,
            "today": today,
            "map_point": {
                "lat": poe.latitude,
                "lon": poe.longitude,
                "status": current.status if current else "none",
            }
            if poe.latitude is not None
            else None,
        },
    )


# --- travel restrictions -------------------------------------------------------------------------


def _country_name(iso3: str) -> str:
    return country_name(iso3) or iso3


@require_GET
def travel(request, slug: str):
    """Who restricts entry from country X on date D (map and table), what changed since a second date,
    and what X itself imposes on D."""
    operation, audience = _operation(request, slug)
    visible = TravelRestriction.objects.filter(operation=operation).filter(audience.records_q("operation_id"))
    newest = visible.aggregate(last=Max("effective_from"))["last"]
    today = timezone.localdate()
    # Sources from a past crisis (COVID-19) end long ago: open on their last date rather than an empty today.
    default_day = newest if newest and newest < today - dt.timedelta(days=365) else today
    try:
        day = _day(request, "date", default_day)
        since = _day(request, "since", day - dt.timedelta(days=30))
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    country = (request.GET.get("country") or operation.country_iso3).strip().upper()[:3]
    scope = {"audience": audience, "operation": operation}
    imposing = selectors.restricting_countries(iso3=country, day=day, **scope)
    details: dict[str, list[TravelRestriction]] = {}
    for r in selectors.travel_in_force(day=day, target=country, **scope):
        details.setdefault(r.imposing_iso3, []).append(r)
    for row in imposing:
        row["restrictions_in_force"] = details.get(row["imposing_iso3"], [])
        row["name"] = row["imposing_name"] or row["imposing_iso3"]
    kind_labels = {k: str(label) for k, label in TravelRestriction.Kind.choices}
    changes = selectors.restricting_changes(iso3=country, day_from=since, day_to=day, **scope)
    for row in changes:
        row["name"] = row["imposing_name"] or row["imposing_iso3"]
        row["before_label"] = kind_labels.get(row["kind_before"], "")
        row["after_label"] = kind_labels.get(row["kind_after"], "")
    imposed_by = [
        {"restriction": r, "target_name": _country_name(r.target_iso3) if r.target_iso3 else ""}
        for r in selectors.travel_in_force(day=day, imposing=country, **scope)
    ]
    codes = (
        set(visible.values_list("imposing_iso3", flat=True))
        | set(visible.exclude(target_iso3="").values_list("target_iso3", flat=True))
        | {operation.country_iso3, country}
    )
    return render(
        request,
        "restrictions/travel.html",
        {
            **_common(request, operation, audience),
            "country": country,
            "country_name": _country_name(country),
            "country_choices": sorted(((c, _country_name(c)) for c in codes), key=lambda c: c[1]),
            "day": day,
            "since": since,
            "imposing": imposing,
            "changes": changes,
            "imposed_by": imposed_by,
            "kinds": [(k.value, k.label) for k in KIND_ORDER],
            "map_data": {
                "target": country,
                "imposers": {row["imposing_iso3"]: row["kind"] for row in imposing},
                "kinds": {k.value: str(k.label) for k in KIND_ORDER},
            },
            "total": len(imposing),
        },
    )
