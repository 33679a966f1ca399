"""Importer ``restrictions.statuses``: a status history of points of entry (CSV or XLSX).

Columns: poe_code, effective_from (YYYY-MM-DD), status, restriction, affected_groups (a semicolon
list), measures (a semicolon list), daily_inflow, daily_outflow, notes, source. Values are the codes
(``partial``, ``medical_screening``) or their English labels ("Partially open", "Medical
screening"). A row identical to a stored record of the same point and date is left as it is, so a
re-import stores nothing new; a row that differs is a correction (a new record).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ReadResult, RowError, job_path, register
from mobility.core.tables import read_table

from ..models import AffectedGroup, Measure, OperationalStatus, PointOfEntry, RestrictionType
from ..services import statuses_write
from .common import (
    REQUIRED,
    CellError,
    choice_list_parse,
    choice_parse,
    column_pick,
    columns_require,
    count_parse,
    date_parse,
)
from .points import operation_for

KIND = "restrictions.statuses"

COLUMNS: dict[str, tuple[str, ...]] = {
    "poe_code": ("poe_code", "code"),
    "effective_from": ("effective_from", "date", "effective_date"),
    "status": ("status", "operational_status"),
    "restriction": ("restriction", "restriction_type"),
    "affected_groups": ("affected_groups", "affected_populations"),
    "measures": ("measures", "public_health_measures"),
    "daily_inflow": ("daily_inflow", "inflow"),
    "daily_outflow": ("daily_outflow", "outflow"),
    "notes": ("notes", "comments"),
    "source": ("source",),
}
REQUIRED_COLUMNS = ("poe_code", "effective_from", "status")

STATUS_SYNONYMS = {
    "fully open": OperationalStatus.OPEN,
    "partially open": OperationalStatus.PARTIAL,
    "partially closed": OperationalStatus.PARTIAL,
    "restricted": OperationalStatus.PARTIAL,
    "fully closed": OperationalStatus.CLOSED,
    "unknown status": OperationalStatus.UNKNOWN,
}
RESTRICTION_SYNONYMS = {
    "entry and exit": RestrictionType.BOTH,
    "entry & exit": RestrictionType.BOTH,
    "entry only": RestrictionType.ENTRY,
    "exit only": RestrictionType.EXIT,
    "no restriction": RestrictionType.NONE,
    "no": RestrictionType.NONE,
}
GROUP_SYNONYMS = {
    "national": AffectedGroup.NATIONALS,
    "citizens": AffectedGroup.NATIONALS,
    "regular migrant": AffectedGroup.REGULAR,
    "irregular migrant": AffectedGroup.IRREGULAR,
    "everyone": AffectedGroup.ALL,
}
MEASURE_SYNONYMS = {
    "screening": Measure.SCREENING,
    "health screening": Measure.SCREENING,
    "test": Measure.TESTING,
    "covid test": Measure.TESTING,
    "documents": Measure.DOCUMENTS,
    "documentation": Measure.DOCUMENTS,
    "documents required": Measure.DOCUMENTS,
    "visa": Measure.VISA,
    "visa restriction": Measure.VISA,
    "vaccination certificate": Measure.VACCINATION,
}

POE_UNKNOWN = _("is not a point of entry of this operation (import the registry first: restrictions.points)")
TOO_LONG = _("is longer than {limit} characters")


class StatusesImporter:
    kind = KIND
    label = "Restrictions: status history of points of entry (CSV/XLSX)"

    def read(self, *, job, progress) -> ReadResult:
        operation = operation_for(job)
        table = read_table(job_path(job), expected=[names[0] for names in COLUMNS.values()])
        found = {field: column_pick(table.columns, names) for field, names in COLUMNS.items()}
        columns_require(table.columns, [COLUMNS[f][0] for f in REQUIRED_COLUMNS if found[f] is None])
        codes = set(PointOfEntry.objects.filter(operation=operation).values_list("code", flat=True))
        progress.start(table.total_rows, "reading statuses")
        errors: list[RowError] = []
        rows: list[dict] = []
        rows_read = 0
        for number, raw in table.rows:
            rows_read += 1
            progress.advance()
            cell = {f: (raw.get(c, "") if c else "").strip() for f, c in found.items()}
            row_errors: list[RowError] = []
            values: dict = {}

            def parse(field, parser, *args, _errors=row_errors, _number=number, _cell=cell, _values=values):
                try:
                    _values[field] = parser(_cell[field], *args)
                except CellError as exc:
                    _errors.append(RowError(_number, found[field] or field, str(exc), _cell[field][:200]))

            for field in REQUIRED_COLUMNS:
                if not cell[field]:
                    row_errors.append(RowError(number, found[field], str(REQUIRED)))
            if cell["poe_code"] and cell["poe_code"] not in codes:
                row_errors.append(
                    RowError(number, found["poe_code"], str(POE_UNKNOWN), cell["poe_code"][:200])
                )
            values["poe_code"] = cell["poe_code"]
            if cell["effective_from"]:
                parse("effective_from", date_parse)
            if cell["status"]:
                parse("status", choice_parse, OperationalStatus, STATUS_SYNONYMS)
            values["restriction"] = RestrictionType.NONE
            if cell["restriction"]:
                parse("restriction", choice_parse, RestrictionType, RESTRICTION_SYNONYMS)
            parse("affected_groups", choice_list_parse, AffectedGroup, GROUP_SYNONYMS)
            parse("measures", choice_list_parse, Measure, MEASURE_SYNONYMS)
            parse("daily_inflow", count_parse)
            parse("daily_outflow", count_parse)
            values["notes"] = cell["notes"]
            values["source"] = cell["source"]
            if len(cell["source"]) > 300:
                row_errors.append(RowError(number, found["source"], str(TOO_LONG.format(limit=300))))
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(values)
        progress.finish()
        return ReadResult(data={"operation": operation, "rows": rows}, rows_read=rows_read, errors=errors)

    def write(self, *, job, data, progress) -> Counts:
        return statuses_write(operation=data["operation"], rows=data["rows"], job=job, progress=progress)


register(StatusesImporter())
