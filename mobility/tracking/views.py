"""Tracking dashboard, area pages and round comparison (HTML, CSV and the JSON their maps and charts read).

Members who may view an operation see every round, drafts marked; everyone else sees published,
disclosure-checked figures only. Views are thin: the reading is in selectors.
"""

from __future__ import annotations

import csv

from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, register_converter, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mobility.core.models import Operation, PopulationGroup
from mobility.core.permissions import Action, can, operations_for
from mobility.core.tables import neutralise

from . import selectors
from .events import open_alerts
from .filters import TrackingFilter
from .models import AssessmentType

# Path words other tracking pages use: never taken for an operation slug.
RESERVED = frozenset({"profiles", "events", "alerts", "sources", "imports", "import", "upload", "api", "new"})


class OperationConverter:
    """An operation slug in the path; an unknown slug lets the other tracking patterns try."""

    regex = "[-a-zA-Z0-9_]+"

    def to_python(self, value: str) -> Operation:
        if value in RESERVED:
            raise ValueError(value)
        operation = Operation.objects.filter(slug=value).first()
        if operation is None:
            raise ValueError(value)
        return operation

    def to_url(self, value) -> str:
        return value.slug if isinstance(value, Operation) else str(value)


register_converter(OperationConverter, "operation")


def _published_only(request, operation: Operation) -> bool:
    return not can(request.user, Action.VIEW, operation)


def _filters(request, operation: Operation) -> TrackingFilter:
    return TrackingFilter.from_query(request.GET, operation=operation.slug)


def visible_operations(user):
    """Operations the user may view, then those with a published release."""
    mine = list(operations_for(user, Action.VIEW).order_by("name"))
    public = Operation.objects.filter(releases__status="current").exclude(pk__in=[o.pk for o in mine])
    return mine + list(public.distinct().order_by("name"))


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return response


def _status(draft: bool) -> str:
    return "draft" if draft else "published"


@require_GET
def index(request):
    """The dashboard of the first operation the user can see."""
    operations = visible_operations(request.user)
    if not operations:
        return render(request, "tracking/dashboard_empty.html", {})
    url = reverse("tracking:dashboard", args=[operations[0]])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


@require_GET
def dashboard(request, operation: Operation):
    """Map, trend, headline numbers and top areas; `?format=csv` downloads the table of every area."""
    try:
        filters = _filters(request, operation)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    published_only = _published_only(request, operation)
    try:
        data = selectors.dashboard(operation=operation, filters=filters, published_only=published_only)
    except LookupError as exc:
        raise Http404(str(exc)) from None
    if request.GET.get("format") == "csv":
        return _dashboard_csv(operation, data)
    chosen = TrackingFilter(
        reporting_round=data.round.number if data.round else None,
        population_group=data.population_group or None,
        admin_level=data.admin_level if data.round else None,
        assessment_type=data.assessment_type or None,
        admin1_code=filters.admin1_code,
        admin2_code=filters.admin2_code,
    )
    query = chosen.query_string()
    return render(
        request,
        "tracking/dashboard.html",
        {
            "operation": operation,
            "operations": visible_operations(request.user),
            "data": data,
            "query": query,
            "group_choices": [(g, PopulationGroup(g).label) for g in data.groups],
            "type_choices": [(t, AssessmentType(t).label) for t in data.assessment_types],
            "map_url": f"{reverse('tracking:map_data', args=[operation])}?{query}",
            "trend_url": f"{reverse('tracking:trend_data', args=[operation])}?{chosen.query_string(reporting_round=None)}",
            "csv_url": f"{reverse('tracking:dashboard', args=[operation])}?{query}&format=csv",
            "compare_url": reverse("tracking:compare", args=[operation]),
            "boundaries_url": reverse("api:boundaries"),
            "area_url": reverse("tracking:area", args=[operation, "__PCODE__"]) + "?" + query,
            # ETT alerts are for members only (events are not published yet).
            "open_alerts": [] if published_only else open_alerts(operation=operation, user=request.user),
        },
    )


