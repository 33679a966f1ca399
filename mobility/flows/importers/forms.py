"""Importer ``flows.form-counts``: flow counts from form submissions (the collection app's batches).

Collection turns a batch of submissions bound to the "flow counts" target into a small CSV in the
template's columns (one row per submission, or per repeat entry) and runs it as a job of this
kind. The rows are checked by the very parser of template files (``counts.CountParser``) and
stored by ``counts.counts_write``; unlike the file importer (``flows.counts``, built for ten
million rows and keeping none between read and write) this one keeps the parsed rows with their
row numbers, so that collection's write hook can tell which submission made which count.

job.profile = {"operation": ID, "collection": {...}}.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import Operation
from mobility.core.tables import read_table

from ..counts import CountParser, counts_write, record_repeated
from ..surveys import fmp_ids
from ..template import REQUIRED_COLUMNS, TEMPLATE_COLUMNS
from .points import job_operation

KIND = "flows.form-counts"
COLUMNS_MISSING = _("The submissions give no {columns}; map it in the form's binding.")
ROW_KEY = "_row"  # the source row of each parsed count, for collection's write hook


class FormCountsImporter:
    kind = KIND
    label = "Flows: flow counts from form submissions"

    def read(self, *, job, progress) -> ReadResult:
        operation = job_operation(job)
        table = read_table(job_path(job), expected=TEMPLATE_COLUMNS)
        columns = {c: c.lower() for c in table.columns if c.lower() in TEMPLATE_COLUMNS}
        missing = [c for c in REQUIRED_COLUMNS if c not in columns.values()]
        if missing:
            raise ImportFailed(str(COLUMNS_MISSING.format(columns=", ".join(missing))))
        parser = CountParser(fmp_ids(operation))
        progress.start(table.total_rows, "reading")
        rows: list[dict] = []
        errors: list[RowError] = []
        first: dict[tuple, int] = {}
        read = 0
        for number, cells in table:
            read += 1
            raw = {columns[c]: v for c, v in cells.items() if c in columns}
            values, row_errors = parser.parse(raw, row=number)
            errors += row_errors
            if values is not None:
                key = (values["fmp_id"], values["record_id"])
                if key in first:
                    errors.append(
                        record_repeated(
                            row=number, first=first[key], fmp_code=raw.get("fmp_code", ""), record_id=key[1]
                        )
                    )
                    continue
                first[key] = number
                values[ROW_KEY] = number
                rows.append(values)
            progress.advance()
        return ReadResult(data={"operation": operation.pk, "rows": rows}, rows_read=read, errors=errors)

    def write(self, *, job, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation"])
        return counts_write(operation=operation, rows=data["rows"], job=job, progress=progress)


register(FormCountsImporter())
