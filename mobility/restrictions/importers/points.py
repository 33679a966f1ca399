"""Importer ``restrictions.points``: the registry of points of entry and key locations (CSV or XLSX).

Columns (any case; alternatives in brackets): code, name, type, country [country_iso3, iso3],
border_country [border_country_iso3], iata_code [iata], admin1_code [admin1_pcode],
admin2_code [admin2_pcode], latitude [lat], longitude [lon]. A point is identified by its code in
the operation: a re-import updates it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.permissions import Action, can
from mobility.core.tables import read_table
from mobility.gazetteer.models import AdminArea
from mobility.gazetteer.services.versions import countries

from ..countries import CountryMatcher
from ..models import PoEType
from ..services import points_write
from .common import NO_OPERATION, REQUIRED, CellError, choice_parse, column_pick, columns_require

KIND = "restrictions.points"

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "poe_code", "point_code"),
    "name": ("name", "poe_name"),
    "type": ("type", "poe_type"),
    "country": ("country", "country_iso3", "iso3"),
    "border_country": ("border_country", "border_country_iso3"),
    "iata_code": ("iata_code", "iata"),
    "admin1_code": ("admin1_code", "admin1_pcode"),
    "admin2_code": ("admin2_code", "admin2_pcode"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng"),
}
REQUIRED_COLUMNS = ("code", "name", "type", "country")

TYPE_SYNONYMS = {
    "air": PoEType.AIRPORT,
    "international airport": PoEType.AIRPORT,
    "land border": PoEType.LAND_BORDER,
    "land": PoEType.LAND_BORDER,
    "border crossing": PoEType.LAND_BORDER,
    "land border point": PoEType.LAND_BORDER,
    "blue border": PoEType.BLUE_BORDER,
    "sea port": PoEType.BLUE_BORDER,
    "seaport": PoEType.BLUE_BORDER,
    "port": PoEType.BLUE_BORDER,
    "river crossing": PoEType.BLUE_BORDER,
    "lake crossing": PoEType.BLUE_BORDER,
    "transit point": PoEType.INTERNAL_TRANSIT,
    "internal transit": PoEType.INTERNAL_TRANSIT,
    "transit": PoEType.INTERNAL_TRANSIT,
    "stranded": PoEType.STRANDED_SITE,
    "stranded migrants": PoEType.STRANDED_SITE,
    "site with stranded populations": PoEType.STRANDED_SITE,
    "aoi": PoEType.AREA_OF_INTEREST,
}

CODE_TWICE = _("code {code} is already used on row {first}")
TOO_LONG = _("is longer than {limit} characters")
COUNTRY_UNKNOWN = _("is not a country (give its ISO3 code, e.g. MOZ)")
BORDER_SAME = _("is the point's own country; the border country is the one on the other side")
IATA_INVALID = _("is not an IATA airport code (three letters, e.g. MPM)")
IATA_NOT_AIRPORT = _("only an airport has an IATA code (this point's type is {type})")
COORD_INVALID = _("is not a number between {low} and {high}")
COORD_PAIR = _("give both latitude and longitude, or neither")
PCODE_UNKNOWN = _("is not an admin {level} p-code of the current {country} gazetteer")
PCODE_NOT_INSIDE = _("is not inside admin 1 {admin1}")
WARN_NO_GAZETTEER = _(
    "No gazetteer is loaded for {country}: its p-codes were stored without a check "
    "(load one with `mobility gazetteer import`)."
)
NOT_ALLOWED = _("You may not import into operation {operation}.")


def _areas(country: str) -> dict[str, tuple[int, str]] | None:
    """p-code → (level, parent p-code) of the country's current gazetteer, or None when it has none."""
    rows = AdminArea.objects.filter(version__is_current=True, country_iso3=country).values_list(
        "pcode", "level", "parent__pcode"
    )
    areas = {pcode: (level, parent or "") for pcode, level, parent in rows}
    return areas or None


def operation_for(job):
    """The job's operation, checked against what its creator may do."""
    if job.operation is None:
        raise ImportFailed(str(NO_OPERATION))
    if job.created_by is not None and not can(job.created_by, Action.IMPORT, job.operation):
        raise ImportFailed(str(NOT_ALLOWED.format(operation=job.operation.slug)))
    return job.operation


def country_parse(text: str, matcher: CountryMatcher) -> str:
    code = (text or "").strip().upper()
    if code in countries():
        return code
    found = matcher.one(text) if text.strip() else None
    if found and len(found) == 1 and found[0].iso3:
        return found[0].iso3
    raise CellError(str(COUNTRY_UNKNOWN))


def _coordinate(text: str, low: float, high: float) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise CellError(str(COORD_INVALID.format(low=low, high=high)))
    if not low <= value <= high:
        raise CellError(str(COORD_INVALID.format(low=low, high=high)))
    return value