def _dashboard_csv(operation: Operation, data: selectors.Dashboard) -> HttpResponse:
    header = [
        "operation",
        "location_code",
        "admin_level",
        "admin1_code",
        "admin2_code",
        "pcode",
        "name",
        "reporting_round",
        "assessment_type",
        "population_group",
        "population",
        "households",
        "suppressed",
        "status",
    ]
    rows = (
        [
            operation.name,
            operation.country_iso3,
            c.admin_level,
            c.admin1_code,
            c.admin2_code,
            c.pcode,
            c.name,
            data.round.number,
            data.assessment_type,
            data.population_group,
            "" if c.individuals is None else c.individuals,
            "" if c.households is None else c.households,
            "yes" if c.suppressed else "",
            _status(data.draft),
        ]
        for c in data.cells
    )
    number = data.round.number if data.round else 0
    return _csv(f"{operation.slug}-round-{number}-admin{data.admin_level}.csv", header, rows)


@require_GET
def map_data(request, operation: Operation):
    """The choropleth's figures and legend classes for the filter (JSON)."""
    try:
        filters = _filters(request, operation)
        data = selectors.dashboard(
            operation=operation, filters=filters, published_only=_published_only(request, operation)
        )
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse(
        {
            "operation": operation.slug,
            "location_code": operation.country_iso3,
            "reporting_round": data.round.number if data.round else None,
            "status": _status(data.draft) if data.round else None,
            "admin_level": data.admin_level,
            "population_group": data.population_group,
            "assessment_type": data.assessment_type,
            "breaks": data.breaks,
            "areas": [
                {"pcode": c.pcode, "name": c.name, "population": c.individuals, "suppressed": c.suppressed}
                for c in data.cells
            ],
        }
    )


@require_GET
def trend_data(request, operation: Operation):
    """The figure of the country (or of admin1_code / admin2_code) per group across rounds (JSON)."""
    try:
        filters = _filters(request, operation)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        selectors.trend(
            operation=operation, filters=filters, published_only=_published_only(request, operation)
        )
    )


@require_GET
def area(request, operation: Operation, pcode: str):
    """One area: its figures across rounds, groups, reasons, sub-areas and sites."""
    try:
        filters = _filters(request, operation)
        page = selectors.area_page(
            operation=operation,
            pcode=pcode,
            filters=filters,
            published_only=_published_only(request, operation),
        )
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    except LookupError as exc:
        raise Http404(str(exc)) from None
    if not page.trend["series"] and page.name == pcode:
        raise Http404(_("No figures for this area."))
    chosen = TrackingFilter(
        reporting_round=page.round.number if page.round else None,
        population_group=page.population_group,
        assessment_type=page.assessment_type,
    )
    query = chosen.query_string()
    rows = [
        {
            "round": round_ref,
            "values": [
                {"value": s["values"][i], "suppressed": s["suppressed"][i]} for s in page.trend["series"]
            ],
        }
        for i, round_ref in enumerate(page.rounds)
    ]
    return render(
        request,
        "tracking/area.html",
        {
            "operation": operation,
            "page": page,
            "query": query,
            "trend_rows": rows,
            "trend_json": page.trend,
            "sites_json": [s for s in page.sites if s["lat"] is not None and s["lon"] is not None],
            "children_json": {
                "areas": {c.pcode: c.individuals for c in page.children},
                "breaks": selectors.class_breaks([c.individuals for c in page.children]),
            },
            "area_url": reverse("tracking:area", args=[operation, "__PCODE__"]) + "?" + query,
            "group_label": PopulationGroup(page.population_group).label,
            "dashboard_url": f"{reverse('tracking:dashboard', args=[operation])}?{query}",
            "boundaries_url": reverse("api:boundaries"),
        },
    )


def _compare_args(request, operation: Operation):
    """(comparison, filter) from ?a=&b=&level=&group=; defaults: the last two rounds, admin 2, IDP."""
    filters = _filters(request, operation)
    published_only = _published_only(request, operation)
    rounds = selectors.round_list(operation=operation, published_only=published_only)
    try:
        a = int(request.GET["a"]) if request.GET.get("a") else None
        b = int(request.GET["b"]) if request.GET.get("b") else None
    except ValueError:
        raise ValueError(_("Rounds a and b are round numbers.")) from None
    numbers = [r.number for r in rounds]
    if b is None:
        b = numbers[-1] if numbers else None
    if a is None:
        earlier = [n for n in numbers if b is not None and n < b]
        a = earlier[-1] if earlier else b
    if a is None or b is None:
        return None, filters, rounds
    level = filters.admin_level if filters.admin_level is not None else 2
    comparison = selectors.round_compare(
        operation=operation,
        round_a=a,
        round_b=b,
        level=level,
        group=filters.population_group or PopulationGroup.IDP,
        published_only=published_only,
        assessment_type=filters.assessment_type,
    )
    return comparison, filters, rounds


