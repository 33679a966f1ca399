"""HAPI-compatible read API: /api/v1/affected-people/idps and /returnees.

Reads only ``PublishedCell`` totals (``breakdown=""``) of current releases, so every caller —
anonymous or not — sees published, disclosure-checked figures and nothing else. Field names and
filters follow OCHA HDX HAPI's ``affected-people/idps``; a suppressed cell answers
``population: null`` with ``suppressed: true``, never a number.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from ninja import Field, Query, Router, Schema

from mobility.core.apitools import READ_AUTH, PageParams, hapi_page
from mobility.core.models import PopulationGroup

from .models import PublishedCell, Release

router = Router(tags=["affected people"])

IDP_GROUPS = (PopulationGroup.IDP,)
RETURNEE_GROUPS = (PopulationGroup.RETURNEE_IDP, PopulationGroup.RETURNEE_ABROAD)

IDP_FIELDS = [
    "location_code",
    "location_name",
    "has_hrp",
    "in_gho",
    "provider_admin1_name",
    "provider_admin2_name",
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "admin_level",
    "operation",
    "assessment_type",
    "population",
    "suppressed",
    "reporting_round",
    "reference_period_start",
    "reference_period_end",
]
RETURNEE_FIELDS = [*IDP_FIELDS[:13], "population_group", *IDP_FIELDS[13:]]


class AffectedPeopleFilter(Schema):
    """What a reader of published IDP / returnee figures may ask for (HAPI's parameter names)."""

    location_code: str | None = Field(None, description="ISO3 country code, e.g. TCD")
    admin1_code: str | None = Field(None, description="admin-1 p-code")
    admin2_code: str | None = Field(None, description="admin-2 p-code")
    admin1_name: str | None = Field(None, description="admin-1 name (gazetteer), part of it, any case")
    provider_admin1_name: str | None = Field(None, description="admin-1 name as the source wrote it")
    admin_level: int | None = Field(None, ge=0, le=3, description="0 country, 1, 2 or 3")
    reporting_round: int | None = Field(None, ge=1, description="round number")
    assessment_type: str | None = Field(None, description="BA (baseline area), BSA (sub-area) or SA (site)")
    operation: str | None = Field(None, description="operation name, part of it, any case")
    population_min: int | None = Field(None, ge=0, description="population at least")
    population_max: int | None = Field(None, ge=0, description="population at most")
    reference_period_start_min: dt.date | None = Field(
        None, description="reference period starts on or after"
    )
    reference_period_start_max: dt.date | None = Field(
        None, description="reference period starts on or before"
    )
    reference_period_end_min: dt.date | None = Field(None, description="reference period ends on or after")
    reference_period_end_max: dt.date | None = Field(None, description="reference period ends on or before")

    # Filters on the release are answered first from the small Release table (see release_q).
    _RELEASE = {"reporting_round": "reporting_round", "operation": "operation__name__icontains"}
    _CELL = {
        "location_code": "country_iso3__in",
        "admin1_code": "admin1_code__in",
        "admin2_code": "admin2_code__in",
        "admin1_name": "admin1_name__icontains",
        "provider_admin1_name": "provider_admin1_name__icontains",
        "admin_level": "admin_level",
        "assessment_type": "assessment_type__iexact",
        "population_min": "individuals__gte",
        "population_max": "individuals__lte",
        "reference_period_start_min": "reference_period_start__gte",
        "reference_period_start_max": "reference_period_start__lte",
        "reference_period_end_min": "reference_period_end__gte",
        "reference_period_end_max": "reference_period_end__lte",
    }

    def _q(self, lookups: dict[str, str]) -> Q:
        q = Q()
        for name, lookup in lookups.items():
            value = getattr(self, name)
            if value is not None and value != "":
                if lookup.endswith("__in"):
                    # Codes in any case, still by index (iexact would scan on SQLite).
                    value = {value.strip(), value.strip().upper()}
                q &= Q(**{lookup: value})
        return q

    def release_q(self) -> Q:
        return self._q(self._RELEASE)

    def q(self) -> Q:
        return self._q(self._CELL)


# (HAPI field, PublishedCell column) — read with values_list, shaped per row below.
_COLUMNS = (
    ("location_code", "country_iso3"),
    ("location_name", "location_name"),
    ("provider_admin1_name", "provider_admin1_name"),
    ("provider_admin2_name", "provider_admin2_name"),
    ("admin1_code", "admin1_code"),
    ("admin1_name", "admin1_name"),
    ("admin2_code", "admin2_code"),
    ("admin2_name", "admin2_name"),
    ("admin_level", "admin_level"),
    ("operation", "release__operation__name"),
    ("assessment_type", "assessment_type"),
    ("population_group", "population_group"),
    ("population", "individuals"),
    ("suppressed", "suppressed"),
    ("reporting_round", "release__reporting_round"),
    ("reference_period_start", "reference_period_start"),
    ("reference_period_end", "reference_period_end"),
)
_NAMES = tuple(name for name, _column in _COLUMNS)


def published_totals(*, groups: tuple[str, ...], filters: AffectedPeopleFilter) -> QuerySet:
    """Published totals (current releases only) of the groups, as tuples in ``_COLUMNS`` order, stable order."""
    # The current releases first (a small table), so the cell query uses the (release, breakdown, ...) index.
    releases = list(
        Release.objects.filter(filters.release_q(), status=Release.Status.CURRENT).values_list(
            "pk", flat=True
        )
    )
    return (
        PublishedCell.objects.filter(
            filters.q(),
            release_id__in=releases,
            breakdown=PublishedCell.Breakdown.TOTAL,
            population_group__in=groups,
            location_code="",  # area cells: HAPI's rows are admin areas, not sites
        )
        # The order of the (release, breakdown, admin_level, population_group) index (rowid last): a page
        # is read straight from the index and stops at the limit, with no sort of every matching row.
        .order_by("release_id", "breakdown", "admin_level", "population_group", "pk")
        .values_list(*(column for _name, column in _COLUMNS))
    )


class _HapiRows:
    """Slices the queryset, then shapes each row (HAPI's null has_hrp / in_gho, no number when suppressed)."""

    def __init__(self, qs: QuerySet, fields: list[str]):
        self.qs, self.fields = qs, fields

    def __getitem__(self, item: slice):
        rows = []
        for values in self.qs[item]:
            row = dict(zip(_NAMES, values, strict=True), has_hrp=None, in_gho=None)
            if row["suppressed"]:
                row["population"] = None
            rows.append({name: row[name] for name in self.fields})
        return rows


@router.get("/idps", auth=READ_AUTH, summary="Internally displaced persons (HAPI-compatible)")
def idps(request, filters: Query[AffectedPeopleFilter], page: Query[PageParams]):
    """Published IDP figures by area, operation, round and assessment type, as HDX HAPI's affected-people/idps."""
    rows = published_totals(groups=IDP_GROUPS, filters=filters)
    return hapi_page(_HapiRows(rows, IDP_FIELDS), page, fields=IDP_FIELDS, filename="idps")


@router.get("/returnees", auth=READ_AUTH, summary="Returnees (HAPI-compatible)")
def returnees(request, filters: Query[AffectedPeopleFilter], page: Query[PageParams]):
    """Published returnee figures (from internal displacement RET-IDP and from abroad RET-ABR), HAPI field names."""
    rows = published_totals(groups=RETURNEE_GROUPS, filters=filters)
    return hapi_page(_HapiRows(rows, RETURNEE_FIELDS), page, fields=RETURNEE_FIELDS, filename="returnees")
