"""Flow monitoring pages: points and their map, one point's flows, origin–destination, corridors.

Members of an operation see every day (unpublished days marked as drafts); everyone else sees the
published periods only, with small breakdown cells suppressed (``visibility``). An operation with
nothing published is a 404 to non-members, so its existence does not leak. Views are thin: the
reading is in ``selectors``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from mobility.core.models import Operation
from mobility.core.permissions import Action, can

from . import selectors
from .models import Corridor, Direction, FlowBreakdown, FlowEstimate, FlowMonitoringPoint
from .visibility import sees_unpublished

BREAKDOWN_DIMENSIONS = [
    FlowBreakdown.Dimension.NATIONALITY,
    FlowBreakdown.Dimension.REASON,
    FlowBreakdown.Dimension.TRANSPORT,
]


class FlowFilter(forms.Form):
    """What a flows page may be asked for; one form for every page so the names never drift."""

    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"),
        required=False,
        choices=[("", gettext_lazy("Both directions")), *Direction.choices],
    )
    period = forms.ChoiceField(
        required=False, choices=[("daily", gettext_lazy("Daily")), ("weekly", gettext_lazy("Weekly"))]
    )
    level = forms.ChoiceField(
        label=gettext_lazy("Level"),
        required=False,
        choices=[("country", gettext_lazy("Countries")), ("admin1", gettext_lazy("Admin 1 areas"))],
    )
    fmp = forms.CharField(label=gettext_lazy("Point"), required=False, max_length=64)
    corridor = forms.CharField(label=gettext_lazy("Corridor"), required=False, max_length=100)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


def _filter(request) -> FlowFilter:
    form = FlowFilter(request.GET)
    if not form.is_valid():
        raise ValueError("; ".join(str(e) for errors in form.errors.values() for e in errors))
    return form


def _operation(request, slug: str) -> Operation:
    operation = get_object_or_404(Operation, slug=slug)
    if not selectors.may_open(request.user, operation):
        raise Http404(_("No flow data of this operation is published."))
    return operation


def _common(request, operation: Operation) -> dict:
    member = sees_unpublished(request.user, operation)
    return {
        "operation": operation,
        "operations": selectors.flow_operations(request.user),
        "member": member,
        "may_import": can(request.user, Action.IMPORT, operation),
        "countries_url": static(selectors.COUNTRIES_STATIC),
    }


@require_GET
def index(request):
    """The flows of the chosen operation (``?operation=slug``), or of the first the user may read."""
    operations = selectors.flow_operations(request.user)
    chosen = request.GET.get("operation")
    if chosen and any(op.slug == chosen for op in operations):
        return redirect("flows:operation", slug=chosen)
    if not operations:
        return render(request, "flows/empty.html", {})
    return redirect("flows:operation", slug=operations[0].slug)


@require_GET
def operation_index(request, slug: str):
    """The operation's flow monitoring points: list, map, corridors."""
    operation = _operation(request, slug)
    rows = selectors.fmp_list(operation=operation, user=request.user)
    corridors = list(Corridor.objects.filter(operation=operation).order_by("name"))
    for c in corridors:
        mine = [r for r in rows if r.fmp.corridor_id == c.pk]
        c.point_count = len(mine)
        c.individuals = sum(r.individuals for r in mine)
        c.last_count = max((r.last_count for r in mine if r.last_count), default=None)
    points = [
        {
            "code": r.fmp.code,
            "name": r.fmp.name,
            "type": r.fmp.get_type_display(),
            "lat": r.fmp.latitude,
            "lon": r.fmp.longitude,
            "individuals": r.individuals,
            "last": r.last_count.isoformat() if r.last_count else None,
            "url": reverse("flows:point", args=[operation.slug, r.fmp.code]),
        }
        for r in rows
        if r.fmp.latitude is not None and r.fmp.longitude is not None
    ]
    first, last = selectors.date_span(operation=operation, user=request.user)
    return render(
        request,
        "flows/operation.html",
        {
            **_common(request, operation),
            "rows": rows,
            "corridors": corridors,
            "map_points": points,
            "first": first,
            "last": last,
        },
    )


def _range(form: FlowFilter, operation, user, fmp_ids=None) -> tuple[dt.date | None, dt.date | None]:
    """The asked dates, or the span of the data the user may read."""
    first, last = selectors.date_span(operation=operation, user=user, fmp_ids=fmp_ids)
    return form.cleaned_data.get("date_from") or first, form.cleaned_data.get("date_to") or last


