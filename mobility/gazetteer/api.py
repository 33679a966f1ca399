"""Gazetteer API: HAPI-shaped metadata (location, admin1, admin2, admin3) and the p-code tree, search and maps."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import Http404
from ninja import Field, Query, Router, Schema

from mobility.core.apitools import READ_AUTH, PageParams, Problem, hapi_page

from . import selectors
from .filters import AreaFilter
from .models import AdminArea, GazetteerVersion

router = Router(tags=["gazetteer"], auth=READ_AUTH)
metadata = Router(tags=["metadata"], auth=READ_AUTH)


class LocationOut(Schema):
    code: str = Field(description="ISO3 country code")
    name: str
    from_cods: bool
    admin_levels: int
    gazetteer_edition: str
    reference_period_start: dt.date
    reference_period_end: dt.date | None = None


class Admin1Out(Schema):
    code: str
    name: str
    is_unspecified: bool = False
    from_cods: bool
    location_code: str
    location_name: str
    reference_period_start: dt.date
    reference_period_end: dt.date | None = None


class Admin2Out(Admin1Out):
    admin1_code: str
    admin1_name: str


class Admin3Out(Admin2Out):
    admin2_code: str
    admin2_name: str


class DataPage(Schema):
    data: list[dict]


def _ancestor_names(area: AdminArea) -> dict:
    chain, node = {}, area
    while node is not None:
        chain[node.level] = node
        node = node.parent if node.parent_id else None
    return chain


def _area_row(area: AdminArea) -> dict:
    chain = _ancestor_names(area)
    version = area.version
    row = {
        "code": area.pcode,
        "name": area.name,
        "is_unspecified": False,
        "from_cods": version.source_format == GazetteerVersion.Format.COD,
        "location_code": area.country_iso3,
        "location_name": chain[0].name if 0 in chain else area.country_iso3,
        "reference_period_start": version.valid_from,
        "reference_period_end": None,
    }
    for level in range(1, area.level):
        if level in chain:
            row[f"admin{level}_code"] = chain[level].pcode
            row[f"admin{level}_name"] = chain[level].name
    return row


ADMIN_FIELDS = {
    1: list(Admin1Out.model_fields),
    2: list(Admin2Out.model_fields),
    3: list(Admin3Out.model_fields),
}


class AdminQuery(Schema):
    location_code: str | None = Field(None, description="ISO3 country code, e.g. MOZ")
    location_name: str | None = Field(None, description="Country name")
    admin1_code: str | None = Field(None, description="Admin-1 p-code")
    admin1_name: str | None = Field(None, description="Admin-1 name (accents and case ignored)")
    admin2_code: str | None = Field(None, description="Admin-2 p-code")
    admin2_name: str | None = Field(None, description="Admin-2 name (accents and case ignored)")
    code: str | None = Field(None, description="The area's own p-code")
    name: str | None = Field(None, description="The area's own name (part of it; accents and case ignored)")


def _admin_rows(level: int, query: AdminQuery):
    filters = AreaFilter(
        location_code=query.location_code,
        admin_level=level,
        admin1_code=query.admin1_code,
        admin1_name=query.admin1_name,
        admin2_code=query.admin2_code if level >= 2 else None,
        admin2_name=query.admin2_name if level >= 2 else None,
    )
    qs = selectors.area_list(filters=filters)
    if query.code:
        qs = qs.filter(pcode=query.code.strip())
    if query.name:
        qs = qs.filter(AreaFilter(q=query.name).q_object())
    if query.location_name:
        admin0 = selectors.area_list(filters=AreaFilter(admin_level=0, q=query.location_name))
        qs = qs.filter(country_iso3__in=admin0.values("country_iso3"))
    return _RowList(qs)


class _RowList:
    """Lazily turns a sliced queryset of areas into HAPI rows (one query for the slice)."""

    def __init__(self, qs):
        self.qs = qs.select_related("parent__parent__parent", "version")

    def __getitem__(self, item):
        return [_area_row(a) for a in self.qs[item]]


@metadata.get("/location", response=DataPage, summary="Countries in the gazetteer")
def location(
    request, page: Query[PageParams], location_code: str | None = None, location_name: str | None = None
):
    """One row per country with a current gazetteer edition (HAPI /metadata/location shape)."""
    rows = []
    for version in selectors.current_versions():
        admin0 = version.areas.filter(level=0).only("name").first()
        name = admin0.name if admin0 else version.country_iso3
        if location_code and version.country_iso3 != location_code.strip().upper():
            continue
        if location_name and location_name.lower() not in name.lower():
            continue
        rows.append(
            {
                "code": version.country_iso3,
                "name": name,
                "from_cods": version.source_format == GazetteerVersion.Format.COD,
                "admin_levels": version.max_level,
                "gazetteer_edition": version.edition,
                "reference_period_start": version.valid_from,
                "reference_period_end": None,
            }
        )
    return hapi_page(rows, page, fields=list(LocationOut.model_fields), filename="location")


@metadata.get("/admin1", response=DataPage, summary="Admin-1 areas")
def admin1(request, filters: Query[AdminQuery], page: Query[PageParams]):
    """Admin-1 areas of the current editions (HAPI /metadata/admin1 shape)."""
    return hapi_page(_admin_rows(1, filters), page, fields=ADMIN_FIELDS[1], filename="admin1")


@metadata.get("/admin2", response=DataPage, summary="Admin-2 areas")
def admin2(request, filters: Query[AdminQuery], page: Query[PageParams]):
    """Admin-2 areas with their admin-1 (HAPI /metadata/admin2 shape)."""
    return hapi_page(_admin_rows(2, filters), page, fields=ADMIN_FIELDS[2], filename="admin2")


@metadata.get("/admin3", response=DataPage, summary="Admin-3 areas")
def admin3(request, filters: Query[AdminQuery], page: Query[PageParams]):
    """Admin-3 areas with their admin-1 and admin-2 (an extension of the HAPI shape)."""
    return hapi_page(_admin_rows(3, filters), page, fields=ADMIN_FIELDS[3], filename="admin3")


class AreaOut(Schema):
    pcode: str
    name: str
    names: dict[str, str]
    level: int
    location_code: str
    parent_code: str | None
    area_type: str
    area_km2: float | None
    bbox: list[float] | None
    has_geometry: bool


def _area_out(area: AdminArea) -> dict:
    return {
        "pcode": area.pcode,
        "name": area.name,
        "names": area.names,
        "level": area.level,
        "location_code": area.country_iso3,
        "parent_code": area.parent.pcode if area.parent_id else None,
        "area_type": area.area_type,
        "area_km2": area.area_km2,
        "bbox": area.bbox,
        "has_geometry": bool(area.geometry),
    }


@router.get("/areas", response=DataPage, summary="Search areas")
def areas(request, filters: Query[AreaFilter], page: Query[PageParams]):
    """Areas of the current editions by country, level, parent, or a name / p-code search."""

    class Rows:
        def __getitem__(self, item):
            return [_area_out(a) for a in selectors.area_list(filters=filters)[item]]

    return hapi_page(Rows(), page, fields=list(AreaOut.model_fields), filename="areas")


class AreaDetail(AreaOut):
    ancestors: list[AreaOut]
    children: list[AreaOut]
    aliases: list[str]


@router.get(
    "/areas/{location_code}/{pcode}",
    response={200: AreaDetail, 404: Problem},
    summary="One area with its tree",
)
def area_detail(request, location_code: str, pcode: str):
    """An area, its ancestors, its children and its known aliases."""
    area = selectors.area_get(country=location_code, pcode=pcode)
    return {
        **_area_out(area),
        "ancestors": [_area_out(a) for a in selectors.area_ancestors(area=area)],
        "children": [_area_out(a) for a in selectors.area_children(area=area).select_related("parent")],
        "aliases": list(selectors.area_aliases(area=area).values_list("name", flat=True)),
    }


class FeatureCollection(Schema):
    type: Literal["FeatureCollection"]
    features: list[dict]


@router.get("/boundaries", response=FeatureCollection, summary="Boundaries as GeoJSON")
def boundaries(
    request,
    location_code: str = Query(..., description="ISO3 country code"),
    parent_code: str | None = Query(None, description="Children of this p-code"),
    admin_level: int | None = Query(None, ge=0, le=5, description="Only this admin level"),
    zoom: int | None = Query(None, ge=0, le=18, description="Web-map zoom; geometry is simplified to it"),
):
    """Areas with a boundary as a GeoJSON FeatureCollection, simplified for the map's zoom level."""
    return selectors.boundaries(country=location_code, parent_pcode=parent_code, level=admin_level, zoom=zoom)


class VersionOut(Schema):
    id: int
    location_code: str = Field(alias="country_iso3")
    edition: str
    valid_from: dt.date
    source: str
    source_format: str
    is_current: bool
    max_level: int
    area_count: int


class ChangeOut(Schema):
    pcode: str
    level: int
    change: str
    old_name: str
    new_name: str
    old_parent: str
    new_parent: str


@router.get("/versions", response=list[VersionOut], summary="Gazetteer editions")
def versions(request, location_code: str | None = None):
    """Every edition of every country's gazetteer (or of one country), newest first."""
    if location_code:
        return selectors.version_list(country=location_code)
    return GazetteerVersion.objects.order_by("country_iso3", "-valid_from", "-id")


@router.get(
    "/versions/{version_id}/changes",
    response={200: list[ChangeOut], 404: Problem},
    summary="Changes of an edition",
)
def version_changes(request, version_id: int):
    """P-codes added, removed, renamed or re-parented when this edition replaced the previous one."""
    version = GazetteerVersion.objects.filter(pk=version_id).first()
    if version is None:
        raise Http404("No such gazetteer edition.")
    return selectors.version_changes(version=version)
