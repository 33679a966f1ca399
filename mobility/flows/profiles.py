"""Flow source profiles: how a foreign flow-monitoring workbook maps onto the flow-count template.

A team's workbook rarely looks like Mobility's template (``template.py``). The Somalia flow
monitoring workbook of 2016, for instance, has an "Entry Sheet" and an "Exit Sheet", two header
rows ("Family size" over "Male family members", …), one row per household, the reasons for
moving as one ticked column per reason, and country names with spelling variants ("Ethopia").
A *source profile* says, once, how to read such a workbook; every later file of the same layout
then imports in one step and is checked exactly like a template file.

A profile is plain JSON (no table of its own):

- shipped profiles live in ``mobility/flows/data/profiles/<name>.json``;
- a team's own profile is a JSON file given on import (``--profile path/to/profile.json``);
- every import job keeps the full profile it used in ``ImportJob.profile["mapping"]``, so a
  past run can be repeated exactly and its profile reused (``--profile job:123``).

What a profile holds (see docs/flows.md, "Source profiles", for a worked example):

``sheets``
    the sheets to read, each with a ``key`` (used in record ids), ``constants`` (e.g. the
    direction of every row of that sheet) and ``columns`` overriding the shared ``columns``.
``header_rows``
    how many header rows the sheets have (1 or 2). With two, a column is named
    "Parent / Child"; a parent spans the columns to its right whose own top cell is empty
    (merged cells). A name that repeats in one sheet gets " (2)", " (3)" in order.
``columns``
    template column → source column, or a list of source columns where the first non-empty one
    wins (e.g. "If other, please specify" before "Mode of Transport").
``constants``
    template column → value for every row (e.g. ``households``: 1 for a one-household row).
``values``
    template column → {source text: code} (or the name of a map under ``maps``, for a map that
    several columns share, e.g. the regions for both origin and destination): matched ignoring case, accents, spaces and
    underscores. ``"@countries"`` as a map means country names, ISO3 or ISO2 codes → ISO3 (with
    the profile's ``country_aliases``). A value the map does not know is a row error, unless the
    map has ``"*": "keep"`` (pass the text on to the template's own checks) or ``"*": CODE``.
``fmps``
    the FMP as the workbook names it → the FMP code in the operation. A name not listed is a row
    error. ``points`` may declare the FMPs themselves; the import registers any that are missing.
``one_hot``
    template column → ticked columns: ``{"columns": [[source column, code], …]}``. The first
    ticked column *in the profile's order* gives the code (list the more severe reasons first);
    rows with several ticked are counted in a warning. None ticked gives ``none`` (default "").
``flags``
    vulnerability column → the source columns whose tick adds one person (a household-level
    flag such as "PG=Pregnant" counts one pregnant woman).
``record_id``
    a template such as ``"{sheet}-{Enter form number}"`` (``{sheet}`` is the sheet's key,
    ``{row}`` the sheet row). ``duplicate_record_ids``: ``"error"`` (default) or ``"add_row"``:
    a record id already used earlier in the file gets ``-r<row>`` appended (the Somalia form
    numbers restart within a sheet), which is stable for re-imports of the same file.
``skip_rows_without``
    source columns of which at least one must be filled for a row to count: rows without them
    (e.g. a totals row under the data) are skipped and listed in a warning.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.tables import MAX_CELL_CHARS, TableError, check_size, normalise_header, sheet_names
from mobility.gazetteer.services.versions import countries, simple_normalize

from .models import (
    SADD_FIELDS,
    VULNERABILITY_FIELDS,
    Direction,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from .template import REQUIRED_COLUMNS, TEMPLATE_COLUMNS

PROFILES_DIR = Path(__file__).resolve().parent / "data" / "profiles"

PROFILE_UNKNOWN = _('No flow source profile "{name}"; the shipped ones are: {names}.')
PROFILE_FILE_BROKEN = _("The profile file {name} is not valid JSON: {reason}")
PROFILE_JOB_UNKNOWN = _("Import job {job} has no flow source profile to reuse.")
PROFILE_INVALID = _('Profile "{name}": {problem}')
PROFILE_NOT_OBJECT = _("a profile is a JSON object")
PROFILE_NO_SHEETS = _('"sheets" must list at least one sheet, each with "sheet" (its name) and "key"')
PROFILE_FIELD_UNKNOWN = _('"{field}" in {where} is not a template column; the columns are: {allowed}')
PROFILE_FIELD_MISSING = _("sheet {sheet}: nothing gives {field} (map a column or give a constant)")
PROFILE_CODE_UNKNOWN = _('{where}: "{code}" is not a code of {field}; use one of: {allowed}')
PROFILE_HEADER_ROWS = _('"header_rows" must be 1 or 2')
PROFILE_RECORD_ID = _('"record_id" must be a template such as "{{sheet}}-{{Form number}}"')
PROFILE_DUPLICATES = _('"duplicate_record_ids" must be "error" or "add_row"')
PROFILE_COUNTRY = _('"country" must be an ISO3 code such as SOM')
PROFILE_WORKBOOK_SHEET = _('The workbook has no sheet "{sheet}" that the profile reads; it has: {sheets}.')
PROFILE_WORKBOOK_COLUMN = _(
    'Sheet "{sheet}" has no column "{column}" that the profile reads; it has: {found}.'
)
ROW_VALUE_UNKNOWN = _("is not a value the profile knows for {field}; known: {known}")
ROW_FMP_UNKNOWN = _("is not a flow monitoring point of this profile; known: {known}")
ROW_COUNTRY_UNKNOWN = _("is not a country (give its name, ISO3 or ISO2 code)")
ROW_RECORD_ID_TWICE = _("record id {record_id} is already used on row {first} of {sheet}")
ROW_RECORD_ID_EMPTY = _("is empty, and the record id is made from it")
WARN_SEVERAL_TICKED = _(
    "{count} row(s) ticked several {field} columns; the first in the profile's order was kept ({order})."
)
WARN_SKIPPED = _("{sheet}: skipped {count} row(s) with no {columns} (e.g. totals): rows {rows}.")
WARN_RECORD_ID_RENAMED = _(
    "{count} row(s) repeat a record id used earlier in the file; they were given -r<row> (e.g. {example})."
)

TRUE_WORDS = {"true", "yes", "y", "1", "x", "✓", "✔", "sim", "oui", "si", "checked", "ticked"}
COUNTRIES_MAP = "@countries"
SHARED_KEYS = {
    "name",
    "label",
    "description",
    "country",
    "source",
    "header_rows",
    "header_row",
    "sheets",
    "columns",
    "constants",
    "maps",
    "values",
    "country_aliases",
    "fmps",
    "points",
    "one_hot",
    "flags",
    "record_id",
    "duplicate_record_ids",
    "skip_rows_without",
}
# Codes each coded template column accepts, for checking a profile's value maps.
CODED_FIELDS = {
    "direction": Direction.values,
    "transport": TransportMode.values,
    "reason": MovementReason.values,
    "intended_duration": IntendedDuration.values,
}
COUNTRY_FIELDS = {"from_country", "to_country", "nationality"}
COUNT_FIELDS = {"individuals", "households", *SADD_FIELDS, *VULNERABILITY_FIELDS}


def value_key(text) -> str:
    """How profile values are matched: no case, accents, underscores or extra spaces ("Belet_xaawo ")."""
    return simple_normalize(re.sub(r"[_]+", " ", str(text or "")))


# --- countries ---------------------------------------------------------------------------------------


@functools.cache
def _country_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for iso3, (iso2, name) in countries().items():
        keys[value_key(name)] = iso3
        keys[value_key(iso3)] = iso3
        keys.setdefault(value_key(iso2), iso3)
    # Names people write that the ISO list spells otherwise.
    for alias, iso3 in {
        "democratic republic of the congo": "COD",
        "dr congo": "COD",
        "drc": "COD",
        "republic of the congo": "COG",
        "ivory coast": "CIV",
        "united republic of tanzania": "TZA",
        "tanzania, united republic of": "TZA",
        "iran (islamic republic of)": "IRN",
        "syrian arab republic": "SYR",
        "russia": "RUS",
        "viet nam": "VNM",
        "lao pdr": "LAO",
        "uk": "GBR",
        "usa": "USA",
        "somaliland": "SOM",
        "moçambique": "MOZ",
        "mocambique": "MOZ",
    }.items():
        keys.setdefault(value_key(alias), iso3)
    return keys


def country_code(text: str, aliases: dict[str, str] | None = None) -> str | None:
    """ISO3 of a country given by English name, ISO3 or ISO2 code, or one of ``aliases`` (name → ISO3)."""
    key = value_key(text)
    if not key:
        return None
    if aliases:
        for alias, iso3 in aliases.items():
            if value_key(alias) == key:
                return iso3.upper()
    return _country_keys().get(key)


# --- the profile ------------------------------------------------------------------------------------


@dataclass
class SheetSpec:
    sheet: str
    key: str
    constants: dict[str, str]
    columns: dict[str, list[str]]  # template field → source columns (first non-empty wins)


@dataclass
class OneHot:
    field: str
    columns: list[tuple[str, str]]  # (source column, code) in priority order
    none: str = ""


@dataclass
class FlowProfile:
    """A validated source profile (``profile_validate`` builds it from the JSON mapping)."""

    name: str
    mapping: dict
    country: str
    header_rows: int
    sheets: list[SheetSpec]
    values: dict[str, dict[str, str] | str]
    fallback: dict[str, str]  # field → "keep" or a code for values the map does not know
    country_aliases: dict[str, str]
    fmps: dict[str, str]  # value_key(name) → code
    fmp_names: list[str]
    points: list[dict]
    one_hot: dict[str, OneHot]
    flags: dict[str, list[str]]
    record_id: str
    duplicate_record_ids: str
    skip_rows_without: list[str]

    @property
    def label(self) -> str:
        return str(self.mapping.get("label") or self.name)

    def source_columns(self, sheet: SheetSpec) -> list[str]:
        """Every source column the profile reads from this sheet (to check the workbook has them)."""
        wanted: list[str] = []
        for names in sheet.columns.values():
            wanted += names
        for hot in self.one_hot.values():
            wanted += [c for c, _code in hot.columns]
        for names in self.flags.values():
            wanted += names
        wanted += self.skip_rows_without
        wanted += re.findall(r"\{([^{}]+)\}", self.record_id)
        return [c for c in dict.fromkeys(wanted) if c not in ("sheet", "row")]


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError


def profile_validate(mapping, *, name: str = "") -> FlowProfile:
    """A FlowProfile from its JSON mapping, or a ValidationError listing every problem in it."""
    if not isinstance(mapping, dict):
        raise ValidationError(PROFILE_INVALID.format(name=name, problem=PROFILE_NOT_OBJECT))
    name = str(mapping.get("name") or name or "profile")
    problems: list[str] = []
    allowed = ", ".join(TEMPLATE_COLUMNS)
    fields = set(TEMPLATE_COLUMNS)

    def check_field(f: str, where: str) -> bool:
        if f not in fields:
            problems.append(PROFILE_FIELD_UNKNOWN.format(field=f, where=where, allowed=allowed))
            return False
        return True

    country = str(mapping.get("country") or "").upper()
    if country and country not in countries():
        problems.append(PROFILE_COUNTRY)
    header_rows = mapping.get("header_rows", 1)
    if header_rows not in (1, 2):
        problems.append(PROFILE_HEADER_ROWS)
        header_rows = 1
    shared_columns: dict[str, list[str]] = {}
    for f, value in (mapping.get("columns") or {}).items():
        if check_field(f, "columns"):
            try:
                shared_columns[f] = _as_list(value)
            except ValueError:
                problems.append(f"columns.{f}: give a column name or a list of column names")
    shared_constants = {
        f: str(v) for f, v in (mapping.get("constants") or {}).items() if check_field(f, "constants")
    }
    sheets: list[SheetSpec] = []
    raw_sheets = mapping.get("sheets")
    if not isinstance(raw_sheets, list) or not raw_sheets:
        problems.append(PROFILE_NO_SHEETS)
        raw_sheets = []
    for item in raw_sheets:
        if not isinstance(item, dict) or not item.get("sheet") or not item.get("key"):
            problems.append(PROFILE_NO_SHEETS)
            continue
        columns = dict(shared_columns)
        for f, value in (item.get("columns") or {}).items():
            if check_field(f, f"sheet {item['sheet']}"):
                try:
                    columns[f] = _as_list(value)
                except ValueError:
                    problems.append(f"sheet {item['sheet']}, columns.{f}: give a column name or a list")
        constants = dict(shared_constants)
        constants.update(
            {
                f: str(v)
                for f, v in (item.get("constants") or {}).items()
                if check_field(f, f"sheet {item['sheet']}")
            }
        )
        sheets.append(
            SheetSpec(sheet=str(item["sheet"]), key=str(item["key"]), constants=constants, columns=columns)
        )

    values: dict[str, dict[str, str] | str] = {}
    fallback: dict[str, str] = {}
    maps = mapping.get("maps") or {}
    if not isinstance(maps, dict) or not all(isinstance(m, dict) for m in maps.values()):
        problems.append('"maps" must be an object of named value maps {"name": {"source text": "code"}}')
        maps = {}
    for f, value_map in (mapping.get("values") or {}).items():
        if not check_field(f, "values"):
            continue
        if value_map == COUNTRIES_MAP:
            values[f] = COUNTRIES_MAP
            continue
        if isinstance(value_map, str) and value_map in maps:
            value_map = maps[value_map]
        if not isinstance(value_map, dict):
            problems.append(
                f'values.{f}: give {{"source text": "code"}}, the name of one of "maps", or "{COUNTRIES_MAP}"'
            )
            continue
        clean = {}
        for text, code in value_map.items():
            if text == "*":
                fallback[f] = str(code)
                continue
            clean[value_key(text)] = str(code)
        values[f] = clean
        codes = set(clean.values()) | ({fallback[f]} - {"keep"} if f in fallback else set())
        if f in CODED_FIELDS:
            for code in sorted(codes - set(CODED_FIELDS[f]) - {""}):
                problems.append(
                    PROFILE_CODE_UNKNOWN.format(
                        where=f"values.{f}", code=code, field=f, allowed=", ".join(CODED_FIELDS[f])
                    )
                )
        if f in COUNTRY_FIELDS:
            for code in sorted(codes - set(countries()) - {""}):
                problems.append(
                    PROFILE_CODE_UNKNOWN.format(where=f"values.{f}", code=code, field=f, allowed="ISO3 codes")
                )
    aliases = {str(k): str(v).upper() for k, v in (mapping.get("country_aliases") or {}).items()}
    for alias, code in aliases.items():
        if code not in countries():
            problems.append(
                PROFILE_CODE_UNKNOWN.format(
                    where=f"country_aliases.{alias}", code=code, field="country", allowed="ISO3"
                )
            )
    one_hot: dict[str, OneHot] = {}
    for f, spec in (mapping.get("one_hot") or {}).items():
        if not check_field(f, "one_hot"):
            continue
        pairs = spec.get("columns") if isinstance(spec, dict) else None
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
        ):
            problems.append(f'one_hot.{f}: give {{"columns": [["source column", "code"], …]}}')
            continue
        hot = OneHot(field=f, columns=[(c, code) for c, code in pairs], none=str(spec.get("none", "")))
        if f in CODED_FIELDS:
            for _c, code in hot.columns + [("", hot.none)]:
                if code and code not in CODED_FIELDS[f]:
                    problems.append(
                        PROFILE_CODE_UNKNOWN.format(
                            where=f"one_hot.{f}", code=code, field=f, allowed=", ".join(CODED_FIELDS[f])
                        )
                    )
        one_hot[f] = hot
    flags: dict[str, list[str]] = {}
    for f, value in (mapping.get("flags") or {}).items():
        if f not in COUNT_FIELDS:
            problems.append(
                PROFILE_FIELD_UNKNOWN.format(field=f, where="flags", allowed=", ".join(sorted(COUNT_FIELDS)))
            )
            continue
        try:
            flags[f] = _as_list(value)
        except ValueError:
            problems.append(f"flags.{f}: give a column name or a list of column names")
    record_id = mapping.get("record_id")
    if not isinstance(record_id, str) or "{" not in record_id:
        problems.append(PROFILE_RECORD_ID)
        record_id = "{sheet}-{row}"
    duplicates = mapping.get("duplicate_record_ids", "error")
    if duplicates not in ("error", "add_row"):
        problems.append(PROFILE_DUPLICATES)
    fmps_raw = mapping.get("fmps") or {}
    if not isinstance(fmps_raw, dict):
        problems.append('"fmps" must be an object {"name in the workbook": "FMP code"}')
        fmps_raw = {}
    points = mapping.get("points") or []
    if not isinstance(points, list) or not all(isinstance(p, dict) and p.get("code") for p in points):
        problems.append('"points" must be a list of points, each with at least "code" and "name"')
        points = []
    try:
        skip = _as_list(mapping.get("skip_rows_without") or [])
    except ValueError:
        problems.append('"skip_rows_without" must be a column name or a list of column names')
        skip = []
    for key in mapping:
        if key not in SHARED_KEYS:
            problems.append(f'"{key}" is not a profile key; the keys are: {", ".join(sorted(SHARED_KEYS))}')
    for sheet in sheets:
        given = set(sheet.columns) | set(sheet.constants) | set(one_hot) | set(flags) | {"record_id"}
        for f in REQUIRED_COLUMNS:
            if f not in given:
                problems.append(PROFILE_FIELD_MISSING.format(sheet=sheet.sheet, field=f))
    if problems:
        raise ValidationError([PROFILE_INVALID.format(name=name, problem=p) for p in problems])
    return FlowProfile(
        name=name,
        mapping=mapping,
        country=country,
        header_rows=header_rows,
        sheets=sheets,
        values=values,
        fallback=fallback,
        country_aliases=aliases,
        fmps={value_key(k): str(v) for k, v in fmps_raw.items()},
        fmp_names=[str(k).strip() for k in fmps_raw],
        points=points,
        one_hot=one_hot,
        flags=flags,
        record_id=record_id,
        duplicate_record_ids=duplicates,
        skip_rows_without=skip,
    )


# --- where profiles come from -------------------------------------------------------------------------


def profiles_shipped() -> dict[str, dict]:
    """The profiles shipped with Mobility: name → JSON mapping."""
    out = {}
    for path in sorted(PROFILES_DIR.glob("*.json")):
        mapping = json.loads(path.read_text(encoding="utf-8"))
        out[str(mapping.get("name") or path.stem)] = mapping
    return out


def profile_mapping(reference: str) -> tuple[str, dict]:
    """(name, JSON mapping) for a shipped profile's name, a JSON file's path, or "job:ID" (a past run's).

    The mapping is validated by the caller (``profile_validate``); keep it in the job so the run can be
    repeated even after the shipped profile changes.
    """
    reference = (reference or "").strip()
    shipped = profiles_shipped()
    if reference in shipped:
        return reference, shipped[reference]
    if reference.startswith("job:") and reference[4:].isdigit():
        from mobility.core.models import ImportJob

        job = ImportJob.objects.filter(pk=int(reference[4:])).first()
        mapping = (job.profile or {}).get("mapping") if job else None
        if not mapping:
            raise ValidationError(PROFILE_JOB_UNKNOWN.format(job=reference[4:]))
        return str(mapping.get("name") or reference), mapping
    path = Path(reference)
    if reference.endswith(".json") and path.is_file():
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(PROFILE_FILE_BROKEN.format(name=path.name, reason=str(exc)[:200])) from None
        name = str(mapping.get("name") or path.stem) if isinstance(mapping, dict) else path.stem
        return name, mapping
    raise ValidationError(PROFILE_UNKNOWN.format(name=reference, names=", ".join(shipped) or "none"))


# --- reading a workbook through a profile ------------------------------------------------------------


def cell_text(value) -> str:
    """A cell as text: whole floats without ".0", dates as ISO, booleans as true/false."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def header_names(rows: list[list[str]]) -> list[str]:
    """Column names from one or two header rows: "Parent / Child", repeated names numbered " (2)"."""
    if len(rows) == 1:
        names = [normalise_header(c) for c in rows[0]]
    else:
        top, bottom = rows[0], rows[1]
        width = max(len(top), len(bottom))
        top = [normalise_header(c) for c in top] + [""] * (width - len(top))
        bottom = [normalise_header(c) for c in bottom] + [""] * (width - len(bottom))
        names, parent = [], ""
        for upper, lower in zip(top, bottom, strict=True):
            if upper:
                parent = upper
            if lower:
                names.append(f"{parent} / {lower}" if parent else lower)
            else:
                names.append(upper)
                parent = upper if upper else ""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if not name:
            out.append("")
            continue
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


@dataclass
class SourceRow:
    """One data row of one sheet: where it is, and its cells by column name."""

    sheet: SheetSpec
    row: int
    cells: dict[str, str]


@dataclass
class SheetRows:
    spec: SheetSpec
    columns: list[str]
    total: int
    rows: Iterator[SourceRow] = field(repr=False, default=iter(()))


def workbook_sheets(path: Path, profile: FlowProfile) -> list[SheetRows]:
    """Open each sheet the profile reads and check it has every column the profile names."""
    from python_calamine import CalamineWorkbook

    check_size(path)
    names = sheet_names(path)  # also refuses zip bombs and broken workbooks
    workbook = CalamineWorkbook.from_path(str(path))
    out = []
    for spec in profile.sheets:
        if spec.sheet not in names:
            raise TableError(PROFILE_WORKBOOK_SHEET.format(sheet=spec.sheet, sheets=", ".join(names)))
        sheet = workbook.get_sheet_by_name(spec.sheet)
        rows = iter(sheet.iter_rows())
        header = [[cell_text(c) for c in next(rows, [])] for _ in range(profile.header_rows)]
        columns = header_names(header)
        missing = [c for c in profile.source_columns(spec) if c not in columns]
        if missing:
            raise TableError(
                PROFILE_WORKBOOK_COLUMN.format(
                    sheet=spec.sheet, column=missing[0], found=", ".join(c for c in columns if c)
                )
            )

        def data(rows=rows, columns=columns, spec=spec) -> Iterator[SourceRow]:
            for number, cells in enumerate(rows, start=profile.header_rows + 1):
                texts = [cell_text(c) for c in cells]
                if max(map(len, texts), default=0) > MAX_CELL_CHARS:
                    raise TableError(
                        f"{spec.sheet}, row {number}: a cell is larger than {MAX_CELL_CHARS} characters."
                    )
                if not any(texts):
                    continue
                yield SourceRow(
                    sheet=spec, row=number, cells={c: t for c, t in zip(columns, texts, strict=False) if c}
                )

        out.append(
            SheetRows(
                spec=spec, columns=columns, total=max(0, sheet.height - profile.header_rows), rows=data()
            )
        )
    return out


def is_ticked(text: str) -> bool:
    return value_key(text) in TRUE_WORDS


@dataclass
class Mapped:
    """A source row in the template's vocabulary, and which source column gave each template column."""

    raw: dict[str, str]
    sources: dict[str, str]
    errors: list[RowError]
    several_ticked: set[str] = field(default_factory=set)


class RowMapper:
    """Maps source rows to template rows for one import: record ids, value maps, one-hot, flags."""

    def __init__(self, profile: FlowProfile):
        self.profile = profile
        self.record_ids: dict[str, tuple[int, str]] = {}  # record id → (row, sheet)
        self.renamed: list[str] = []
        self.several: dict[str, int] = {}

    def column_label(self, sheet: SheetSpec, column: str) -> str:
        return f"{column} ({sheet.sheet})"

    def _value(self, f: str, text: str, source: str, src: SourceRow, errors: list[RowError]) -> str:
        if not text:
            return ""
        profile = self.profile
        if f == "fmp_code":
            code = profile.fmps.get(value_key(text))
            if code is None:
                errors.append(
                    RowError(
                        src.row,
                        self.column_label(src.sheet, source),
                        str(ROW_FMP_UNKNOWN.format(known=", ".join(profile.fmp_names) or "none")),
                        text,
                    )
                )
                return ""
            return code
        value_map = profile.values.get(f)
        if value_map == COUNTRIES_MAP or (value_map is None and f in COUNTRY_FIELDS):
            code = country_code(text, profile.country_aliases)
            if code is None:
                if value_map is None:
                    return text  # the template's own check names the problem
                errors.append(
                    RowError(src.row, self.column_label(src.sheet, source), str(ROW_COUNTRY_UNKNOWN), text)
                )
                return ""
            return code
        if value_map is None:
            return text
        code = value_map.get(value_key(text))
        if code is not None:
            return code
        fallback = profile.fallback.get(f)
        if fallback == "keep":
            return text
        if fallback is not None:
            return fallback
        known = sorted({k for k in value_map})
        shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
        errors.append(
            RowError(
                src.row,
                self.column_label(src.sheet, source),
                str(ROW_VALUE_UNKNOWN.format(field=f, known=shown)),
                text,
            )
        )
        return ""

    def _record_id(self, src: SourceRow, errors: list[RowError]) -> str:
        def fill(match: re.Match) -> str:
            key = match.group(1)
            if key == "sheet":
                return src.sheet.key
            if key == "row":
                return str(src.row)
            return src.cells.get(key, "")

        for key in re.findall(r"\{([^{}]+)\}", self.profile.record_id):
            if key not in ("sheet", "row") and not src.cells.get(key, ""):
                errors.append(RowError(src.row, self.column_label(src.sheet, key), str(ROW_RECORD_ID_EMPTY)))
                return ""
        record_id = re.sub(r"\s+", "", re.sub(r"\{([^{}]+)\}", fill, self.profile.record_id))
        if record_id in self.record_ids:
            first_row, first_sheet = self.record_ids[record_id]
            if self.profile.duplicate_record_ids == "add_row":
                renamed = f"{record_id}-r{src.row}"
                self.renamed.append(renamed)
                record_id = renamed
            else:
                errors.append(
                    RowError(
                        src.row,
                        "record_id",
                        str(
                            ROW_RECORD_ID_TWICE.format(
                                record_id=record_id, first=first_row, sheet=first_sheet
                            )
                        ),
                    )
                )
                return record_id
        self.record_ids[record_id] = (src.row, src.sheet.sheet)
        return record_id

    def skip(self, src: SourceRow) -> bool:
        columns = self.profile.skip_rows_without
        return bool(columns) and not any(src.cells.get(c, "") for c in columns)

    def map(self, src: SourceRow) -> Mapped:
        """The template row for one source row (its own errors are named by sheet, row and source column)."""
        errors: list[RowError] = []
        raw: dict[str, str] = dict(src.sheet.constants)
        sources: dict[str, str] = {}
        for f, columns in src.sheet.columns.items():
            text, source = "", columns[0]
            for column in columns:
                if src.cells.get(column, ""):
                    text, source = src.cells[column], column
                    break
            sources[f] = self.column_label(src.sheet, source)
            raw[f] = self._value(f, text, source, src, errors)
        several: set[str] = set()
        for f, hot in self.profile.one_hot.items():
            ticked = [code for column, code in hot.columns if is_ticked(src.cells.get(column, ""))]
            if len(set(ticked)) > 1:
                several.add(f)
                self.several[f] = self.several.get(f, 0) + 1
            raw[f] = ticked[0] if ticked else hot.none
        for f, columns in self.profile.flags.items():
            raw[f] = str(sum(1 for c in columns if is_ticked(src.cells.get(c, ""))))
            sources[f] = self.column_label(src.sheet, columns[0])
        raw["record_id"] = self._record_id(src, errors)
        return Mapped(raw=raw, sources=sources, errors=errors, several_ticked=several)

    def warnings(self) -> list[str]:
        out = []
        for f, count in self.several.items():
            order = " > ".join(column.split(" / ")[-1] for column, _code in self.profile.one_hot[f].columns)
            out.append(str(WARN_SEVERAL_TICKED.format(count=count, field=f, order=order)))
        if self.renamed:
            out.append(str(WARN_RECORD_ID_RENAMED.format(count=len(self.renamed), example=self.renamed[0])))
        return out


def short_rows(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" … ({len(rows)} in all)" if len(rows) > limit else "")