@require_GET
def point(request, slug: str, code: str):
    """One point: flows over time per direction, breakdowns, the latest estimates with their intervals."""
    operation = _operation(request, slug)
    fmp = get_object_or_404(
        FlowMonitoringPoint.objects.select_related("corridor"), operation=operation, code=code
    )
    try:
        form = _filter(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    date_from, date_to = _range(form, operation, request.user, [fmp.pk])
    direction = form.cleaned_data.get("direction") or None
    args = {
        "operation": operation,
        "user": request.user,
        "fmp_ids": [fmp.pk],
        "date_from": date_from,
        "date_to": date_to,
    }
    daily = selectors.flow_series(**args, period="daily")
    weekly = selectors.flow_series(**args, period="weekly")
    breakdowns = [
        selectors.breakdown(**args, dimension=dimension, direction=direction)
        for dimension in BREAKDOWN_DIMENSIONS
    ]
    return render(
        request,
        "flows/point.html",
        {
            **_common(request, operation),
            "fmp": fmp,
            "form": form,
            "date_from": date_from,
            "date_to": date_to,
            "direction": direction,
            "period": form.cleaned_data.get("period") or "daily",
            "series": {"daily": daily.as_json(), "weekly": weekly.as_json()},
            "totals": daily.totals,
            "drafts": sum(1 for p in daily.published if not p),
            "breakdowns": breakdowns,
            "breakdowns_json": {
                b.dimension: {
                    "labels": [r.label for r in b.rows],
                    "values": [r.individuals for r in b.rows],
                }
                for b in breakdowns
            },
            "weekly_estimates": selectors.estimates_latest(
                fmp=fmp, user=request.user, period=FlowEstimate.Period.WEEK
            ),
            "monthly_estimates": selectors.estimates_latest(
                fmp=fmp, user=request.user, period=FlowEstimate.Period.MONTH, limit=3
            ),
            "hours": _hours_text(fmp.observed_hours),
            "days": _days_text(fmp.observed_days),
        },
    )


def _days_text(days: list[int]) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    if not days:
        return ""
    if sorted(days) == list(range(7)):
        return _("every day")
    return ", ".join(names[d] for d in sorted(days))


def _hours_text(hours: list[int]) -> str:
    """Observed hours as ranges, e.g. 06:00–12:00, 14:00–18:00."""
    if not hours:
        return ""
    hours = sorted(set(hours))
    runs, start, prev = [], hours[0], hours[0]
    for h in hours[1:]:
        if h != prev + 1:
            runs.append((start, prev))
            start = h
        prev = h
    runs.append((start, prev))
    return ", ".join(f"{a:02d}:00–{b + 1:02d}:00" for a, b in runs)


@require_GET
def corridor(request, slug: str, corridor_slug: str):
    """All points of one corridor: the daily balance (in − out) and a table per point."""
    operation = _operation(request, slug)
    corridor = get_object_or_404(Corridor, operation=operation, slug=corridor_slug)
    try:
        form = _filter(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    ids = list(corridor.points.values_list("pk", flat=True))
    date_from, date_to = _range(form, operation, request.user, ids)
    balance = selectors.corridor_balance(
        corridor=corridor, user=request.user, date_from=date_from, date_to=date_to
    )
    return render(
        request,
        "flows/corridor.html",
        {
            **_common(request, operation),
            "corridor": corridor,
            "form": form,
            "date_from": date_from,
            "date_to": date_to,
            "balance": balance,
            "balance_json": balance.as_json(),
        },
    )


@require_GET
def origin_destination(request, slug: str):
    """Flow lines between countries (or admin 1 areas) and their table, for a date range, direction, point or corridor."""
    operation = _operation(request, slug)
    try:
        form = _filter(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    data = form.cleaned_data
    points = list(FlowMonitoringPoint.objects.filter(operation=operation).order_by("code"))
    corridors = list(Corridor.objects.filter(operation=operation).order_by("name"))
    fmp_ids = None
    if data.get("fmp"):
        fmp_ids = [p.pk for p in points if p.code == data["fmp"]]
    elif data.get("corridor"):
        fmp_ids = [p.pk for p in points if p.corridor and p.corridor.slug == data["corridor"]]
    date_from, date_to = _range(form, operation, request.user, fmp_ids)
    level = data.get("level") or "country"
    direction = data.get("direction") or None
    rows = selectors.od_flows(
        operation=operation,
        user=request.user,
        date_from=date_from,
        date_to=date_to,
        level=level,
        direction=direction,
        fmp_ids=fmp_ids,
    )
    places = selectors.place_points({c for r in rows for c in (r.origin, r.destination)}, level=level)
    level_note = ""
    if level == "admin1" and rows and not places:
        # No admin 1 boundary in the gazetteer: draw the countries instead, and say so.
        level_note = _("The gazetteer has no admin 1 boundaries for these areas: the map shows countries.")
        country_rows = selectors.od_flows(
            operation=operation,
            user=request.user,
            date_from=date_from,
            date_to=date_to,
            level="country",
            direction=direction,
            fmp_ids=fmp_ids,
        )
        line_rows = country_rows
        places = selectors.place_points(
            {c for r in country_rows for c in (r.origin, r.destination)}, level="country"
        )
    else:
        line_rows = rows
    lines = [
        {
            "from": places[r.origin],
            "to": places[r.destination],
            "label": f"{r.origin_label} → {r.destination_label}",
            "individuals": r.individuals,
        }
        for r in line_rows
        if r.individuals and r.origin in places and r.destination in places and r.origin != r.destination
    ]
    return render(
        request,
        "flows/od.html",
        {
            **_common(request, operation),
            "form": form,
            "points": points,
            "corridors": corridors,
            "date_from": date_from,
            "date_to": date_to,
            "level": level,
            "level_note": level_note,
            "rows": rows,
            "lines": lines,
            "total": sum(r.individuals or 0 for r in rows),
            "unmapped": sum(
                1 for r in line_rows if r.individuals and not (r.origin in places and r.destination in places)
            ),
        },
    )
