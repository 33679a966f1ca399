"""DTM displacement records: DTM API v3 JSON responses and the HDX "global-iom-dtm-from-api" CSV.

Both carry the same records: one row per place × round × assessment type × displacement reason ×
area of origin. Rows of one place, round and type are summed into one IDP figure (RecordBuilder);
each row is kept as a breakdown part with the reason as the source wrote it.

Rules:
- The admin level is the deepest admin*Pcode field present (JSON) or ``adminLevel`` (CSV).
- Every p-code is checked against the country's current gazetteer. DTM writes some p-codes with the
  ISO2 prefix ("TD07") where the gazetteer uses ISO3 ("TCD07"), or the other way round: such a code
  is read as the gazetteer's code and a warning says so (HDX HAPI does the same). Any other unknown
  p-code is a row error.
- Operations and rounds named by the records are created when missing (in the write transaction):
  a new round spans the reporting dates of its records; an existing round is kept as it is.
- Row numbers: the record's position in ``result`` (JSON, from 1) or the line in the file (CSV).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import Operation, PopulationGroup
from mobility.core.tables import MAX_COUNT, check_size, clean_text, read_table
from mobility.gazetteer.models import AdminArea, GazetteerVersion
from mobility.gazetteer.services.versions import countries

from ..models import AssessmentType
from ..ops import OPERATION_OTHER_COUNTRY, operation_find, operation_for_source, round_for_source
from ..reasons import reason_map
from ..records import AssessmentRecord, BreakdownPart, RecordBuilder
from ..services import assessments_write

JSON_KIND = "tracking.dtm-api-v3"
CSV_KIND = "tracking.dtm-hdx-csv"
SOURCE_JSON = "dtm-api-v3"
SOURCE_CSV = "dtm-hdx-csv"
NOT_AVAILABLE = "Not available"

NOT_DTM_JSON = (
    "This file is not a DTM API v3 response: expected a JSON object with a `result` list of records "
    "(as https://dtmapi.iom.int/v3/displacement/admin0|1|2 answers)."
)
DTM_RESPONSE_FAILED = "The DTM API response says it failed: {messages}"
NO_GAZETTEER = (
    "{country} has no gazetteer, so its p-codes cannot be checked. Import one first, e.g. the global "
    "p-code list: mobility gazetteer import download-global-pcodes-adm-1-2.csv --format global-pcodes "
    "--country {country}"
)
PCODE_UNKNOWN = "is not in the {country} gazetteer"
PCODE_WRONG_LEVEL = "is an admin{actual} area of the {country} gazetteer, not admin{level}"
PCODE_WRONG_PARENT = "is not inside {parent} (admin{level}) in the {country} gazetteer"
PCODE_READ_AS = "p-code {code} was read as {fixed}, the {country} gazetteer's code (prefix {old} → {new})"
COUNTRY_UNKNOWN = "is not an ISO3 country code"
VALUE_MISSING = "is missing"
COUNT_NEGATIVE = "is negative"
COUNT_NOT_WHOLE = "is not a whole number"
COUNT_TOO_LARGE = "is larger than any count (at most 2,147,483,647)"
DATE_INVALID = "is not a date (YYYY-MM-DD)"
ROUND_INVALID = "is not a round number (0 or more)"
ASSESSMENT_TYPE_UNKNOWN = "is not a DTM assessment type (BA or SA)"
ADMIN_LEVEL_INVALID = "is not an admin level (0, 1 or 2)"

ASSESSMENT_TYPES = {"BA": AssessmentType.BASELINE_AREA, "SA": AssessmentType.SITE}
MAX_WARNINGS = 50


@dataclass
class DtmData:
    records: list[AssessmentRecord]
    operations: dict[str, dict]  # placeholder key → {"name", "country", "id" (existing) }
    rounds: dict[tuple[str, int], dict]  # (operation key, number) → {"id", "dates"}
    source: str = SOURCE_JSON
    warnings: list[str] = field(default_factory=list)


class _Gazetteers:
    """Current gazetteer areas per country, loaded once: pcode → (level, parent pcode, name)."""

    def __init__(self):
        self._areas: dict[str, dict[str, tuple[int, str, str]] | None] = {}

    def areas(self, country: str) -> dict[str, tuple[int, str, str]] | None:
        if country not in self._areas:
            version = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first()
            if version is None:
                self._areas[country] = None
            else:
                self._areas[country] = {
                    pcode: (level, parent or "", name)
                    for pcode, level, parent, name in AdminArea.objects.filter(version=version).values_list(
                        "pcode", "level", "parent__pcode", "name"
                    )
                }
        return self._areas[country]


def _whole(value) -> tuple[int | None, str | None]:
    """(number, error message) of a count cell; (None, None) when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, COUNT_NOT_WHOLE
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None, COUNT_NOT_WHOLE
        number = int(value)
    else:
        text = str(value).strip().replace(",", "")
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                return None, COUNT_NOT_WHOLE
            if not as_float.is_integer():
                return None, COUNT_NOT_WHOLE
            number = int(as_float)
    if number < 0:
        return None, COUNT_NEGATIVE
    if number > MAX_COUNT:
        return None, COUNT_TOO_LARGE
    return number, None


