"""Importer ``registration.individuals``: a registration list, one row per individual (CSV or XLSX).

Columns: ``records.TEMPLATE_COLUMNS`` (header names in any case, spaces or dashes for underscores;
``household_id``, ``individual_id``, ``relationship`` and ``sex`` are required). The household
columns (``household_size``, ``location_pcode``, ``phone``, …) may be repeated on every member's row
or given once (usually on the head's row); when repeated they must agree. A list in another layout
is read through a column mapping kept in the job: ``job.profile["mapping"] = {template column:
the file's column}`` (the CLI's ``--map given_name=Nome``).

Every problem of every row is reported by row and column and **never quotes a personal value**
(``ImportRowError.value`` stays empty for personal columns); then nothing is stored. A re-import of
the same file changes nothing; a changed row updates its household or person, never duplicates it.

The uploader must hold the ``register`` capability in the operation (``job.created_by``); jobs
made by collection for a form bound to ``registration.households`` are allowed when the binding's
author (if any) and the user who re-runs them (if any) hold it.

job.profile = {"operation": ID or slug, "mapping": {...}, "collection": {...} (form submissions)}.
"""

from __future__ import annotations

import logging
from dataclasses import fields as dataclass_fields

from django.core.exceptions import PermissionDenied
from django.utils import timezone
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
from mobility.core.tables import normalise_header, read_table

from .. import access
from ..crypto import keyed_hash
from ..dedup_app import after_households_written
from ..models import AccessLog, Capability, Household, Purpose
from ..records import (
    HOUSEHOLD_COLUMNS,
    PERSONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TEMPLATE_COLUMNS,
    HouseholdValues,
    _key,
    household_parse,
    individual_parse,
)
from ..services import (
    DOC_TWICE,
    HH_DISAGREES,
    PERSON_TWICE,
    HouseholdBatchItem,
    _Places,
    batch_check,
    households_write,
)

KIND = "registration.individuals"
log = logging.getLogger(__name__)

NO_OPERATION = _("Say which operation the list is for (the job has no operation).")
OPERATION_UNKNOWN = JOB_OPERATION_UNKNOWN
MISSING_COLUMNS = _("The file has no {columns} column; the template's columns are: {template}.")
MAPPING_COLUMN_UNKNOWN = _('The mapping names "{column}", which is not a template column; use: {template}.')
MAPPING_SOURCE_MISSING = _(
    'The mapping reads {column} from "{source}", which the file does not have; it has: {found}.'
)
COLUMNS_IGNORED = _("Columns not in the template were not read: {columns}.")
IMPORT_NO_UPLOADER = _(
    "A registration list is imported on behalf of a user holding the register capability "
    "(upload it on the Imports page, or give --user on the command line); nothing was read."
)
IMPORT_NOT_GRANTED = _(
    "{user} may not register households in {operation} (no register capability); an admin of the "
    "operation grants it on the registration access page. Nothing was read."
)
ROW_PERSONAL_HIDDEN = _("is not valid (the value is not shown: it is personal data)")

# HouseholdValues attribute of each household column (where the names differ).
_ATTRIBUTE = {"household_size": "size"}
_HOUSEHOLD_ATTRS = {f.name for f in dataclass_fields(HouseholdValues)}


def job_operation(job: ImportJob) -> Operation:
    """The operation the list is for: the job's, or the one its profile names (id, slug or name)."""
    return core_job_operation(job, missing=NO_OPERATION)


def _binding_author(job: ImportJob):
    collection = (job.profile or {}).get("collection") or {}
    if not collection:
        return None
    from mobility.collection.models import Binding

    binding = Binding.objects.filter(pk=collection.get("binding")).select_related("created_by").first()
    return binding.created_by if binding is not None else None


def acting_user(job: ImportJob):
    """Who registers: the uploader, or for form submissions the author of the form's binding."""
    return job.created_by if job.created_by_id else _binding_author(job)


def uploader_check(job: ImportJob, operation: Operation) -> None:
    """ImportFailed unless whoever stands behind the job holds ``register`` in the operation."""
    collection = (job.profile or {}).get("collection") or {}
    users = [job.created_by] if job.created_by_id else []
    if collection:
        author = _binding_author(job)
        if author is not None:
            users.append(author)
    elif not users:
        raise ImportFailed(str(IMPORT_NO_UPLOADER))
    for user in users:
        try:
            access.require(user, operation, Capability.REGISTER)
        except PermissionDenied:
            raise ImportFailed(str(IMPORT_NOT_GRANTED.format(user=user, operation=operation))) from None