class PointsImporter:
    kind = KIND
    label = "Restrictions: points of entry and key locations (CSV/XLSX)"

    def read(self, *, job, progress) -> ReadResult:
        operation = operation_for(job)
        table = read_table(job_path(job), expected=[names[0] for names in COLUMNS.values()])
        found = {field: column_pick(table.columns, names) for field, names in COLUMNS.items()}
        columns_require(table.columns, [COLUMNS[f][0] for f in REQUIRED_COLUMNS if found[f] is None])
        matcher = CountryMatcher()
        progress.start(table.total_rows, "reading points")
        errors: list[RowError] = []
        warnings: list[str] = []
        rows: list[dict] = []
        first_row: dict[str, int] = {}
        gazetteers: dict[str, dict | None] = {}
        rows_read = 0
        for number, raw in table.rows:
            rows_read += 1
            progress.advance()
            cell = {f: (raw.get(c, "") if c else "").strip() for f, c in found.items()}
            row_errors: list[RowError] = []

            def fail(field: str, message, value: str = "", _errors=row_errors, _number=number) -> None:
                _errors.append(RowError(_number, found[field] or field, str(message), value[:200]))

            values: dict = {}
            for field, limit in (("code", 64), ("name", 200)):
                if not cell[field]:
                    fail(field, REQUIRED)
                elif len(cell[field]) > limit:
                    fail(field, TOO_LONG.format(limit=limit), cell[field])
                values[field] = cell[field]
            if cell["code"]:
                if cell["code"] in first_row:
                    fail(
                        "code",
                        CODE_TWICE.format(code=cell["code"], first=first_row[cell["code"]]),
                        cell["code"],
                    )
                else:
                    first_row[cell["code"]] = number
            try:
                values["type"] = choice_parse(cell["type"], PoEType, TYPE_SYNONYMS) if cell["type"] else None
                if values["type"] is None:
                    fail("type", REQUIRED)
            except CellError as exc:
                fail("type", exc, cell["type"])
            values["country_iso3"] = ""
            if not cell["country"]:
                fail("country", REQUIRED)
            else:
                try:
                    values["country_iso3"] = country_parse(cell["country"], matcher)
                except CellError as exc:
                    fail("country", exc, cell["country"])
            values["border_country_iso3"] = ""
            if cell["border_country"]:
                try:
                    border = country_parse(cell["border_country"], matcher)
                    if border == values["country_iso3"]:
                        fail("border_country", BORDER_SAME, cell["border_country"])
                    values["border_country_iso3"] = border
                except CellError as exc:
                    fail("border_country", exc, cell["border_country"])
            iata = cell["iata_code"].upper()
            if iata and not (len(iata) == 3 and iata.isascii() and iata.isalpha()):
                fail("iata_code", IATA_INVALID, cell["iata_code"])
            elif iata and values.get("type") and values["type"] != PoEType.AIRPORT:
                fail("iata_code", IATA_NOT_AIRPORT.format(type=values["type"]), cell["iata_code"])
            values["iata_code"] = iata
            try:
                values["latitude"] = _coordinate(cell["latitude"], -90, 90)
            except CellError as exc:
                fail("latitude", exc, cell["latitude"])
            try:
                values["longitude"] = _coordinate(cell["longitude"], -180, 180)
            except CellError as exc:
                fail("longitude", exc, cell["longitude"])
            if (values.get("latitude") is None) != (values.get("longitude") is None) and not row_errors:
                fail("latitude" if values.get("latitude") is None else "longitude", COORD_PAIR)
            values["admin1_code"], values["admin2_code"] = cell["admin1_code"], cell["admin2_code"]
            country = values["country_iso3"]
            if country and (cell["admin1_code"] or cell["admin2_code"]):
                if country not in gazetteers:
                    gazetteers[country] = _areas(country)
                    if gazetteers[country] is None:
                        warnings.append(str(WARN_NO_GAZETTEER.format(country=country)))
                areas = gazetteers[country]
                if areas is not None:
                    for level in (1, 2):
                        pcode = cell[f"admin{level}_code"]
                        if pcode and areas.get(pcode, (None,))[0] != level:
                            fail(
                                f"admin{level}_code",
                                PCODE_UNKNOWN.format(level=level, country=country),
                                pcode,
                            )
                    admin1, admin2 = cell["admin1_code"], cell["admin2_code"]
                    if admin1 and admin2 and admin2 in areas and areas[admin2][1] != admin1:
                        fail("admin2_code", PCODE_NOT_INSIDE.format(admin1=admin1), admin2)
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(values)
        progress.finish()
        return ReadResult(
            data={"operation": operation, "rows": rows}, rows_read=rows_read, errors=errors, warnings=warnings
        )

    def write(self, *, job, data, progress) -> Counts:
        return points_write(operation=data["operation"], rows=data["rows"], job=job, progress=progress)


register(PointsImporter())
