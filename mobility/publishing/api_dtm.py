"""DTM API v3-compatible read API under /api/dtm/v3/: existing DTM clients (e.g. PyPI ``dtmapi``) work unchanged.

Answers DTM's envelope ``{result, statusCode, isSuccess, errorMessages, totalRecordsCount}`` with
records named as DTM publishes them. Records are the published displacement-reason × origin parts
(``PublishedCell`` with ``breakdown="reason"``, IDPs) of current releases only. P-codes are the
gazetteer's (a DTM "TD07" imported into a gazetteer that says "TCD07" comes back as "TCD07").

The ``Ocp-Apim-Subscription-Key`` header DTM clients send is accepted with any value (the data is
public); when it is one of our API tokens, the request is made as that token's user.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.db import DataError
from django.db.models import Q, Value
from django.db.models.functions import Upper
from django.db.models.lookups import Exact
from django.http import JsonResponse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import ValidationError as NinjaValidationError

from mobility.core.models import ApiToken, Operation, PopulationGroup

from .dtm_rollup import roll_up
from .models import PublishedCell, Release

api = NinjaAPI(
    title="Mobility — DTM API v3 compatible",
    version="3",
    description=(
        "The displacement endpoints of IOM's DTM API v3, answered from this system's published data. "
        "Point a DTM client (e.g. the `dtmapi` Python package) here; any `Ocp-Apim-Subscription-Key` works."
    ),
    urls_namespace="dtm",
    docs_url="/docs",
)

NOT_AVAILABLE = "Not available"
PARAMS_REQUIRED = "At least one of the following parameters is required: Operation, CountryName, Admin0Pcode"
INVALID_PARAMETER = "Invalid value for {field}: {message}"
VALUE_NOT_SEARCHABLE = "A value in the request cannot be searched (a NUL character, or a number too large)."
KEY_HEADER = "Ocp-Apim-Subscription-Key"

_COMMON = ("operation", "admin0Name", "admin0Pcode")
_FIGURES = (
    "numPresentIdpInd",
    "reportingDate",
    "yearReportingDate",
    "monthReportingDate",
    "roundNumber",
    "displacementReason",
    "numberMales",
    "numberFemales",
    "idpOriginAdmin1Name",
    "idpOriginAdmin1Pcode",
    "assessmentType",
)
RECORD_FIELDS = {
    0: (*_COMMON, *_FIGURES),
    1: ("id", *_COMMON, "admin1Name", "admin1Pcode", *_FIGURES),
    2: ("id", *_COMMON, "admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode", *_FIGURES),
}
_CELL_COLUMNS = (
    "pk",
    "release__operation__name",
    "release__reporting_round",
    "country_iso3",
    "location_name",
    "admin1_code",
    "admin1_name",
    "provider_admin1_name",
    "admin2_code",
    "admin2_name",
    "provider_admin2_name",
    "individuals",
    "males",
    "females",
    "suppressed",
    "reporting_date",
    "displacement_reason",
    "provider_reason",
    "origin_admin1_code",
    "origin_admin1_name",
    "assessment_type",
    "source_ref",
)


class DisplacementRecord(Schema):
    """One DTM displacement record; ``id`` from admin 1 on, admin 1 and 2 names and p-codes as deep as the level."""

    id: int | None = None
    operation: str
    admin0Name: str  # noqa: N815 - DTM's names
    admin0Pcode: str  # noqa: N815
    admin1Name: str | None = None  # noqa: N815
    admin1Pcode: str | None = None  # noqa: N815
    admin2Name: str | None = None  # noqa: N815
    admin2Pcode: str | None = None  # noqa: N815
    numPresentIdpInd: int | None  # noqa: N815 - null when the cell is suppressed
    reportingDate: str  # noqa: N815
    yearReportingDate: int  # noqa: N815
    monthReportingDate: int  # noqa: N815
    roundNumber: int  # noqa: N815
    displacementReason: str  # noqa: N815
    numberMales: int | None  # noqa: N815
    numberFemales: int | None  # noqa: N815
    idpOriginAdmin1Name: str  # noqa: N815
    idpOriginAdmin1Pcode: str  # noqa: N815
    assessmentType: str  # noqa: N815


class CountryRow(Schema):
    admin0Name: str  # noqa: N815
    admin0Pcode: str  # noqa: N815


class OperationRow(Schema):
    operation: str
    operationStatus: str  # noqa: N815
    admin0Name: str  # noqa: N815
    admin0Pcode: str  # noqa: N815


class Envelope(Schema):
    """DTM's answer shape; ``result`` is null and ``errorMessages`` say why when ``isSuccess`` is false."""

    statusCode: int  # noqa: N815
    isSuccess: bool  # noqa: N815
    errorMessages: list[str]  # noqa: N815
    totalRecordsCount: int  # noqa: N815