def column_map(columns: list[str], mapping: dict | None) -> tuple[dict[str, str], list[str]]:
    """{file column: template column} and the file's columns left unread.

    A mapping ``{template column: file column}`` comes first; other file columns are read by their
    own name in any case ("Given name", "DATE-OF-BIRTH").
    """
    by_header = {normalise_header(c).casefold(): c for c in columns if c}
    out: dict[str, str] = {}
    template = ", ".join(TEMPLATE_COLUMNS)
    for target, source in (mapping or {}).items():
        if target not in TEMPLATE_COLUMNS:
            raise ImportFailed(str(MAPPING_COLUMN_UNKNOWN.format(column=target, template=template)))
        found = by_header.get(normalise_header(str(source)).casefold())
        if found is None:
            raise ImportFailed(
                str(MAPPING_SOURCE_MISSING.format(column=target, source=source, found=", ".join(columns)))
            )
        out[found] = target
    taken = set(out.values())
    ignored = []
    for column in columns:
        if not column or column in out:
            continue
        key = _key(column)
        if key in TEMPLATE_COLUMNS and key not in taken:
            out[column] = key
            taken.add(key)
        else:
            ignored.append(column)
    return out, ignored


def _hidden(errors: list[RowError], raw: dict[str, str]) -> list[RowError]:
    """A last guard: no personal cell of the row in an error's value or message."""
    secrets = [v for c, v in raw.items() if c in PERSONAL_COLUMNS and v and len(v.strip()) >= 4]
    for error in errors:
        if error.column in PERSONAL_COLUMNS:
            error.value = ""
        if any(s in error.message or (error.value and s in error.value) for s in secrets):
            error.message, error.value = str(ROW_PERSONAL_HIDDEN), ""
    return errors


class _Household:
    """The rows of one household in a file: its members and its household cells, merged."""

    def __init__(self, reference: str, row: int):
        self.reference = reference
        self.first_row = row
        self.household_row: int | None = None  # the first row that carries household cells
        self.members: list = []
        self.broken = False  # a row of it has an error: the household rules are not checked
        self.values: dict[str, tuple[object, int]] = {}  # column → (parsed value, row it came from)

    def merge(self, raw: dict[str, str], parsed: HouseholdValues, row: int, errors: list[RowError]) -> None:
        for column in HOUSEHOLD_COLUMNS:
            if not raw.get(column, "").strip():
                continue
            value = getattr(parsed, _ATTRIBUTE.get(column, column))
            if self.household_row is None:
                self.household_row = row
            if column not in self.values:
                self.values[column] = (value, row)
            elif self.values[column][0] != value:
                errors.append(
                    RowError(
                        row,
                        column,
                        str(
                            HH_DISAGREES.format(
                                reference=self.reference, column=column, first_row=self.values[column][1]
                            )
                        ),
                    )
                )

    def household(self) -> HouseholdValues:
        values = {
            _ATTRIBUTE.get(c, c): v
            for c, (v, _row) in self.values.items()
            if _ATTRIBUTE.get(c, c) in _HOUSEHOLD_ATTRS
        }
        hh = HouseholdValues(reference=self.reference, row=self.household_row or self.first_row, **values)
        if hh.consent and not hh.consent_scope:
            hh.consent_scope = ["registration"]
        return hh


def _given_twice(raw: dict, person, row: int, person_rows: dict, document_rows: dict) -> list[RowError]:
    """A person or a document number already given on an earlier row of the file (both rows named)."""
    errors = []
    reference = (raw.get("individual_id") or "").strip()
    first = person_rows.setdefault(reference, row) if reference else row
    if first != row:
        errors.append(RowError(row, "individual_id", str(PERSON_TWICE.format(first_row=first))))
    for doc_type, number in person.documents if person is not None else []:
        key = (doc_type, keyed_hash(number, f"document:{doc_type}"))
        first = document_rows.setdefault(key, row)
        if first != row:
            errors.append(
                RowError(row, "document_number", str(DOC_TWICE.format(doc_type=doc_type, first_row=first)))
            )
    return errors


