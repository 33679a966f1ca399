"""Reads of the gazetteer: versions, areas, the tree, search, boundaries for maps, the review list."""

from __future__ import annotations

import hashlib
import json
import math

import shapely
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from .filters import AreaFilter
from .models import AdminArea, AreaAlias, GazetteerVersion, Location, MatchReview, PcodeChange

AREA_NOT_FOUND = "No area with p-code {pcode} in the current {country} gazetteer."


def current_versions() -> QuerySet[GazetteerVersion]:
    """The current edition of every country's gazetteer."""
    return GazetteerVersion.objects.filter(is_current=True).order_by("country_iso3")


def version_list(*, country: str) -> QuerySet[GazetteerVersion]:
    """All editions of one country's gazetteer, newest first."""
    return GazetteerVersion.objects.filter(country_iso3=country.upper()).order_by("-valid_from", "-id")


def version_changes(*, version: GazetteerVersion) -> QuerySet[PcodeChange]:
    """What changed when this edition replaced the one before it."""
    return PcodeChange.objects.filter(to_version=version).order_by("level", "pcode")


def version_levels(*, version: GazetteerVersion) -> list[dict]:
    """Number of areas (and of areas with a boundary) per admin level."""
    return list(
        AdminArea.objects.filter(version=version)
        .values("level")
        .annotate(areas=Count("id"), with_geometry=Count("id", filter=~Q(geometry="")))
        .order_by("level")
    )


def area_list(*, filters: AreaFilter) -> QuerySet[AdminArea]:
    """Areas of the current editions matching the filter, ordered by p-code."""
    return (
        AdminArea.objects.filter(filters.q_object())
        .select_related("parent", "parent__parent", "version")
        .defer("geometry", "parent__geometry", "parent__parent__geometry")
        .order_by("country_iso3", "pcode")
    )


def area_get(*, country: str, pcode: str) -> AdminArea:
    """One area of the current edition, or 404."""
    try:
        return (
            AdminArea.objects.select_related("version", "parent")
            .defer("parent__geometry")
            .get(version__is_current=True, country_iso3=country.upper(), pcode=pcode)
        )
    except AdminArea.DoesNotExist:
        raise Http404(AREA_NOT_FOUND.format(pcode=pcode, country=country.upper()))


def area_children(*, area: AdminArea) -> QuerySet[AdminArea]:
    return (
        AdminArea.objects.filter(parent=area)
        .annotate(child_count=Count("children"))
        .defer("geometry")
        .order_by("name")
    )


def area_ancestors(*, area: AdminArea) -> list[AdminArea]:
    """The chain from admin0 down to the area's parent."""
    chain, node = [], area
    while node.parent_id:
        node = AdminArea.objects.defer("geometry").get(pk=node.parent_id)
        chain.append(node)
    return list(reversed(chain))


def area_search(*, q: str, country: str | None = None, limit: int = 50) -> QuerySet[AdminArea]:
    """Areas whose name (any language, accents ignored) contains q, or whose p-code starts with q."""
    filters = AreaFilter(q=q, location_code=country)
    return area_list(filters=filters).order_by("level", "name")[:limit]


def area_aliases(*, area: AdminArea) -> QuerySet[AreaAlias]:
    return AreaAlias.objects.filter(country_iso3=area.country_iso3, pcode=area.pcode, level=area.level)


def area_locations(*, area: AdminArea) -> QuerySet[Location]:
    field = f"admin{area.level}_code" if 1 <= area.level <= 3 else None
    if field is None:
        return Location.objects.filter(country_iso3=area.country_iso3)
    return Location.objects.filter(**{field: area.pcode})


def _tolerance(zoom: int | None) -> float:
    """About one screen pixel, in degrees, at this web-map zoom level."""
    if zoom is None:
        return 0.0
    return 360.0 / (256 * 2 ** max(0, min(int(zoom), 18)))


def _round(coords, digits: int):
    if isinstance(coords, float | int):
        return round(coords, digits)
    return [_round(c, digits) for c in coords]


def boundaries(
    *, country: str, parent_pcode: str | None = None, level: int | None = None, zoom: int | None = None
) -> dict:
    """A GeoJSON FeatureCollection of areas (children of a parent, or one level), simplified per zoom."""
    country = country.upper()
    version = current_versions().filter(country_iso3=country).first()
    if version is None:
        return {"type": "FeatureCollection", "features": []}
    # The caller's text goes into the key hashed: any p-code a client sends makes a short, safe key.
    asked = hashlib.sha256(f"{parent_pcode}:{level}:{zoom}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    key = f"boundaries:{version.pk}:{version.updated_at.timestamp()}:{asked}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    qs = AdminArea.objects.filter(version=version).exclude(geometry="")
    if parent_pcode:
        qs = qs.filter(parent__pcode=parent_pcode)
    if level is not None:
        qs = qs.filter(level=level)
    if not parent_pcode and level is None:
        qs = qs.filter(level=1)
    tolerance = _tolerance(zoom)
    digits = max(3, min(6, int(-math.log10(tolerance)) + 1)) if tolerance else 5
    features = []
    for area in qs.only("pcode", "name", "level", "geometry", "parent_id").order_by("pcode"):
        geom = shapely.from_geojson(area.geometry)
        if tolerance:
            geom = shapely.simplify(geom, tolerance, preserve_topology=True)
        geometry = json.loads(shapely.to_geojson(geom))
        geometry["coordinates"] = _round(geometry["coordinates"], digits)
        features.append(
            {
                "type": "Feature",
                "id": area.pcode,
                "properties": {"pcode": area.pcode, "name": area.name, "level": area.level},
                "geometry": geometry,
            }
        )
    result = {"type": "FeatureCollection", "features": features}
    cache.set(key, result, 60 * 60)
    return result


def review_list(
    *, status: str | None = MatchReview.Status.OPEN, country: str | None = None
) -> QuerySet[MatchReview]:
    qs = MatchReview.objects.select_related("import_job", "operation", "resolved_by")
    if status:
        qs = qs.filter(status=status)
    if country:
        qs = qs.filter(country_iso3=country.upper())
    return qs.order_by("-occurrences", "provider_name")


def location_list(*, country: str | None = None, mismatched: bool | None = None) -> QuerySet[Location]:
    qs = Location.objects.all()
    if country:
        qs = qs.filter(country_iso3=country.upper())
    if mismatched is not None:
        qs = qs.filter(pcode_mismatch=mismatched)
    return qs.order_by("country_iso3", "code")