class DisplacementEnvelope(Envelope):
    result: list[DisplacementRecord] | None


class CountryEnvelope(Envelope):
    result: list[CountryRow] | None


class OperationEnvelope(Envelope):
    result: list[OperationRow] | None


# The handlers answer JsonResponse themselves; these document it (400: a missing or invalid filter).
DISPLACEMENT_ANSWERS = {200: DisplacementEnvelope, 400: DisplacementEnvelope}


def envelope(result, *, status: int = 200, errors: list[str] | None = None) -> JsonResponse:
    """DTM's answer shape."""
    ok = not errors
    return JsonResponse(
        {
            "result": result if ok else None,
            "statusCode": status,
            "isSuccess": ok,
            "errorMessages": errors or [],
            "totalRecordsCount": len(result) if ok and isinstance(result, list) else 0,
        },
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    messages = []
    for error in exc.errors:
        field = ".".join(str(p) for p in error.get("loc", [])[1:]) or "request"
        messages.append(INVALID_PARAMETER.format(field=field, message=error.get("msg", "invalid")))
    return envelope(None, status=400, errors=messages)


@api.exception_handler(DataError)
def _not_searchable(request, exc: DataError):
    # PostgreSQL cannot search text holding a NUL character: the caller's value, so a 400 (never a 500).
    return envelope(None, status=400, errors=[VALUE_NOT_SEARCHABLE])


def caller(request):
    """The user a DTM subscription key stands for (one of our API tokens), else anonymous."""
    key = request.headers.get(KEY_HEADER, "").strip()
    if key:
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is not None:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
            request.user = token.user
            return token.user
    user = getattr(request, "user", None)
    return user if user is not None else AnonymousUser()


def _any_case(code: str) -> set[str]:
    """A code as given and upper-cased: matched by index (iexact would scan on SQLite)."""
    return {code.strip(), code.strip().upper()}


def same_name(field: str, value: str) -> Exact:
    """Case-insensitive equality that an index on Upper(field) serves (iexact scans on SQLite).

    Both sides are upper-cased by the database, so the rule is the database's own on either side.
    """
    return Exact(Upper(field), Upper(Value(value.strip())))


class DisplacementFilter(Schema):
    """DTM API v3's parameters (its names and capitals); one of the first three is required."""

    Operation: str | None = Field(None, description="operation name, e.g. Lake Chad Basin Crisis")
    CountryName: str | None = Field(None, description="country name, e.g. Chad")
    Admin0Pcode: str | None = Field(None, description="ISO3 country code, e.g. TCD")
    Admin1Name: str | None = Field(None, description="admin-1 name")
    Admin1Pcode: str | None = Field(None, description="admin-1 p-code")
    Admin2Name: str | None = Field(None, description="admin-2 name")
    Admin2Pcode: str | None = Field(None, description="admin-2 p-code")
    FromReportingDate: dt.date | None = Field(None, description="reported on or after (YYYY-MM-DD)")
    ToReportingDate: dt.date | None = Field(None, description="reported on or before (YYYY-MM-DD)")
    FromRoundNumber: int | None = Field(None, ge=1, description="round number at least")
    ToRoundNumber: int | None = Field(None, ge=1, description="round number at most")

    def has_required(self) -> bool:
        return any((self.Operation, self.CountryName, self.Admin0Pcode))

    def release_q(self) -> Q:
        """The part answered from the small Release table."""
        q = Q()
        if self.Operation:
            q &= Q(same_name("operation__name", self.Operation))
        if self.FromRoundNumber:
            q &= Q(reporting_round__gte=self.FromRoundNumber)
        if self.ToRoundNumber:
            q &= Q(reporting_round__lte=self.ToRoundNumber)
        return q

    def q(self) -> Q:
        q = Q()
        if self.CountryName:
            q &= Q(same_name("location_name", self.CountryName))
        if self.Admin0Pcode:
            q &= Q(country_iso3__in=_any_case(self.Admin0Pcode))
        if self.Admin1Name:
            name = self.Admin1Name
            q &= Q(same_name("provider_admin1_name", name)) | Q(same_name("admin1_name", name))
        if self.Admin1Pcode:
            q &= Q(admin1_code__in=_any_case(self.Admin1Pcode))
        if self.Admin2Name:
            name = self.Admin2Name
            q &= Q(same_name("provider_admin2_name", name)) | Q(same_name("admin2_name", name))
        if self.Admin2Pcode:
            q &= Q(admin2_code__in=_any_case(self.Admin2Pcode))
        if self.FromReportingDate:
            q &= Q(reporting_date__gte=self.FromReportingDate)
        if self.ToReportingDate:
            q &= Q(reporting_date__lte=self.ToReportingDate)
        return q


def _reason_label(code: str) -> str:
    from mobility.tracking.models import DisplacementReason

    try:
        return str(DisplacementReason(code).label)
    except ValueError:
        return code


def _record(row: tuple, level: int) -> dict:
    c = dict(zip(_CELL_COLUMNS, row, strict=True))
    date = c["reporting_date"]
    ref = c["source_ref"] or ""
    suppressed = c["suppressed"]
    full = {
        "id": int(ref) if ref.isdigit() else c["pk"],
        "operation": c["release__operation__name"],
        "admin0Name": c["location_name"],
        "admin0Pcode": c["country_iso3"],
        "admin1Name": c["provider_admin1_name"] or c["admin1_name"],
        "admin1Pcode": c["admin1_code"],
        "admin2Name": c["provider_admin2_name"] or c["admin2_name"],
        "admin2Pcode": c["admin2_code"],
        "numPresentIdpInd": None if suppressed else c["individuals"],
        "reportingDate": f"{date.isoformat()}T00:00:00",
        "yearReportingDate": date.year,
        "monthReportingDate": date.month,
        "roundNumber": c["release__reporting_round"],
        "displacementReason": c["provider_reason"] or _reason_label(c["displacement_reason"]),
        "numberMales": None if suppressed else c["males"],
        "numberFemales": None if suppressed else c["females"],
        "idpOriginAdmin1Name": c["origin_admin1_name"] or NOT_AVAILABLE,
        "idpOriginAdmin1Pcode": c["origin_admin1_code"] or NOT_AVAILABLE,
        "assessmentType": c["assessment_type"],
    }
    return {name: full[name] for name in RECORD_FIELDS[level]}


def displacement_records(*, level: int, filters: DisplacementFilter) -> list[dict]:
    """Published reason × origin parts of IDP figures at one admin level, as DTM API v3 records."""
    # The current releases first (a small table), so the cell query uses the (release, breakdown, ...) index.
    releases = list(
        Release.objects.filter(filters.release_q(), status=Release.Status.CURRENT).values_list(
            "pk", flat=True
        )
    )
    cells = PublishedCell.objects.filter(
        filters.q(),
        release_id__in=releases,
        breakdown=PublishedCell.Breakdown.REASON,
        population_group=PopulationGroup.IDP,
    )
    rows = list(
        cells.filter(admin_level=level)
        # No paging in DTM's API: every match is read, so let the planner pick the index (p-code or release).
        .order_by("release_id", "admin1_code", "admin2_code", "assessment_type", "pk")
        .values_list(*_CELL_COLUMNS, "release_id")
    )
    records = [_record(row[:-1], level) for row in rows]
    # Releases with no parts at this level but finer ones (a round counted at admin 2): roll them up,
    # as DTM serves every round at every level.
    reported = {row[-1] for row in rows}
    missing = [pk for pk in releases if pk not in reported]
    if missing and level < 2:
        finer = cells.filter(release_id__in=missing, admin_level__gt=level).values(
            *_CELL_COLUMNS, "release_id", "admin_level"
        )
        by_release: dict[int, list[dict]] = {}
        for cell in finer:
            by_release.setdefault(cell["release_id"], []).append(cell)
        chosen = []
        for group in by_release.values():
            # Only the shallowest finer level of a release, so no part is counted twice.
            top = min(c["admin_level"] for c in group)
            chosen += [c for c in group if c["admin_level"] == top]
        records += [_record(tuple(r[c] for c in _CELL_COLUMNS), level) for r in roll_up(chosen, level=level)]
    return records


def _displacement(request, filters: DisplacementFilter, level: int):
    caller(request)
    if not filters.has_required():
        return envelope(None, status=400, errors=[PARAMS_REQUIRED])
    return envelope(displacement_records(level=level, filters=filters))


@api.get(
    "/displacement/admin0",
    response=DISPLACEMENT_ANSWERS,
    summary="IDPs by country (DTM API v3)",
    tags=["displacement"],
)
def admin0(request, filters: Query[DisplacementFilter]):
    """Country-level IDP records: one per operation, round, assessment type, reason and origin."""
    return _displacement(request, filters, 0)


@api.get(
    "/displacement/admin1",
    response=DISPLACEMENT_ANSWERS,
    summary="IDPs by admin 1 (DTM API v3)",
    tags=["displacement"],
)
def admin1(request, filters: Query[DisplacementFilter]):
    """Admin-1 IDP records (with `id`, `admin1Name`, `admin1Pcode`)."""
    return _displacement(request, filters, 1)


@api.get(
    "/displacement/admin2",
    response=DISPLACEMENT_ANSWERS,
    summary="IDPs by admin 2 (DTM API v3)",
    tags=["displacement"],
)
def admin2(request, filters: Query[DisplacementFilter]):
    """Admin-2 IDP records (with the admin-1 and admin-2 names and p-codes)."""
    return _displacement(request, filters, 2)


def _published_countries() -> list[tuple[str, str, str, str]]:
    """(operation name, country name, ISO3, operation status) of every operation with a current release."""
    operations = set(
        Release.objects.filter(status=Release.Status.CURRENT).values_list(
            "operation__name", "operation__country_iso3", "operation__status"
        )
    )
    names = {}
    for code in {c for _op, c, _s in operations}:
        # One indexed look-up per country: the name the published cells carry (DTM's admin0Name).
        names[code] = (
            PublishedCell.objects.filter(country_iso3=code, release__status=Release.Status.CURRENT)
            .exclude(location_name="")
            .values_list("location_name", flat=True)
            .first()
            or code
        )
    return sorted((op, names[code], code, status) for op, code, status in operations)


@api.get(
    "/displacement/country-list",
    response=CountryEnvelope,
    summary="Countries with published displacement data",
    tags=["lists"],
)
def country_list(request):
    """`admin0Name`, `admin0Pcode` of every country with published displacement figures."""
    caller(request)
    seen = {(name, code) for _op, name, code, _status in _published_countries()}
    return envelope([{"admin0Name": n, "admin0Pcode": c} for n, c in sorted(seen)])


@api.get(
    "/displacement/operation-list",
    response=OperationEnvelope,
    summary="Operations with published displacement data",
    tags=["lists"],
)
def operation_list(request):
    """`operation`, `operationStatus` (Active / Inactive), `admin0Name`, `admin0Pcode` per operation."""
    caller(request)
    return envelope(
        [
            {
                "operation": op,
                "operationStatus": "Active" if status == Operation.Status.ACTIVE else "Inactive",
                "admin0Name": name,
                "admin0Pcode": code,
            }
            for op, name, code, status in _published_countries()
        ]
    )
