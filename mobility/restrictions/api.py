"""Read API of the restrictions app under /api/v1/restrictions/ (HAPI conventions).

``{"data": [...]}`` or CSV (``output_format=csv``), ``offset``/``limit``. Anonymous callers read
published records only; members of an operation also read its drafts (``Audience``). Thin: the
"as of" rules live in the selectors.
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from mobility.core.apitools import NOT_FOUND_EXTRA, READ_AUTH, OutputFormat, PageParams, hapi_page
from mobility.core.models import Operation

from . import selectors
from .models import OperationalStatus, PoEType, TravelRestriction
from .selectors import Audience

router = Router(tags=["restrictions"], auth=READ_AUTH)

POINT_FIELDS = [
    "operation",
    "code",
    "name",
    "type",
    "location_code",
    "border_location_code",
    "iata_code",
    "admin1_code",
    "admin2_code",
    "latitude",
    "longitude",
    "as_of",
    "status",
    "status_since",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "notes",
    "source",
    "published",
]
CHANGE_FIELDS = [
    "operation",
    "code",
    "name",
    "effective_from",
    "status",
    "previous_status",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "notes",
    "source",
    "changed_fields",
    "changes",
    "first_record",
    "correction",
    "published",
    "recorded_at",
]
TRAVEL_FIELDS = [
    "operation",
    "imposing_iso3",
    "imposing_name",
    "target",
    "target_iso3",
    "target_name",
    "target_region",
    "kind",
    "effective_from",
    "effective_to",
    "air",
    "land",
    "sea",
    "measures",
    "source",
    "source_ref",
    "source_url",
    "published",
]
CSV_DROPPED = {"changes"}  # nested: JSON only


class PointsFilter(Schema):
    date: dt.date | None = Field(None, description="the day of the statuses (default: today)")
    operation: str | None = Field(None, description="operation slug")
    location_code: str | None = Field(None, description="ISO3 of the country the point is in")
    type: PoEType | None = Field(None, description="airport, land_border, blue_border, internal_transit, …")
    status: str | None = Field(
        None, description=f"status in force: {', '.join([*OperationalStatus.values, selectors.NO_STATUS])}"
    )


class ChangesFilter(Schema):
    operation: str | None = Field(None, description="operation slug")
    code: str | None = Field(None, description="one point's code")
    effective_from_min: dt.date | None = Field(None, description="records effective on or after")
    effective_from_max: dt.date | None = Field(None, description="records effective on or before")


class TravelFilter(Schema):
    date: dt.date | None = Field(None, description="the day the restrictions are in force (default: today)")
    imposing: str | None = Field(None, description="ISO3 of the country imposing the restriction")
    target: str | None = Field(
        None,
        description="ISO3 of the travellers' country: restrictions naming it, a region it is in, or everyone",
    )
    kind: TravelRestriction.Kind | None = Field(None, description="total, partial, medical or visa")
    source: str | None = Field(None, description="cobap, wfp or manual")
    operation: str | None = Field(None, description="operation slug")


def _operation(slug: str | None) -> Operation | None:
    return get_object_or_404(Operation, slug=slug) if slug else None


def _for_format(rows: list[dict], page: PageParams, fields: list[str]) -> tuple[list[dict], list[str]]:
    """CSV cells are flat: lists become "a;b", nested columns are left out."""
    if page.output_format != OutputFormat.CSV:
        return rows, fields
    flat = [{k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    return flat, [f for f in fields if f not in CSV_DROPPED]


# An unknown operation slug in the filter is a 404 (documented, with the CSV answer, in the spec).
@router.get(
    "/points-of-entry", summary="Points of entry with their status on a date", openapi_extra=NOT_FOUND_EXTRA
)
def points_of_entry(request, filters: Query[PointsFilter], page: Query[PageParams]):
    """Every point of entry and key location of internal mobility with its status in force on ``date``."""
    day = filters.date or timezone.localdate()
    pairs = selectors.points_as_of(
        day=day,
        audience=Audience.of(request.user),
        operation=_operation(filters.operation),
        country_iso3=filters.location_code,
        type=filters.type,
        status=filters.status,
    )
    window = pairs[page.offset : page.offset + page.limit]
    rows = [selectors.point_status_row(p, s, day) for p, s in window]
    rows, fields = _for_format(rows, page, POINT_FIELDS)
    return hapi_page(rows, page.model_copy(update={"offset": 0}), fields=fields, filename="points-of-entry")


@router.get("/status-changes", summary="Change log of point-of-entry statuses", openapi_extra=NOT_FOUND_EXTRA)
def status_changes(request, filters: Query[ChangesFilter], page: Query[PageParams]):
    """Every status record, newest first, with the fields that changed against the point's previous record."""
    rows = selectors.status_change_log(
        audience=Audience.of(request.user),
        operation=_operation(filters.operation),
        poe_code=filters.code,
        date_from=filters.effective_from_min,
        date_to=filters.effective_from_max,
    )
    rows, fields = _for_format(rows, page, CHANGE_FIELDS)
    return hapi_page(rows, page, fields=fields, filename="status-changes")


def _travel_row(r: TravelRestriction) -> dict:
    details = r.details or {}
    return {
        "operation": r.operation.slug,
        "imposing_iso3": r.imposing_iso3,
        "imposing_name": selectors.country_name(r.imposing_iso3),
        "target": r.target,
        "target_iso3": r.target_iso3,
        "target_name": selectors.country_name(r.target_iso3) if r.target_iso3 else "",
        "target_region": r.target_region,
        "kind": r.kind,
        "effective_from": r.effective_from,
        "effective_to": r.effective_to,
        "air": details.get("air"),
        "land": details.get("land"),
        "sea": details.get("sea"),
        "measures": list(details.get("measures") or []),
        "source": r.source,
        "source_ref": r.source_ref,
        "source_url": r.source_url,
        "published": r.published,
    }


@router.get(
    "/travel",
    summary="Travel restrictions between countries in force on a date",
    openapi_extra=NOT_FOUND_EXTRA,
)
def travel(request, filters: Query[TravelFilter], page: Query[PageParams]):
    """Restrictions in force on ``date`` (imposing country → country, region or everyone, and kind)."""
    qs = (
        selectors.travel_in_force(
            day=filters.date or timezone.localdate(),
            audience=Audience.of(request.user),
            operation=_operation(filters.operation),
            imposing=filters.imposing,
            target=filters.target,
            kind=filters.kind,
            source=filters.source,
        )
        .select_related("operation")
        .defer("notes")
    )
    window = qs[page.offset : page.offset + page.limit]
    rows, fields = _for_format([_travel_row(r) for r in window], page, TRAVEL_FIELDS)
    return hapi_page(
        rows, page.model_copy(update={"offset": 0}), fields=fields, filename="travel-restrictions"
    )
