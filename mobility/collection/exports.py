"""Exports of a form's submissions (CSV, XLSX) with labels in a chosen language, and the submission filter.

One row per current submission (edited-away versions are left out unless asked for). Columns follow
the form: the system columns (instance_id, submitted_at, enumerator, status, flags) and then every
question in form order, headed by its label in the chosen language (or the question's path with
``language="name"``, which also writes the raw values). Select answers are written as their choice
labels; a select_multiple answer's labels are joined with "; ".

Repeats: in XLSX each repeat group is a sheet of its own; in CSV a form with repeats is exported as
a zip of CSV files (the main file and one per repeat group), as ODK Central does. Every repeat row
carries ``instance_id``, ``parent_key`` and ``key`` (``uuid:…/members[2]``, nested:
``uuid:…/members[2]/children[1]``), so the files join back together.

Personal-data fields (marked in the XLSForm) are left out of every part, repeats included, unless
the user's role allows them (``selectors.personal_allowed``). CSV is UTF-8 with a BOM (Excel),
and text a spreadsheet would run as a formula is neutralised, in CSV and XLSX alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pydantic
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.text import get_valid_filename
from ninja import Field, Schema

from mobility.core.permissions import Action, can
from mobility.core.services import audit_record
from mobility.publishing.exports import neutralise

from .models import Form, FormVersion, Submission
from .selectors import personal_allowed

FILTER_INVALID = "{field}: {value!r} is not allowed ({problem})."
EXPORT_NOT_ALLOWED = "You may not view the submissions of this operation."
EXPORT_FORMAT_UNKNOWN = 'Unknown export format {fmt!r}: choose "csv" or "xlsx".'
EXPORT_LANGUAGE_UNKNOWN = 'The form has no language {language!r}: choose one of {choices}, or "name".'
NAME_HEADERS = "name"  # language="name": question paths as headers and raw values
SYSTEM_COLUMNS = ["instance_id", "submitted_at", "enumerator", "status", "flags"]
REPEAT_KEY_COLUMNS = ["instance_id", "parent_key", "key"]
CSV_CHUNK_ROWS = 500

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SELECT_ONE = {"select one", "select_one", "select one external", "select_one_external"}
SELECT_MULTIPLE = {"select all that apply", "select_multiple"}
NUMERIC = {"integer", "decimal", "int", "range"}
NOT_COLUMNS = {"repeat", "group", "note"}
_FLAG_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


# ---------------------------------------------------------------- the filter


class SubmissionFilter(Schema):
    """What a reader of a form's submissions may ask for: the browser, its CSV/XLSX download, the CLI."""

    date_from: dt.date | None = Field(None, description="Submitted on or after this day (server time zone)")
    date_to: dt.date | None = Field(None, description="Submitted on or before this day")
    enumerator: str | None = Field(None, description="Username of the enumerator (exact)")
    area_code: str | None = Field(None, description="Stated admin area p-code, or its beginning (MZ01)")
    status: Submission.Status | None = Field(None, description="received, processed, attention, superseded")
    flag: str | None = Field(None, description='A quality flag code, "any" (flagged) or "none" (clean)')
    include_superseded: bool = Field(False, description="Also the versions replaced by an edit")

    @pydantic.field_validator("flag")
    @classmethod
    def _flag_code(cls, value: str | None) -> str | None:
        if value is not None and not _FLAG_CODE.match(value):
            raise ValueError("a flag code is lower-case letters, digits and _")
        return value

    @pydantic.model_validator(mode="after")
    def _dates_in_order(self):
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    @classmethod
    def from_query(cls, params) -> SubmissionFilter:
        """Build from a dict or a request's GET parameters (empty values ignored); ValueError names the field."""
        data = {}
        for key, value in (params or {}).items():
            if key in cls.model_fields and value is not None and str(value).strip() != "":
                data[key] = value.strip() if isinstance(value, str) else value
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error.get("loc") else "filters"
            problem = str(error["msg"]).removeprefix("Value error, ")
            raise ValueError(
                FILTER_INVALID.format(field=name, value=data.get(name), problem=problem)
            ) from None

    def q_object(self) -> Q:
        q = Q()
        tz = timezone.get_current_timezone()
        if self.date_from:
            q &= Q(submitted_at__gte=dt.datetime.combine(self.date_from, dt.time.min, tzinfo=tz))
        if self.date_to:
            end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            q &= Q(submitted_at__lt=end)
        if self.enumerator:
            q &= Q(enumerator=self.enumerator)
        if self.area_code:
            q &= Q(area_code__startswith=self.area_code)
        if self.status:
            q &= Q(status=self.status)
        if not self.include_superseded and self.status != Submission.Status.SUPERSEDED:
            q &= Q(superseded_by__isnull=True)
        if self.flag == "none":
            q &= Q(flags_text__in=("[]", ""))
        elif self.flag == "any":
            q &= ~Q(flags_text__in=("[]", ""))
        elif self.flag:
            # Codes are quoted JSON strings in the stored text; messages never quote a code.
            q &= Q(flags_text__contains=f'"{self.flag}"')
        return q