class IndividualsImporter:
    kind = KIND
    label = "Registration: households and individuals (one row per person)"

    def read(self, *, job, progress) -> ReadResult:
        operation = job_operation(job)
        uploader_check(job, operation)
        profile = job.profile or {}
        mapping = profile.get("mapping") or {}
        # A file mixing UTF-8 and cp1252 rows is read, not refused: the garbled rows are named one by
        # one (ROW_MOJIBAKE), which tells a registrar more than the lines where the encoding changes.
        table = read_table(job_path(job), expected=[*TEMPLATE_COLUMNS, *mapping.values()], refuse_mixed=False)
        columns, ignored = column_map(table.columns, mapping)
        shown = {target: source for source, target in columns.items()}  # how errors name a column
        missing = [c for c in REQUIRED_COLUMNS if c not in shown]
        if missing and not profile.get("collection"):
            raise ImportFailed(
                str(MISSING_COLUMNS.format(columns=", ".join(missing), template=", ".join(TEMPLATE_COLUMNS)))
            )
        warnings = [str(COLUMNS_IGNORED.format(columns=", ".join(ignored)))] if ignored else []
        today = timezone.localdate()
        progress.start(table.total_rows, "reading the registration list")
        households: dict[str, _Household] = {}
        errors: list[RowError] = []
        person_rows: dict[str, int] = {}
        document_rows: dict[tuple[str, str], int] = {}
        read = 0
        for number, cells in table:
            read += 1
            raw = {target: cells.get(source, "") for source, target in columns.items()}
            person, row_errors = individual_parse(raw, row=number, today=today)
            hh_values, hh_errors = household_parse(raw, row=number, today=today)
            row_errors += hh_errors
            row_errors += _given_twice(raw, person, number, person_rows, document_rows)
            reference = (raw.get("household_id") or "").strip()
            if reference:
                group = households.setdefault(reference, _Household(reference[:64], number))
                if hh_values is not None:
                    group.merge(raw, hh_values, number, row_errors)
                if person is not None and not row_errors:
                    group.members.append(person)
                group.broken = group.broken or bool(row_errors)
            errors += _hidden(row_errors, raw)
            progress.advance()
        items = [HouseholdBatchItem(household=g.household(), members=g.members) for g in households.values()]
        # The household rules (one head, sizes, p-codes, sites, documents and people given twice),
        # on the households whose rows all read well (a head with a bad row is not "no head").
        whole = [i for i, g in zip(items, households.values(), strict=True) if not g.broken]
        errors += batch_check(operation=operation, items=whole, places=_Places(operation))
        errors.sort(key=lambda e: (e.row or 0, e.column))
        for error in errors:
            if error.column in PERSONAL_COLUMNS:
                error.value = ""
            if error.column in shown and shown[error.column] != error.column:
                error.column = f"{shown[error.column]} ({error.column})"
        return ReadResult(
            data={"operation": operation.pk, "items": items, "rows": read},
            rows_read=read,
            errors=errors,
            warnings=warnings,
        )

    def write(self, *, job, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation"])
        source = Household.Source.FORM if (job.profile or {}).get("collection") else Household.Source.IMPORT
        by = acting_user(job)
        written = households_write(operation=operation, items=data["items"], by=by, source=source)
        progress.advance(data["rows"])
        # New people are matched against the registry once this commits (no-op without a saved model).
        after_households_written(operation, written.new_individual_ids or [])
        members = sum(len(i.members) for i in data["items"])
        # Writing personal records is logged like reading them: who, when, which job, why.
        access.log_access(
            user=by,
            operation=operation,
            action=AccessLog.Action.EDIT,
            purpose=Purpose.REGISTRATION,
            obj=job,
            detail={"households": len(data["items"]), "individuals": members},
        )
        return Counts(
            created=written.created,
            updated=written.updated,
            unchanged=written.unchanged,
            summary={
                "households": len(data["items"]),
                "households_created": written.created,
                "households_updated": written.updated,
                "households_unchanged": written.unchanged,
                "individuals": members,
                "individuals_created": written.individuals_created,
                "individuals_updated": written.individuals_updated,
                "individuals_unchanged": members - written.individuals_created - written.individuals_updated,
            },
        )


register(IndividualsImporter())