def _date(value) -> dt.date | None:
    text = str(value or "").strip()[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _text(value) -> str:
    """A JSON value as text: nothing for null, an object or a list (never a text to read)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return clean_text(str(value))


def _code(value) -> str:
    text = _text(value)
    return "" if text.casefold() == NOT_AVAILABLE.casefold() else text


class DtmReader:
    """Turns DTM rows into AssessmentRecords, collecting every row error."""

    def __init__(self, *, source: str, operation_override: str = ""):
        self.source = source
        self.override = operation_override.strip()
        self.builder = RecordBuilder()
        self.errors: list[RowError] = []
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.gazetteers = _Gazetteers()
        self.operations: dict[str, dict] = {}
        self.rounds: dict[tuple[str, int], dict] = {}
        self._no_gazetteer: set[str] = set()
        self._existing_ops: dict[str, Operation | None] = {}

    def error(self, row: int, column: str, message: str, value="") -> None:
        self.errors.append(RowError(row=row, column=column, message=message, value=_text(value)[:200]))

    def warn(self, text: str) -> None:
        if text not in self._warned and len(self.warnings) < MAX_WARNINGS:
            self._warned.add(text)
            self.warnings.append(text)

    def gazetteer_code(
        self, row: int, column: str, code: str, country: str, level: int, parent: str = ""
    ) -> str:
        """The gazetteer's p-code for a source p-code, or "" after recording a row error."""
        areas = self.gazetteers.areas(country)
        if areas is None:
            self._no_gazetteer.add(country)
            return ""
        iso2 = countries().get(country, ("", ""))[0]
        fixed = code
        if code not in areas and iso2:
            for old, new in ((iso2, country), (country, iso2)):
                candidate = new + code[len(old) :]
                if code.startswith(old) and candidate in areas:
                    fixed = candidate
                    self.warn(PCODE_READ_AS.format(code=code, fixed=fixed, country=country, old=old, new=new))
                    break
        if fixed not in areas:
            self.error(row, column, PCODE_UNKNOWN.format(country=country), code)
            return ""
        actual, area_parent, _name = areas[fixed]
        if actual != level:
            self.error(
                row, column, PCODE_WRONG_LEVEL.format(actual=actual, level=level, country=country), code
            )
            return ""
        if parent and area_parent and level > 1 and area_parent != parent:
            self.error(
                row, column, PCODE_WRONG_PARENT.format(parent=parent, level=level - 1, country=country), code
            )
            return ""
        return fixed

    def _operation_key(self, row: int, name: str, country: str) -> str | None:
        if not name:
            self.error(row, "operation", VALUE_MISSING)
            return None
        key = name.casefold()
        entry = self.operations.get(key)
        if entry is None:
            if key not in self._existing_ops:
                self._existing_ops[key] = operation_find(name=name)
            existing = self._existing_ops[key]
            entry = {
                "placeholder": -(len(self.operations) + 1),
                "name": name,
                "country": existing.country_iso3 if existing else country,
                "id": existing.pk if existing else None,
            }
            self.operations[key] = entry
        if entry["country"] != country:
            self.error(
                row,
                "admin0Pcode",
                OPERATION_OTHER_COUNTRY.format(name=entry["name"], actual=entry["country"], country=country),
                country,
            )
            return None
        return key

    def add(self, row: int, raw: dict, level: int) -> None:
        """Validate one DTM record and add it to its assessment record."""
        errors_before = len(self.errors)
        country = _text(raw.get("admin0Pcode")).upper()
        if country not in countries():
            self.error(row, "admin0Pcode", COUNTRY_UNKNOWN if country else VALUE_MISSING, country)
            return
        idps, problem = _whole(raw.get("numPresentIdpInd"))
        if problem or idps is None:
            self.error(row, "numPresentIdpInd", problem or VALUE_MISSING, raw.get("numPresentIdpInd"))
        sexes = {}
        for column in ("numberMales", "numberFemales"):
            sexes[column], problem = _whole(raw.get(column))
            if problem:
                self.error(row, column, problem, raw.get(column))
        reporting_date = _date(raw.get("reportingDate"))
        if reporting_date is None:
            self.error(row, "reportingDate", DATE_INVALID, raw.get("reportingDate"))
        number, problem = _whole(raw.get("roundNumber"))
        if problem or number is None:
            self.error(row, "roundNumber", ROUND_INVALID, raw.get("roundNumber"))
        assessment_type = ASSESSMENT_TYPES.get(_text(raw.get("assessmentType")).upper())
        if assessment_type is None:
            self.error(row, "assessmentType", ASSESSMENT_TYPE_UNKNOWN, raw.get("assessmentType"))

        codes = {}
        parent = ""
        for lvl in range(1, level + 1):
            column = f"admin{lvl}Pcode"
            code = _text(raw.get(column))
            if not code:
                self.error(row, column, VALUE_MISSING)
                continue
            codes[lvl] = parent = self.gazetteer_code(row, column, code, country, lvl, parent)
        origin_code = _code(raw.get("idpOriginAdmin1Pcode"))
        if origin_code:
            origin_code = self.gazetteer_code(row, "idpOriginAdmin1Pcode", origin_code, country, 1)
        if country in self._no_gazetteer:
            return
        operation_key = self._operation_key(row, self.override or _text(raw.get("operation")), country)
        if len(self.errors) > errors_before or operation_key is None:
            return

        round_entry = self.rounds.setdefault(
            (operation_key, number), {"placeholder": -(len(self.rounds) + 1), "dates": set()}
        )
        round_entry["dates"].add(reporting_date)
        place_key = codes.get(level) or country
        reason, hazard = reason_map(_text(raw.get("displacementReason")))
        source_ref = _text(raw.get("id"))
        record = self.builder.record(
            AssessmentRecord(
                operation_id=self.operations[operation_key]["placeholder"],
                round_id=round_entry["placeholder"],
                assessment_type=assessment_type,
                place_key=place_key,
                country_iso3=country,
                admin_level=level,
                reporting_date=reporting_date,
                admin1_code=codes.get(1, ""),
                admin2_code=codes.get(2, ""),
                provider_admin1_name=_text(raw.get("admin1Name")) if level >= 1 else "",
                provider_admin2_name=_text(raw.get("admin2Name")) if level >= 2 else "",
                source=self.source,
                source_ref=source_ref,
                first_row=row,
            )
        )
        self.builder.add_figure(
            record,
            population_group=PopulationGroup.IDP,
            individuals=idps,
            males=sexes["numberMales"],
            females=sexes["numberFemales"],
            part=BreakdownPart(
                displacement_reason=reason,
                hazard_type=hazard,
                provider_reason=_text(raw.get("displacementReason"))[:200],
                origin_admin1_code=origin_code,
                origin_admin1_name=_text(raw.get("idpOriginAdmin1Name"))[:200],
                individuals=idps,
                males=sexes["numberMales"],
                females=sexes["numberFemales"],
                source_ref=source_ref,
            ),
        )

    def result(self, rows_read: int) -> ReadResult:
        errors = list(self.errors)
        if self._no_gazetteer:
            errors = [
                RowError(row=None, column="admin0Pcode", message=NO_GAZETTEER.format(country=c))
                for c in sorted(self._no_gazetteer)
            ] + [e for e in errors]
        data = DtmData(
            records=self.builder.results(),
            operations=self.operations,
            rounds=self.rounds,
            source=self.source,
            warnings=self.warnings,
        )
        return ReadResult(data=data, rows_read=rows_read, errors=errors, warnings=list(self.warnings))


def _level_of(record: dict) -> int:
    if "admin2Pcode" in record:
        return 2
    if "admin1Pcode" in record:
        return 1
    return 0


def write_dtm(*, job, data: DtmData, progress) -> Counts:
    """Create missing operations and rounds, then store the records (inside the import's transaction)."""
    by = job.created_by if job is not None else None
    operation_ids, round_ids = {}, {}
    created_operations = created_rounds = 0
    for entry in data.operations.values():
        operation, created = operation_for_source(name=entry["name"], country_iso3=entry["country"], by=by)
        operation_ids[entry["placeholder"]] = operation
        created_operations += created
    operations_by_key = {key: operation_ids[e["placeholder"]] for key, e in data.operations.items()}
    for (operation_key, number), entry in data.rounds.items():
        dates = sorted(entry["dates"])
        round_, created = round_for_source(
            operation=operations_by_key[operation_key],
            number=number,
            start_date=dates[0],
            end_date=dates[-1],
            by=by,
        )
        round_ids[entry["placeholder"]] = round_
        created_rounds += created
    for record in data.records:
        record.operation_id = round_ids[record.round_id].operation_id
        record.round_id = round_ids[record.round_id].pk
    counts = assessments_write(records=data.records, job=job, progress=progress)
    counts.summary["operations_created"] = created_operations
    counts.summary["rounds_created"] = created_rounds
    counts.summary["rounds"] = sorted({r.pk for r in round_ids.values()})
    return counts


def _override(job) -> str:
    name = (job.profile or {}).get("operation") or ""
    if not name and job.operation_id:
        name = job.operation.name
    return name


class DtmApiJsonImporter:
    kind = JSON_KIND
    label = "DTM API v3 displacement response (JSON)"

    def read(self, *, job, progress) -> ReadResult:
        check_size(job_path(job))
        try:
            with job_path(job).open(encoding="utf-8-sig") as fh:
                payload = json.load(fh)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: JSON nested thousands deep, which no DTM response is.
            raise ImportFailed(NOT_DTM_JSON) from exc
        if isinstance(payload, dict) and payload.get("isSuccess") is False:
            messages = payload.get("errorMessages")
            messages = messages if isinstance(messages, list) else [messages]
            raise ImportFailed(
                DTM_RESPONSE_FAILED.format(messages="; ".join(_text(m)[:200] for m in messages[:10]))
            )
        records = payload.get("result") if isinstance(payload, dict) else payload
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ImportFailed(NOT_DTM_JSON)
        reader = DtmReader(source=SOURCE_JSON, operation_override=_override(job))
        progress.start(len(records), "reading")
        for index, record in enumerate(records, start=1):
            reader.add(index, record, _level_of(record))
            progress.advance()
        return reader.result(len(records))

    def write(self, *, job, data: DtmData, progress) -> Counts:
        return write_dtm(job=job, data=data, progress=progress)


class DtmHdxCsvImporter:
    kind = CSV_KIND
    label = "HDX global IOM DTM CSV (admin 0 to 2, with HXL row)"
    expected = ("operation", "admin0Pcode", "adminLevel", "numPresentIdpInd", "reportingDate", "roundNumber")

    def read(self, *, job, progress) -> ReadResult:
        table = read_table(job_path(job), expected=self.expected)
        reader = DtmReader(source=SOURCE_CSV, operation_override=_override(job))
        progress.start(table.total_rows, "reading")
        rows = 0
        for number, raw in table:
            rows += 1
            level, problem = _whole(raw.get("adminLevel"))
            if problem or level is None or level > 2:
                reader.error(number, "adminLevel", ADMIN_LEVEL_INVALID, raw.get("adminLevel"))
            else:
                reader.add(number, raw, level)
            progress.advance()
        return reader.result(rows)

    def write(self, *, job, data: DtmData, progress) -> Counts:
        return write_dtm(job=job, data=data, progress=progress)


def rounds_in_summary(summary: dict) -> list[int]:
    """Round ids an import of this module wrote to (from the job's summary)."""
    return list(summary.get("rounds") or [])


register(DtmApiJsonImporter())
register(DtmHdxCsvImporter())
