"""Importer ``flows.points``: the registry of flow monitoring points (FMPs) from CSV or XLSX.

One row per point. Columns (header case does not matter; aliases in brackets):

- ``code`` [fmp_code], ``name`` [fmp_name]: required. The code is the team's own and stays the
  same over time: a re-import updates the point with that code, never adds a second one.
- ``type`` [fmp_type]: border_crossing, transit_centre, bus_station, train_station, port, airport,
  roadside, other (labels such as "Bus station" and words such as "bus terminal" are understood).
- ``country`` [country_iso3]: ISO3 (default: the operation's country); ``border_country``
  [border_country_iso3]: the country on the other side of a border crossing. Country names work too.
- ``admin1`` [admin1_code], ``admin2`` [admin2_code]: p-codes, checked against the current
  gazetteer of the point's country when one is loaded (admin2 must lie in admin1).
- ``latitude`` [lat], ``longitude`` [lon, lng, long]: decimal degrees, given together.
- ``movement_types``: a ";" list of cross_border, internal, transit, return, seasonal.
- ``observed_days`` ("Mon-Fri"), ``observed_hours`` ("06:00-18:00"), or both in ``schedule``
  ("Mon-Fri 06:00-18:00"): when the team counts (see ``flows.points``).
- ``corridor``: the name of the corridor the point belongs to (created when new).
- ``active``: yes/no (default yes).

job.profile = {"operation": ID or slug} (or the job's operation).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import (
    JOB_OPERATION_UNKNOWN,
    Counts,
    ImportFailed,
    ReadResult,
    RowError,
    job_path,
    register,
)
from mobility.core.imports import job_operation as core_job_operation
from mobility.core.models import ImportJob, Operation
from mobility.core.tables import read_table

from ..points import (
    PointRow,
    days_parse,
    hours_parse,
    movement_types_parse,
    point_type_parse,
    points_write,
    schedule_parse,
)
from ..profiles import country_code

KIND = "flows.points"

NO_OPERATION = _("Say which operation the points belong to (choose it on the upload form, or --operation).")
OPERATION_UNKNOWN = JOB_OPERATION_UNKNOWN
MISSING_COLUMNS = _("The file has no {columns} column; it has: {found}.")
ROW_REQUIRED = _("is required")
ROW_CODE_TWICE = _("point {code} is already on row {first}")
ROW_COUNTRY = _("is not a country (give its ISO3 code, e.g. MOZ)")
ROW_NOT_NUMBER = _("is not a number")
ROW_OUT_OF_RANGE = _("is outside {low}..{high}")
ROW_HALF_COORDINATES = _("latitude and longitude must be given together")
ROW_PCODE_UNKNOWN = _("is not an admin {level} p-code of {country} in the current gazetteer")
ROW_PCODE_OUTSIDE = _("is not inside {parent}")
ROW_NOT_YES_NO = _("is not yes or no")
ROW_SCHEDULE_TWICE = _("give either schedule or observed_days/observed_hours, not both")
WARN_IGNORED = _("Columns not read: {columns}.")

ALIASES = {
    "fmp_code": "code",
    "fmp_name": "name",
    "fmp_type": "type",
    "point_type": "type",
    "country_iso3": "country",
    "border_country_iso3": "border_country",
    "admin1_code": "admin1",
    "admin2_code": "admin2",
    "lat": "latitude",
    "lon": "longitude",
    "lng": "longitude",
    "long": "longitude",
    "movement_type": "movement_types",
    "days": "observed_days",
    "hours": "observed_hours",
    "observation_schedule": "schedule",
    "corridor_name": "corridor",
}
COLUMNS = [
    "code",
    "name",
    "type",
    "country",
    "border_country",
    "admin1",
    "admin2",
    "latitude",
    "longitude",
    "movement_types",
    "observed_days",
    "observed_hours",
    "schedule",
    "corridor",
    "active",
]
YES = {"yes", "y", "true", "1", "sim", "oui", "active"}
NO = {"no", "n", "false", "0", "nao", "não", "non", "inactive"}


def job_operation(job: ImportJob) -> Operation:
    """The operation an import writes to: the job's, or the one its profile names (id, slug or name)."""
    return core_job_operation(job, missing=NO_OPERATION)


class _Gazetteers:
    """The current gazetteer of each country a file names, loaded once (None when not loaded)."""

    def __init__(self):
        self._cache: dict = {}

    def get(self, iso3: str):
        if iso3 not in self._cache:
            from mobility.tracking.importers.events import GazetteerCodes

            try:
                self._cache[iso3] = GazetteerCodes(iso3)
            except ImportFailed:
                self._cache[iso3] = None
        return self._cache[iso3]


def _float(text: str, column: str, low: float, high: float, row: int, errors: list[RowError]) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(RowError(row, column, str(ROW_NOT_NUMBER), text))
        return None
    if not low <= value <= high:
        errors.append(RowError(row, column, str(ROW_OUT_OF_RANGE.format(low=low, high=high)), text))
        return None
    return value


