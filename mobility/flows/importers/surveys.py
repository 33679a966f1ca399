"""Importer ``flows.surveys``: flow survey interviews (one row each) from CSV or XLSX.

Columns: ``record_id``, ``fmp_code``, ``date`` (required); ``direction`` (in/out), ``sex`` (f/m),
``age``, ``nationality``, ``from_country``, ``from_admin1``, ``to_country``, ``to_admin1``,
``reason``, ``intended_duration``, ``transport`` (codes or labels of the count template's
vocabularies), ``travelling_with`` (people travelling with the respondent), ``needs`` (a ";" list).
Every other column is kept as the interview's ``answers``. A column that looks like a name, a
phone number or another contact refuses the file (``surveys.personal_columns``).

job.profile = {"operation": ID or slug} (or the job's operation).
"""

from __future__ import annotations

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import Operation
from mobility.core.tables import read_table

from ..surveys import (
    PERSONAL_VALUES,
    ROW_RECORD_TWICE,
    SURVEY_COLUMNS,
    SURVEY_REQUIRED,
    fmp_ids,
    looks_like_phone,
    personal_columns,
    survey_parse,
    surveys_write,
)
from .points import MISSING_COLUMNS, _Gazetteers, job_operation

KIND = "flows.surveys"
ROW_KEY = "_row"
PHONE_SHARE = 0.5  # a free-text column where half the filled cells are phone numbers is refused


class SurveysImporter:
    kind = KIND
    label = "Flows: flow survey interviews"

    def read(self, *, job, progress) -> ReadResult:
        operation = job_operation(job)
        table = read_table(job_path(job), expected=SURVEY_COLUMNS)
        # Survey columns by their lower-case name; any other column keeps its header for "answers".
        columns = {c: c.lower() if c.lower() in SURVEY_COLUMNS else c for c in table.columns if c}
        personal = personal_columns([c for c in columns.values() if c not in SURVEY_COLUMNS])
        if personal:
            raise ImportFailed(personal[0], [RowError(None, "", m) for m in personal])
        missing = [c for c in SURVEY_REQUIRED if c not in columns.values()]
        if missing:
            raise ImportFailed(
                str(MISSING_COLUMNS.format(columns=", ".join(missing), found=", ".join(table.columns)))
            )
        progress.start(table.total_rows, "reading surveys")
        fmps = fmp_ids(operation)
        gazetteers = _Gazetteers()
        rows: list[dict] = []
        errors: list[RowError] = []
        first: dict[tuple, int] = {}
        phones: dict[str, int] = {}
        filled: dict[str, int] = {}
        read = 0
        for number, cells in table:
            read += 1
            raw = {columns[c]: v for c, v in cells.items() if c in columns}
            for column, text in raw.items():
                if column not in SURVEY_COLUMNS and text:
                    filled[column] = filled.get(column, 0) + 1
                    if looks_like_phone(text):
                        phones[column] = phones.get(column, 0) + 1
            values, row_errors = survey_parse(raw, row=number, fmps=fmps, gazetteers=gazetteers)
            errors += row_errors
            if values is not None:
                key = (values["fmp_id"], values["record_id"])
                if key in first:
                    errors.append(
                        RowError(
                            number,
                            "record_id",
                            str(
                                ROW_RECORD_TWICE.format(
                                    record_id=key[1], fmp=raw.get("fmp_code"), first=first[key]
                                )
                            ),
                        )
                    )
                else:
                    first[key] = number
                    values[ROW_KEY] = number  # for collection's write hook (which submission made it)
                    rows.append(values)
            progress.advance()
        leaky = [c for c, n in phones.items() if n >= max(1, PHONE_SHARE * filled.get(c, 0))]
        if leaky:
            # Never the values themselves: they are the personal data.
            raise ImportFailed(str(PERSONAL_VALUES.format(column=leaky[0])))
        return ReadResult(data={"operation": operation.pk, "rows": rows}, rows_read=read, errors=errors)

    def write(self, *, job, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation"])
        return surveys_write(operation=operation, rows=data["rows"], job=job, progress=progress)


register(SurveysImporter())