@require_GET
def compare(request, operation: Operation):
    """Change per area between two rounds, on a map and in a table; `?format=csv` downloads it."""
    try:
        comparison, filters, rounds = _compare_args(request, operation)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    except LookupError as exc:
        raise Http404(str(exc)) from None
    if comparison is not None and request.GET.get("format") == "csv":
        return _compare_csv(comparison)
    query = ""
    if comparison is not None:
        from urllib.parse import urlencode

        query = urlencode(
            {
                "a": comparison.round_a.number,
                "b": comparison.round_b.number,
                "admin_level": comparison.admin_level,
                "population_group": comparison.population_group,
                "assessment_type": comparison.assessment_type,
            }
        )
    return render(
        request,
        "tracking/compare.html",
        {
            "operation": operation,
            "comparison": comparison,
            "rounds": rounds,
            "query": query,
            "group_choices": list(PopulationGroup.choices),
            "levels": [1, 2, 3],
            "data_url": f"{reverse('tracking:compare_data', args=[operation])}?{query}",
            "csv_url": f"{reverse('tracking:compare', args=[operation])}?{query}&format=csv",
            "dashboard_url": reverse("tracking:dashboard", args=[operation]),
            "boundaries_url": reverse("api:boundaries"),
            "area_url": reverse("tracking:area", args=[operation, "__PCODE__"]),
        },
    )


def _compare_csv(c: selectors.Comparison) -> HttpResponse:
    header = [
        "operation",
        "location_code",
        "admin_level",
        "admin1_code",
        "admin2_code",
        "pcode",
        "name",
        "population_group",
        "assessment_type",
        "round_a",
        "population_a",
        "round_b",
        "population_b",
        "change",
        "change_pct",
        "status",
        "draft",
    ]
    rows = (
        [
            c.operation.name,
            c.operation.country_iso3,
            c.admin_level,
            r.admin1_code,
            r.admin2_code,
            r.pcode,
            r.name,
            c.population_group,
            c.assessment_type,
            c.round_a.number,
            "suppressed" if r.a_suppressed else ("" if r.a is None else r.a),
            c.round_b.number,
            "suppressed" if r.b_suppressed else ("" if r.b is None else r.b),
            "" if r.change is None else r.change,
            "" if r.change_pct is None else r.change_pct,
            r.status,
            "yes" if c.draft else "",
        ]
        for r in c.rows
    )
    name = f"{c.operation.slug}-rounds-{c.round_a.number}-{c.round_b.number}-admin{c.admin_level}.csv"
    return _csv(name, header, rows)


@require_GET
def compare_data(request, operation: Operation):
    """The comparison as JSON for its map."""
    try:
        comparison, _filters_, _rounds = _compare_args(request, operation)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    if comparison is None:
        return JsonResponse({"areas": []})
    return JsonResponse(
        {
            "operation": operation.slug,
            "location_code": operation.country_iso3,
            "round_a": comparison.round_a.number,
            "round_b": comparison.round_b.number,
            "draft": comparison.draft,
            "admin_level": comparison.admin_level,
            "population_group": comparison.population_group,
            "areas": [
                {
                    "pcode": r.pcode,
                    "name": r.name,
                    "population_a": r.a,
                    "population_b": r.b,
                    "suppressed_a": r.a_suppressed,
                    "suppressed_b": r.b_suppressed,
                    "change": r.change,
                    "change_pct": r.change_pct,
                    "status": r.status,
                }
                for r in comparison.rows
            ],
        }
    )


urlpatterns = [
    path("", index, name="index"),
    path("<operation:operation>/", dashboard, name="dashboard"),
    path("<operation:operation>/data/map.json", map_data, name="map_data"),
    path("<operation:operation>/data/trend.json", trend_data, name="trend_data"),
    path("<operation:operation>/compare/", compare, name="compare"),
    path("<operation:operation>/compare/data.json", compare_data, name="compare_data"),
    path("<operation:operation>/areas/<str:pcode>/", area, name="area"),
]