def point_parse(
    values: dict[str, str], *, row: int, operation: Operation, gazetteers: _Gazetteers | None = None
) -> tuple[PointRow | None, list[RowError]]:
    """One registry row (columns already named as in COLUMNS) as a PointRow, or its errors."""
    errors: list[RowError] = []
    get = lambda c: (values.get(c) or "").strip()  # noqa: E731
    code, name = get("code"), " ".join(get("name").split())
    for column, text in (("code", code), ("name", name)):
        if not text:
            errors.append(RowError(row, column, str(ROW_REQUIRED)))
    try:
        point_type = point_type_parse(get("type"))
    except ValueError as exc:
        errors.append(RowError(row, "type", str(exc)))
        point_type = ""
    country = operation.country_iso3
    if get("country"):
        country = country_code(get("country")) or ""
        if not country:
            errors.append(RowError(row, "country", str(ROW_COUNTRY), get("country")))
    border = ""
    if get("border_country"):
        border = country_code(get("border_country")) or ""
        if not border:
            errors.append(RowError(row, "border_country", str(ROW_COUNTRY), get("border_country")))
    admin1, admin2 = get("admin1").upper(), get("admin2").upper()
    gazetteer = (gazetteers or _Gazetteers()).get(country) if country and (admin1 or admin2) else None
    if gazetteer is not None:
        for level, column, pcode in ((1, "admin1", admin1), (2, "admin2", admin2)):
            if not pcode:
                continue
            found = gazetteer.lookup(pcode)
            if found is None or gazetteer.levels.get(found) != level:
                errors.append(
                    RowError(row, column, str(ROW_PCODE_UNKNOWN.format(level=level, country=country)), pcode)
                )
                continue
            if column == "admin1":
                admin1 = found
            else:
                admin2 = found
                parent = gazetteer.codes.get(found, {}).get("admin1_code", "")
                if admin1 and parent and parent != admin1:
                    errors.append(
                        RowError(row, "admin2", str(ROW_PCODE_OUTSIDE.format(parent=admin1)), pcode)
                    )
                admin1 = admin1 or parent
    latitude = _float(get("latitude"), "latitude", -90, 90, row, errors)
    longitude = _float(get("longitude"), "longitude", -180, 180, row, errors)
    if (latitude is None) != (longitude is None) and not any(
        e.column in ("latitude", "longitude") for e in errors
    ):
        errors.append(RowError(row, "latitude", str(ROW_HALF_COORDINATES)))
    try:
        movement_types = movement_types_parse(get("movement_types"))
    except ValueError as exc:
        errors.append(RowError(row, "movement_types", str(exc)))
        movement_types = []
    days: list[int] = []
    hours: list[int] = []
    if get("schedule") and (get("observed_days") or get("observed_hours")):
        errors.append(RowError(row, "schedule", str(ROW_SCHEDULE_TWICE)))
    elif get("schedule"):
        try:
            days, hours = schedule_parse(get("schedule"))
        except ValueError as exc:
            errors.append(RowError(row, "schedule", str(exc)))
    else:
        for column, parse in (("observed_days", days_parse), ("observed_hours", hours_parse)):
            try:
                parsed = parse(get(column))
            except ValueError as exc:
                errors.append(RowError(row, column, str(exc)))
                continue
            if column == "observed_days":
                days = parsed
            else:
                hours = parsed
        if hours and not days:
            days = list(range(7))
    active = True
    if get("active"):
        word = get("active").lower()
        if word in YES:
            active = True
        elif word in NO:
            active = False
        else:
            errors.append(RowError(row, "active", str(ROW_NOT_YES_NO), get("active")))
    if errors:
        return None, errors
    return (
        PointRow(
            code=code,
            name=name,
            type=point_type,
            country_iso3=country,
            border_country_iso3=border,
            admin1_code=admin1,
            admin2_code=admin2,
            latitude=latitude,
            longitude=longitude,
            movement_types=movement_types,
            observed_days=days,
            observed_hours=hours,
            corridor=" ".join(get("corridor").split()),
            active=active,
        ),
        [],
    )


def canonical(column: str) -> str:
    key = "_".join(column.strip().lower().replace("-", "_").split())
    return ALIASES.get(key, key)


class PointsImporter:
    kind = KIND
    label = "Flows: flow monitoring points (registry)"

    def read(self, *, job, progress) -> ReadResult:
        operation = job_operation(job)
        table = read_table(job_path(job), expected=["code", "name", "type", "latitude", "longitude"])
        columns = {c: canonical(c) for c in table.columns if c}
        missing = [c for c in ("code", "name") if c not in columns.values()]
        if missing:
            raise ImportFailed(
                str(MISSING_COLUMNS.format(columns=" or ".join(missing), found=", ".join(table.columns)))
            )
        ignored = [c for c, name in columns.items() if name not in COLUMNS]
        progress.start(table.total_rows, "reading points")
        gazetteers = _Gazetteers()
        rows: list[PointRow] = []
        errors: list[RowError] = []
        first: dict[str, int] = {}
        read = 0
        for number, cells in table:
            read += 1
            values = {columns[c]: v for c, v in cells.items() if c in columns}
            point, row_errors = point_parse(values, row=number, operation=operation, gazetteers=gazetteers)
            errors += row_errors
            code = (values.get("code") or "").strip()
            if code and code in first:
                errors.append(
                    RowError(number, "code", str(ROW_CODE_TWICE.format(code=code, first=first[code])))
                )
            elif code:
                first[code] = number
            if point is not None:
                rows.append(point)
            progress.advance()
        warnings = [str(WARN_IGNORED.format(columns=", ".join(ignored)))] if ignored else []
        return ReadResult(
            data={"operation": operation.pk, "rows": rows}, rows_read=read, errors=errors, warnings=warnings
        )

    def write(self, *, job, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation"])
        counts = points_write(operation=operation, rows=data["rows"], progress=progress)
        return Counts(
            created=counts["created"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            summary={"operation": operation.pk, "points": len(data["rows"])},
        )


register(PointsImporter())