def submissions_filtered(form: Form, filters: dict | SubmissionFilter | None = None) -> QuerySet[Submission]:
    """The form's submissions matching the filter, newest first (current ones only unless asked).

    ``filters`` is a SubmissionFilter or a dict of its fields (strings as in a query string are
    fine; empty values are ignored). A bad value raises ValueError naming the filter.
    """
    if not isinstance(filters, SubmissionFilter):
        filters = SubmissionFilter.from_query(filters or {})
    qs = Submission.objects.filter(form=form)
    if filters.flag:
        qs = qs.annotate(flags_text=Cast("flags", TextField()))
    return qs.filter(filters.q_object()).order_by("-submitted_at", "-id")


# ---------------------------------------------------------------- the layout of an export


@dataclass
class Column:
    path: str
    header: str
    kind: str
    list_name: str


@dataclass
class Part:
    """The main table or one repeat group's table."""

    name: str
    repeat: str  # "" for the main table, else the repeat's path
    parent: str  # the enclosing repeat's path ("" at the top)
    columns: list[Column] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)


@dataclass
class Layout:
    parts: list[Part]
    choices: dict
    language: str  # a language of the form, "default", or NAME_HEADERS
    personal_included: bool

    @property
    def main(self) -> Part:
        return self.parts[0]


def _languages(versions: list[FormVersion]) -> list[str]:
    seen: list[str] = []
    for version in versions:
        for language in version.languages or []:
            if language not in seen:
                seen.append(language)
    return seen


def _language(requested: str | None, versions: list[FormVersion]) -> str:
    languages = _languages(versions)
    if requested in (None, ""):
        default = versions[0].default_language if versions else ""
        return default if default in languages else (languages[0] if languages else "default")
    if requested == NAME_HEADERS or requested in languages:
        return requested
    wanted = requested.strip().lower()
    for language in languages:  # "pt" or "português" for "Português (pt)"
        code = language.rsplit("(", 1)[-1].rstrip(")").strip().lower() if "(" in language else ""
        if wanted in (code, language.split("(")[0].strip().lower()):
            return language
    raise ValidationError(
        EXPORT_LANGUAGE_UNKNOWN.format(language=requested, choices=", ".join(languages) or "default")
    )


def _label(labels: dict, language: str, fallback: str) -> str:
    return (labels or {}).get(language) or (labels or {}).get("default") or fallback


def export_layout(form: Form, *, language: str | None, personal: bool) -> Layout:
    """Columns of every part, from all the form's versions (newest first), personal fields left out unless allowed."""
    versions = list(form.versions.order_by("-created_at", "-id"))
    if form.current_version_id:
        versions.sort(key=lambda v: v.pk != form.current_version_id)
    language = _language(language, versions)
    fields: dict[str, dict] = {}
    personal_paths: set[str] = set()
    for version in versions:
        for f in version.fields or []:
            fields.setdefault(f["path"], f)  # the newest definition (labels) wins; order of the newest
            if f.get("personal"):
                personal_paths.add(f["path"])
    choices: dict = {}
    for version in reversed(versions):
        for list_name, items in (version.choices or {}).items():
            choices.setdefault(list_name, {}).update(items)
    # A repeat's own entry follows its questions in the field list: order the parts where each begins.
    order = list(fields)
    repeats = sorted(
        (f for f in fields.values() if f.get("type") == "repeat"),
        key=lambda f: next(
            (i for i, path in enumerate(order) if path.startswith(f"{f['path']}/")), len(order)
        ),
    )
    parts = [Part(name="submissions", repeat="", parent="")]
    parts += [Part(name=f["name"], repeat=f["path"], parent=f.get("repeat") or "") for f in repeats]
    by_repeat = {p.repeat: p for p in parts}
    for f in fields.values():
        path, kind = f["path"], f.get("type") or ""
        if kind in NOT_COLUMNS or path.startswith("meta/") or path in ("meta", "__version__"):
            continue
        if not personal and _is_personal(path, personal_paths):
            continue
        part = by_repeat.get(f.get("repeat") or "")
        if part is None:
            continue
        header = (
            path if language == NAME_HEADERS else _label(f.get("labels"), language, f.get("name") or path)
        )
        part.columns.append(Column(path, header, kind, f.get("list") or ""))
    for part in parts:
        _unique_headers(part.columns)
    return Layout(parts=parts, choices=choices, language=language, personal_included=personal)


