"""Import typed locations (sites, villages, points of entry, flow monitoring points) from CSV or XLSX.

Columns: code, type, name, latitude, longitude, and the areas the source states, either as p-codes
(admin1_code, admin2_code, admin3_code) or as names (admin1_name, admin2_name, admin3_name, matched
to p-codes; names the matcher will not decide go to the review list and reject the row).
Profile: {"country": "PAK", "operation": <id>} (the job's operation is used when set).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import ImportJob, Operation
from mobility.core.tables import read_table

from ..geo import AreaLocator
from ..matching import matcher_for
from ..models import Location
from ..services.locations import location_place, location_save
from ..services.matching import review_record

LOCATIONS_NO_COUNTRY = 'Say which country the locations are in (profile "country", e.g. PAK).'
LOCATIONS_MISSING_COLUMNS = "The file has no {columns} column; it has: {found}."
ROW_REQUIRED = "is required"
ROW_DUPLICATE_CODE = "is already used on row {first}"
ROW_BAD_TYPE = "is not a location type; use one of: {allowed}"
ROW_NOT_NUMBER = "is not a number"
ROW_LAT_RANGE = "is outside -90..90"
ROW_LON_RANGE = "is outside -180..180"
ROW_HALF_COORDINATES = "latitude and longitude must be given together"
ROW_NAME_NOT_MATCHED = "could not be matched to an admin{level} p-code ({status}); it is on the review list"

# What field teams write in the type column → Location.Type.
TYPE_WORDS = {
    **{value: value for value in Location.Type.values},
    **{str(label).lower(): value for value, label in Location.Type.choices},
    "idp site": "site",
    "camp": "site",
    "settlement": "site",
    "collective centre": "site",
    "collective center": "site",
    "displacement site": "site",
    "town": "village",
    "locality": "village",
    "neighborhood": "neighbourhood",
    "bairro": "neighbourhood",
    "poe": "point_of_entry",
    "border crossing": "point_of_entry",
    "border point": "point_of_entry",
    "airport": "point_of_entry",
    "fmp": "flow_monitoring_point",
    "flow monitoring": "flow_monitoring_point",
    "flow monitoring point": "flow_monitoring_point",
    "transit point": "flow_monitoring_point",
}
_SPACES = re.compile(r"[\s_\-]+")


@dataclass
class LocationRow:
    row: int
    code: str
    type: str
    name: str
    latitude: float | None
    longitude: float | None
    stated: dict[int, str]


def _number(text: str) -> float:
    value = float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _country(job: ImportJob) -> str:
    country = (job.profile or {}).get("country") or (job.operation.country_iso3 if job.operation else "")
    if not country:
        raise ImportFailed(LOCATIONS_NO_COUNTRY)
    return country.strip().upper()


class LocationsImporter:
    kind = "gazetteer.locations"
    label = _("Locations (sites, villages, points of entry, flow monitoring points)")

    def read(self, *, job: ImportJob, progress) -> ReadResult:
        country = _country(job)
        locator = AreaLocator(country)
        table = read_table(job_path(job), expected=["code", "type", "name", "latitude", "longitude"])
        columns = {c.strip().lower(): c for c in table.columns}
        missing = [c for c in ("code", "type", "name") if c not in columns]
        if missing:
            raise ImportFailed(
                LOCATIONS_MISSING_COLUMNS.format(columns=", ".join(missing), found=", ".join(table.columns))
            )
        progress.start(table.total_rows, "reading")
        errors: list[RowError] = []
        rows: list[LocationRow] = []
        first_row: dict[str, int] = {}
        names_to_match: dict[int, list[tuple[int, str, str]]] = {1: [], 2: [], 3: []}

        def cell(values: dict, column: str) -> str:
            return values.get(columns[column], "").strip() if column in columns else ""

        for number, values in table:
            progress.advance()
            code, name = cell(values, "code"), cell(values, "name")
            bad = len(errors)
            if not code:
                errors.append(RowError(number, "code", ROW_REQUIRED))
            elif code in first_row:
                errors.append(
                    RowError(number, "code", ROW_DUPLICATE_CODE.format(first=first_row[code]), code)
                )
            else:
                first_row[code] = number
            if not name:
                errors.append(RowError(number, "name", ROW_REQUIRED))
            type_text = cell(values, "type")
            type_value = TYPE_WORDS.get(_SPACES.sub(" ", type_text.lower()).strip()) or TYPE_WORDS.get(
                _SPACES.sub("_", type_text.lower()).strip()
            )
            if not type_value:
                errors.append(
                    RowError(
                        number,
                        "type",
                        ROW_BAD_TYPE.format(allowed=", ".join(Location.Type.values)),
                        type_text,
                    )
                )
            coords: dict[str, float | None] = {}
            for column, limit, message in (
                ("latitude", 90, ROW_LAT_RANGE),
                ("longitude", 180, ROW_LON_RANGE),
            ):
                text = cell(values, column)
                coords[column] = None
                if not text:
                    continue
                try:
                    value = _number(text)
                except ValueError:
                    errors.append(RowError(number, column, ROW_NOT_NUMBER, text))
                    continue
                if not -limit <= value <= limit:
                    errors.append(RowError(number, column, message, text))
                    continue
                coords[column] = value
            if (cell(values, "latitude") == "") != (cell(values, "longitude") == ""):
                errors.append(
                    RowError(
                        number, "longitude" if cell(values, "latitude") else "latitude", ROW_HALF_COORDINATES
                    )
                )
            stated = {level: cell(values, f"admin{level}_code").upper() for level in (1, 2, 3)}
            for level in (1, 2, 3):
                if not stated[level] and cell(values, f"admin{level}_name"):
                    names_to_match[level].append((len(rows), cell(values, f"admin{level}_name"), number))
            if len(errors) == bad:
                rows.append(
                    LocationRow(
                        number, code, type_value, name, coords["latitude"], coords["longitude"], stated
                    )
                )
            else:
                rows.append(None)  # keeps the indexes of names_to_match right

        self._match_names(job, country, rows, names_to_match, errors)
        kept = [r for r in rows if r is not None]
        for row in kept:
            try:
                location_place(
                    locator=locator, latitude=row.latitude, longitude=row.longitude, stated=row.stated
                )
            except Exception as exc:  # a ValidationError naming the stated p-code
                level = next((lvl for lvl in (3, 2, 1) if f"admin{lvl}" in str(exc)), 1)
                messages = getattr(exc, "messages", [str(exc)])
                errors.append(
                    RowError(row.row, f"admin{level}_code", "; ".join(messages), row.stated.get(level, ""))
                )
        progress.finish()
        errors.sort(key=lambda e: (e.row or 0, e.column))
        return ReadResult(data={"country": country, "rows": kept}, rows_read=len(rows), errors=errors)

    def _match_names(self, job, country, rows, names_to_match, errors) -> None:
        """Admin names → p-codes, each level under the one above it; undecided names go to review."""
        results_for_review = []
        for level in (1, 2, 3):
            if not names_to_match[level]:
                continue
            matcher = matcher_for(country, level)
            for index, text, number in names_to_match[level]:
                row = rows[index]
                parent = ""
                if row is not None:
                    parent = next((row.stated[lvl] for lvl in range(level - 1, 0, -1) if row.stated[lvl]), "")
                result = matcher.match(text, parent=parent or None)
                if result.matched:
                    if row is not None:
                        row.stated[level] = result.pcode
                else:
                    results_for_review.append(result)
                    errors.append(
                        RowError(
                            number,
                            f"admin{level}_name",
                            ROW_NAME_NOT_MATCHED.format(level=level, status=result.status),
                            text,
                        )
                    )
        if results_for_review:
            # Kept even though the import fails: the review list is how the name gets fixed.
            review_record(
                results=results_for_review, country_iso3=country, import_job=job, operation=job.operation
            )

    def write(self, *, job: ImportJob, data, progress) -> Counts:
        country = data["country"]
        operation = job.operation
        if operation is None and (job.profile or {}).get("operation"):
            operation = Operation.objects.filter(pk=job.profile["operation"]).first()
        locator = AreaLocator(country)
        counts = Counts()
        flagged = 0
        for row in data["rows"]:
            location, outcome = location_save(
                code=row.code,
                type=row.type,
                name=row.name,
                country_iso3=country,
                latitude=row.latitude,
                longitude=row.longitude,
                stated_admin1_code=row.stated[1],
                stated_admin2_code=row.stated[2],
                stated_admin3_code=row.stated[3],
                operation=operation,
                locator=locator,
                by=job.created_by,
                audit=False,
            )
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            flagged += location.pcode_mismatch
            progress.advance()
        counts.summary = {"pcode_mismatch": flagged}
        return counts


register(LocationsImporter())
