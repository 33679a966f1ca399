"""Gazetteer pages: countries, areas with their tree and map, search, editions, the review list."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobility.core.permissions import Action, can

from . import selectors
from .filters import AreaFilter
from .models import GazetteerVersion, MatchReview, PcodeChange

BOUNDARIES_URL = "/api/v1/gazetteer/boundaries"
SEARCH_LIMIT = 100
SUGGEST_LIMIT = 15
CHANGES_PER_PAGE = 200
REVIEWS_PER_PAGE = 50


def _boundaries_url(**params) -> str:
    return BOUNDARIES_URL + "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _current_version(country: str) -> GazetteerVersion:
    version = selectors.current_versions().filter(country_iso3=country.upper()).first()
    if version is None:
        raise Http404(_("No gazetteer has been imported for %(country)s.") % {"country": country.upper()})
    return version


def index(request):
    return render(request, "gazetteer/index.html", {"versions": selectors.current_versions()})


def search(request):
    q = request.GET.get("q", "").strip()
    country = request.GET.get("country", "").strip().upper() or None
    results = list(selectors.area_search(q=q, country=country, limit=SEARCH_LIMIT)) if q else []
    return render(
        request,
        "gazetteer/search.html",
        {
            "q": q,
            "country": country or "",
            "results": results,
            "limit_reached": len(results) >= SEARCH_LIMIT,
            "versions": selectors.current_versions(),
        },
    )


def suggest(request):
    """`<option>`s of areas matching q, for the free p-code field of the review list (htmx)."""
    q = (request.GET.get("q") or request.GET.get("pcode") or "").strip()
    country = request.GET.get("country", "").strip().upper() or None
    results = []
    if len(q) >= 2:
        qs = selectors.area_search(q=q, country=country, limit=SUGGEST_LIMIT * 3)
        level = request.GET.get("level", "")
        results = [a for a in qs if not level.isdigit() or a.level == int(level)][:SUGGEST_LIMIT]
    return render(request, "gazetteer/_suggest.html", {"results": results})


def country(request, country):
    if country != country.upper():
        return redirect("gazetteer:country", country=country.upper())
    version = _current_version(country)
    roots = list(selectors.area_list(filters=AreaFilter(location_code=country, admin_level=0)))
    if len(roots) == 1:
        top_areas = selectors.area_children(area=roots[0])
    else:
        top_areas = selectors.area_list(filters=AreaFilter(location_code=country, admin_level=1))
    levels = selectors.version_levels(version=version)
    return render(
        request,
        "gazetteer/country.html",
        {
            "country": country,
            "version": version,
            "root": roots[0] if len(roots) == 1 else None,
            "top_areas": top_areas,
            "levels": levels,
            "versions": selectors.current_versions(),
            "chart_data": {
                "labels": [_("Admin %(level)s") % {"level": row["level"]} for row in levels],
                "areas": [row["areas"] for row in levels],
                "with_geometry": [row["with_geometry"] for row in levels],
            },
            "map_layers": [
                _boundaries_url(location_code=country, admin_level=level)
                for level in (1, 2, 3)
                if any(row["level"] == level and row["with_geometry"] for row in levels)
            ][:1],
        },
    )


def area(request, country, pcode):
    area = selectors.area_get(country=country, pcode=pcode)
    ancestors = selectors.area_ancestors(area=area)
    children = selectors.area_children(area=area)
    context_url = (
        _boundaries_url(location_code=area.country_iso3, parent_code=ancestors[-1].pcode) if ancestors else ""
    )
    return render(
        request,
        "gazetteer/area.html",
        {
            "area": area,
            "ancestors": ancestors,
            "children": children,
            "aliases": selectors.area_aliases(area=area),
            "children_layers": [_boundaries_url(location_code=area.country_iso3, parent_code=area.pcode)],
            "context_url": context_url,
        },
    )


def versions(request, country):
    country = country.upper()
    version_rows = selectors.version_list(country=country)
    if not version_rows:
        raise Http404(_("No gazetteer has been imported for %(country)s.") % {"country": country})
    return render(request, "gazetteer/versions.html", {"country": country, "versions": version_rows})


def version_detail(request, country, version_id):
    version = get_object_or_404(GazetteerVersion, pk=version_id, country_iso3=country.upper())
    changes = selectors.version_changes(version=version)
    change = request.GET.get("change", "")
    totals = {value: 0 for value in PcodeChange.Change.values}
    for row in changes.values_list("change", flat=True):
        totals[row] = totals.get(row, 0) + 1
    if change in PcodeChange.Change.values:
        changes = changes.filter(change=change)
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "gazetteer/version_detail.html",
        {
            "country": version.country_iso3,
            "version": version,
            "page": page,
            "change": change,
            "totals": [
                (value, PcodeChange.Change(value).label, totals[value]) for value in PcodeChange.Change.values
            ],
            "levels": selectors.version_levels(version=version),
        },
    )


# --- review list -------------------------------------------------------------------------------


@login_required
def review_list(request):
    status = request.GET.get("status", MatchReview.Status.OPEN)
    if status not in MatchReview.Status.values:
        status = MatchReview.Status.OPEN
    country = request.GET.get("country", "").strip().upper()
    page = Paginator(
        selectors.review_list(status=status, country=country or None), REVIEWS_PER_PAGE
    ).get_page(request.GET.get("page"))
    items = [
        {"review": review, "may_resolve": can(request.user, Action.IMPORT, review.operation)}
        for review in page
    ]
    return render(
        request,
        "gazetteer/review_list.html",
        {
            "page": page,
            "items": items,
            "status": status,
            "statuses": MatchReview.Status.choices,
            "country": country,
            "versions": selectors.current_versions(),
        },
    )


def _review_for_resolver(request, review_id) -> MatchReview:
    if not request.user.is_authenticated:
        raise PermissionDenied
    review = get_object_or_404(MatchReview, pk=review_id)
    if not can(request.user, Action.IMPORT, review.operation):
        raise PermissionDenied
    return review


def _back_to_list(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("gazetteer:reviews")


@require_POST
def review_resolve(request, review_id):
    from . import services

    review = _review_for_resolver(request, review_id)
    pcode = request.POST.get("pcode", "").strip()
    if not pcode:
        messages.error(request, _("Pick a candidate or type a p-code."))
        return _back_to_list(request)
    try:
        alias = services.review_resolve(review=review, pcode=pcode, by=request.user)
    except (ValidationError, Http404) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request,
            _("“%(name)s” is now an alias of %(pcode)s; the next import will use it.")
            % {"name": review.provider_name, "pcode": alias.pcode},
        )
    return _back_to_list(request)


@require_POST
def review_dismiss(request, review_id):
    from . import services

    review = _review_for_resolver(request, review_id)
    try:
        services.review_dismiss(review=review, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("“%(name)s” was marked as not an area.") % {"name": review.provider_name})
    return _back_to_list(request)