def _is_personal(path: str, personal_paths: set[str]) -> bool:
    """A question is personal if it is marked, or sits in a group or repeat that is marked."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in personal_paths for i in range(1, len(parts) + 1))


def _unique_headers(columns: list[Column]) -> None:
    """Two questions with the same label ("Other, specify") get their path added to tell them apart."""
    counts: dict[str, int] = {}
    for column in columns:
        counts[column.header] = counts.get(column.header, 0) + 1
    for column in columns:
        if counts[column.header] > 1:
            column.header = f"{column.header} ({column.path})"


# ---------------------------------------------------------------- values


def _choice(layout: Layout, list_name: str, value: str) -> str:
    labels = layout.choices.get(list_name, {}).get(value)
    return _label(labels, layout.language, value) if labels else value


def _cell(layout: Layout, column: Column, value, *, typed: bool):
    if value is None or value == "":
        return ""
    if isinstance(value, (list, dict)):
        return ""  # a repeat or group answer under a question's path: not a cell value
    if layout.language != NAME_HEADERS and column.list_name:
        if column.kind in SELECT_ONE:
            value = _choice(layout, column.list_name, str(value))
        elif column.kind in SELECT_MULTIPLE:
            value = "; ".join(_choice(layout, column.list_name, v) for v in str(value).split())
    if column.kind in NUMERIC and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        number = _number(value)
        if number is not None:  # a number as such, never quoted ("-3" is not a formula)
            return number if typed else str(value).strip()
    text = _ILLEGAL_XML.sub("", str(value)) if typed else str(value)
    return neutralise(text)


def _number(value) -> int | float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number.is_integer() and "." not in str(value) and "e" not in str(value).lower():
        return int(number)
    return number


def _entries(container: dict, repeat: str) -> list[dict]:
    entries = container.get(repeat)
    if isinstance(entries, dict):
        return [entries]
    if isinstance(entries, list):
        return [e for e in entries if isinstance(e, dict)]
    if entries is None and any(isinstance(k, str) and k.startswith(f"{repeat}/") for k in container):
        return [container]  # one entry stored flattened into its parent (form version unknown on arrival)
    return []


def _system_row(submission: Submission) -> list:
    codes = list(dict.fromkeys(f.get("code", "") for f in submission.flags or [] if isinstance(f, dict)))
    return [
        neutralise(submission.instance_id),
        timezone.localtime(submission.submitted_at).isoformat(timespec="seconds"),
        neutralise(submission.enumerator),
        submission.status,
        "; ".join(c for c in codes if c),
    ]


def _rows(layout: Layout, submissions: Iterable[Submission], *, typed: bool) -> Iterator[tuple[Part, list]]:
    """(part, row) for every submission and every repeat entry, in submission order."""
    main = layout.main
    children: dict[str, list[Part]] = {}
    for part in layout.parts[1:]:
        children.setdefault(part.parent, []).append(part)

    def repeats(container: dict, parent: str, parent_key: str, instance_id: str):
        for part in children.get(parent, []):
            for index, entry in enumerate(_entries(container, part.repeat), start=1):
                key = f"{parent_key}/{part.name}[{index}]"
                cells = [_cell(layout, c, entry.get(c.path), typed=typed) for c in part.columns]
                yield part, [neutralise(instance_id), neutralise(parent_key), neutralise(key), *cells]
                yield from repeats(entry, part.repeat, key, instance_id)

    for submission in submissions:
        values = submission.values
        cells = [_cell(layout, c, values.get(c.path), typed=typed) for c in main.columns]
        yield main, [*_system_row(submission), *cells]
        if children:
            yield from repeats(values, "", submission.instance_id, submission.instance_id)


def _headers(part: Part) -> list[str]:
    keys = SYSTEM_COLUMNS if not part.repeat else REPEAT_KEY_COLUMNS
    return [*keys, *(neutralise(c.header) for c in part.columns)]


# ---------------------------------------------------------------- writers


def _csv_stream(layout: Layout, submissions: Iterable[Submission]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # Excel reads UTF-8 only with the BOM
    writer.writerow(_headers(layout.main))
    count = 0
    for _, row in _rows(layout, submissions, typed=False):
        writer.writerow(row)
        count += 1
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _csv_zip(layout: Layout, submissions: Iterable[Submission], base: str) -> bytes:
    buffers, writers = {}, {}
    for part in layout.parts:
        buffers[part.name] = io.StringIO()
        buffers[part.name].write("\ufeff")
        writers[part.name] = csv.writer(buffers[part.name], lineterminator="\r\n")
        writers[part.name].writerow(_headers(part))
    for part, row in _rows(layout, submissions, typed=False):
        writers[part.name].writerow(row)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, part in enumerate(layout.parts):
            name = f"{base}.csv" if index == 0 else f"{base}-{get_valid_filename(part.name)}.csv"
            archive.writestr(name, buffers[part.name].getvalue().encode("utf-8"))
    return out.getvalue()


def _sheet_names(parts: list[Part]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for part in parts:
        name = _SHEET_NAME_BAD.sub("_", part.name)[:31] or "repeat"
        candidate, n = name, 2
        while candidate.lower() in used:
            suffix = f"~{n}"
            candidate, n = name[: 31 - len(suffix)] + suffix, n + 1
        used.add(candidate.lower())
        names[part.name] = candidate
    return names


def _xlsx(layout: Layout, submissions: Iterable[Submission]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # rows stream to temporary files: memory stays flat on large forms
    names = _sheet_names(layout.parts)
    sheets = {}
    for part in layout.parts:
        sheets[part.name] = wb.create_sheet(names[part.name])
        sheets[part.name].append(_headers(part))
    for part, row in _rows(layout, submissions, typed=True):
        sheets[part.name].append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- the export


def submissions_export(
    *,
    form: Form,
    user,
    fmt: Literal["csv", "xlsx"],
    language: str | None,
    filters: dict | SubmissionFilter | None = None,
) -> tuple[bytes | Iterator[bytes], str, str]:
    """The form's submissions as (content, content type, file name), audited.

    ``content`` is bytes, except a CSV of a form without repeats, which is an iterator of byte
    chunks (hand it to a StreamingHttpResponse). ``language`` is one of the form's languages (or its
    code, "pt"), None for the form's default, or "name" for question paths and raw values.
    Raises PermissionDenied without VIEW in the form's operation, ValidationError for a bad format or
    language, ValueError for a bad filter.
    """
    if not can(user, Action.VIEW, form.operation):
        raise PermissionDenied(EXPORT_NOT_ALLOWED)
    from mobility.registration.forms_binding import submissions_guard

    submissions_guard(user, form, export=True)  # registration forms: only with an export grant
    if fmt not in ("csv", "xlsx"):
        raise ValidationError(EXPORT_FORMAT_UNKNOWN.format(fmt=fmt))
    if not isinstance(filters, SubmissionFilter):
        filters = SubmissionFilter.from_query(filters or {})
    personal = personal_allowed(user, form.operation)
    layout = export_layout(form, language=language, personal=personal)
    qs = (
        submissions_filtered(form, filters)
        .order_by("submitted_at", "id")
        .only("id", "instance_id", "submitted_at", "enumerator", "status", "flags", "data", "corrections")
    )
    rows = qs.count()
    audit_record(
        action="collection.submissions_export",
        obj=form,
        by=user,
        operation=form.operation,
        detail={
            "format": fmt,
            "language": layout.language,
            "rows": rows,
            "personal_included": personal,
            "filters": sorted(filters.model_dump(exclude_defaults=True)),
        },
    )
    base = get_valid_filename(f"{form.xml_form_id}-submissions-{timezone.localdate():%Y%m%d}")
    submissions = qs.iterator(chunk_size=1000)
    if fmt == "xlsx":
        return _xlsx(layout, submissions), CONTENT_TYPES["xlsx"], f"{base}.xlsx"
    if len(layout.parts) > 1:
        return _csv_zip(layout, submissions, base), CONTENT_TYPES["zip"], f"{base}-csv.zip"
    return _csv_stream(layout, submissions), CONTENT_TYPES["csv"], f"{base}.csv"
