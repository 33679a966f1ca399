"""P-code tables → gazetteer versions: the OCHA COD table of one country and the OCHA global p-code list.

A COD table has one row per lowest-level unit and repeats its ancestors on every row, with headers in
either style (``ADM1 PCODE``/``ADM1_PCODE``, ``ADM1 PT``/``ADM1_EN``/``ADM1_FR``…, ``ADM3 TYPE``).
The global list has one row per admin1/admin2 unit for ~150 countries. Both are read into validated
``AreaRow`` trees here; ``services.versions`` decides whether anything changed and stores it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.tables import read_table

from ..models import MAX_ADMIN_LEVEL, GazetteerVersion
from ..services.versions import (
    AreaRow,
    GazetteerData,
    countries,
    country_iso3_for_code,
    gazetteer_version_store,
    simple_normalize,
)

COD_KIND = "gazetteer.cod"
GLOBAL_KIND = "gazetteer.global-pcodes"

# Whole-file problems.
COD_NO_PCODE_COLUMNS = (
    'No p-code columns found: expected headers like "ADM1_PCODE" or "ADM1 PCODE"; the header has: {columns}.'
)
COD_NO_NAME_COLUMN = 'No name column for admin{level}: expected e.g. "ADM{level}_EN" or "ADM{level} PT".'
COD_LEVEL_GAP = "The header has p-codes for admin{present} but not admin{missing}."
TABLE_NO_ROWS = "The file has a header but no data rows."
COUNTRY_MISSING = "The country cannot be told from the admin0 p-code {code!r}; give it (--country ISO3)."
COUNTRY_NOT_ISO3 = "{code!r} is not an ISO3 country code."
GLOBAL_COUNTRY_ABSENT = "The file has no rows for {country}."
GLOBAL_MISSING_COLUMNS = "The global p-code list needs the columns {columns}; the header has: {found}."
PROFILE_DATE_INVALID = 'The profile date "{value}" is not a date (YYYY-MM-DD).'

# Row problems (the row and column are added by RowError).
CODE_DUPLICATE = "p-code {pcode} appears again with different {fields} (first on row {first_row})."
PARENT_MISSING = "the admin{level} p-code is empty but the row has an admin{child_level} p-code ({child})."
PARENT_UNKNOWN = "the parent p-code {parent} of {pcode} is not in the file."
CODE_NOT_UNDER_PARENT = "p-code {pcode} does not start with its parent's p-code {parent}."
CODE_WRONG_LENGTH = "p-code {pcode} has {length} characters; the other admin{level} p-codes have {expected}."
NAME_EMPTY = "the admin{level} name is empty (p-code {pcode})."
COUNTRY_MISMATCH = "the admin0 p-code {code} belongs to {found}, not to {country} given for this import."
LEVEL_INVALID = '"{value}" is not an admin level (1 to {max_level}).'
DATE_INVALID = '"{value}" is not a date (YYYY-MM-DD).'
COUNTRY_CODE_UNKNOWN = '"{value}" is not an ISO3 country code.'

# Warnings for the global list, a compilation where some countries' codes break the usual shape.
GLOBAL_SHAPE_WARNING = "{country}: {count} p-code(s) {problem}, e.g. {example}; kept as the list has them."

PROGRESS_EVERY = 500
HEADER_RE = re.compile(r"^adm([0-9])[ _]?(.+)$", re.IGNORECASE)
# Two-letter suffixes that are not languages in COD headers.
NOT_LANGUAGES = {"ID"}
AREA_COLUMNS = {"area_km2", "area_sqkm", "area sqkm", "area km2", "shape_area_km2"}
VALID_FROM_COLUMNS = {"validon", "valid_on", "valid from date", "valid_from", "date"}
GLOBAL_COLUMNS = ["Location", "Admin Level", "P-Code", "Name", "Parent P-Code", "Valid from date"]


def name_normalizer() -> Callable[[str], str]:
    """The matcher's normaliser when it is installed, else the simple one (casefold, no accents)."""
    if importlib.util.find_spec("mobility.gazetteer.matching") is not None:
        from mobility.gazetteer.matching import normalize_name

        return normalize_name
    return simple_normalize


def _expected_headers() -> set[str]:
    suffixes = ["PCODE", "EN", "FR", "PT", "ES", "AR", "REF", "TYPE", "NAME"]
    return {f"ADM{n}{sep}{s}" for n in range(MAX_ADMIN_LEVEL + 1) for sep in (" ", "_") for s in suffixes}


def _parse_date(value: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(value[:10], fmt).date()
        except ValueError:
            continue
    return None


def profile_date(profile: dict, key: str = "valid_from") -> dt.date | None:
    value = profile.get(key)
    if not value:
        return None
    if isinstance(value, dt.date):
        return value
    parsed = _parse_date(str(value))
    if parsed is None:
        raise ImportFailed(PROFILE_DATE_INVALID.format(value=value))
    return parsed


def profile_country(profile: dict) -> str | None:
    code = (profile.get("country") or "").strip().upper()
    if not code:
        return None
    if code not in countries():
        raise ImportFailed(COUNTRY_NOT_ISO3.format(code=code))
    return code


def edition_default(job) -> str:
    return str(job.profile.get("edition") or Path(job.original_name or job_path(job).name).stem)[:100]


# --- COD p-code table ----------------------------------------------------------------------


@dataclass
class CodLayout:
    """Which column holds what, per admin level, as told by the header."""

    code: dict[int, str] = field(default_factory=dict)
    names: dict[int, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (lang, column)
    type: dict[int, str] = field(default_factory=dict)
    area_km2: str | None = None
    valid_from: str | None = None

    @property
    def max_level(self) -> int:
        return max(self.code)

    @property
    def languages(self) -> list[str]:
        seen: list[str] = []
        for level in sorted(self.names):
            for lang, _col in self.names[level]:
                if lang not in seen:
                    seen.append(lang)
        return seen


def cod_layout(columns: list[str]) -> CodLayout:
    """Detect levels, name languages, type and area columns from a COD header (either style)."""
    layout = CodLayout()
    for column in columns:
        lower = column.lower()
        if lower in AREA_COLUMNS:
            layout.area_km2 = column
            continue
        if lower in VALID_FROM_COLUMNS:
            layout.valid_from = layout.valid_from or column
            continue
        match = HEADER_RE.match(column.strip())
        if not match:
            continue
        level, suffix = int(match.group(1)), match.group(2).strip().upper().replace(" ", "_")
        if level > MAX_ADMIN_LEVEL:
            continue
        if suffix in ("PCODE", "P_CODE", "CODE"):
            layout.code.setdefault(level, column)
        elif suffix == "TYPE":
            layout.type.setdefault(level, column)
        elif suffix in ("REF", "NAME") or (
            len(suffix) == 2 and suffix.isalpha() and suffix not in NOT_LANGUAGES
        ):
            lang = suffix.lower()
            if all(existing != lang for existing, _c in layout.names[level]):
                layout.names[level].append((lang, column))
    if not layout.code:
        raise ImportFailed(COD_NO_PCODE_COLUMNS.format(columns=", ".join(columns[:20])))
    for level in range(min(layout.code), layout.max_level + 1):
        if level not in layout.code:
            raise ImportFailed(COD_LEVEL_GAP.format(present=layout.max_level, missing=level))
    for level in layout.code:
        if not layout.names.get(level):
            raise ImportFailed(COD_NO_NAME_COLUMN.format(level=level))
    return layout


class _Tree:
    """Areas met so far, checking that every restatement of a p-code agrees with the first."""

    def __init__(self, normalize: Callable[[str], str]):
        self.areas: dict[str, AreaRow] = {}
        self.first_row: dict[str, int] = {}
        self.errors: list[RowError] = []
        self.normalize = normalize

    def add(self, row: int, column: str, area: AreaRow) -> None:
        seen = self.areas.get(area.pcode)
        if seen is None:
            area.name_normalized = self.normalize(area.name)
            self.areas[area.pcode] = area
            self.first_row[area.pcode] = row
            return
        differing = [
            label
            for label, a, b in (
                ("level", seen.level, area.level),
                ("parent", seen.parent_pcode, area.parent_pcode),
                ("names", seen.names, area.names),
                ("type", seen.area_type, area.area_type),
            )
            if a != b
        ]
        if differing:
            message = CODE_DUPLICATE.format(
                pcode=area.pcode, fields=" and ".join(differing), first_row=self.first_row[area.pcode]
            )
            self.errors.append(RowError(row=row, column=column, value=area.pcode, message=message))
        elif area.area_km2 is not None and seen.area_km2 is None:
            seen.area_km2 = area.area_km2

    def check_shape(self, code_columns: dict[int, str], *, under_root: bool = True) -> list[RowError]:
        """A code at the wrong level: not under its parent's code, or not as long as its level's codes."""
        problems: list[RowError] = []
        lengths: dict[int, Counter] = defaultdict(Counter)
        for area in self.areas.values():
            lengths[area.level][len(area.pcode)] += 1
        usual = {level: counter.most_common(1)[0][0] for level, counter in lengths.items()}
        for pcode, area in self.areas.items():
            column = code_columns.get(area.level, "")
            row = self.first_row[pcode]
            parent = self.areas.get(area.parent_pcode)
            checked = parent is not None and (under_root or parent.level > 0)
            if checked and not pcode.startswith(parent.pcode):
                message = CODE_NOT_UNDER_PARENT.format(pcode=pcode, parent=parent.pcode)
                problems.append(RowError(row=row, column=column, value=pcode, message=message))
            if len(lengths[area.level]) > 1 and len(pcode) != usual[area.level]:
                message = CODE_WRONG_LENGTH.format(
                    pcode=pcode, length=len(pcode), level=area.level, expected=usual[area.level]
                )
                problems.append(RowError(row=row, column=column, value=pcode, message=message))
        return problems

    def ordered(self) -> list[AreaRow]:
        return sorted(self.areas.values(), key=lambda a: (a.level, a.pcode))


def _float(text: str) -> float | None:
    try:
        return float(text.replace(",", "")) if text else None
    except ValueError:
        return None


def read_cod(job, progress) -> ReadResult:
    """Read a COD p-code table (CSV or XLSX) into one country's validated area tree."""
    path = job_path(job)
    table = read_table(path, expected=_expected_headers())
    layout = cod_layout(table.columns)
    country = profile_country(job.profile)
    normalize = name_normalizer()
    tree = _Tree(normalize)
    errors = tree.errors
    levels = sorted(layout.code)
    top = levels[0]
    dates: list[dt.date] = []
    rows_read = 0
    progress.start(table.total_rows, "reading")
    for number, row in table:
        rows_read += 1
        if rows_read % PROGRESS_EVERY == 0:
            progress.advance(PROGRESS_EVERY)
        codes = {level: row.get(layout.code[level], "").strip() for level in levels}
        deepest = max((level for level in levels if codes[level]), default=None)
        if deepest is None:
            continue
        if layout.valid_from and (when := _parse_date(row.get(layout.valid_from, ""))):
            dates.append(when)
        row_ok = True
        for level in levels:
            if level > deepest:
                break
            if not codes[level]:
                child_level = min(lv for lv in levels if lv > level and codes[lv])
                message = PARENT_MISSING.format(
                    level=level, child_level=child_level, child=codes[child_level]
                )
                errors.append(RowError(row=number, column=layout.code[level], message=message))
                row_ok = False
        if not row_ok:
            continue
        if top == 0 and country is not None:
            found = country_iso3_for_code(codes[0])
            if found and found != country:
                message = COUNTRY_MISMATCH.format(code=codes[0], found=found, country=country)
                errors.append(RowError(row=number, column=layout.code[0], value=codes[0], message=message))
                continue
        for level in levels:
            if level > deepest:
                break
            names = {lang: row.get(column, "").strip() for lang, column in layout.names[level]}
            names = {lang: text for lang, text in names.items() if text}
            first_column = layout.names[level][0][1]
            name = row.get(first_column, "").strip() or next(iter(names.values()), "")
            if not name:
                message = NAME_EMPTY.format(level=level, pcode=codes[level])
                errors.append(RowError(row=number, column=first_column, message=message))
                continue
            area = AreaRow(
                pcode=codes[level],
                level=level,
                parent_pcode=codes.get(level - 1, "") if level > top else "",
                name=name,
                names=names,
                name_normalized="",
                area_type=row.get(layout.type[level], "").strip() if level in layout.type else "",
                area_km2=_float(row.get(layout.area_km2, ""))
                if layout.area_km2 and level == deepest
                else None,
            )
            tree.add(number, layout.code[level], area)
    progress.advance(rows_read % PROGRESS_EVERY)
    if rows_read == 0:
        raise ImportFailed(TABLE_NO_ROWS)
    errors.extend(tree.check_shape(layout.code))
    if top != 0:
        _add_country_root(tree, country, job)
    admin0 = [a for a in tree.areas.values() if a.level == 0]
    if country is None and admin0:
        country = country_iso3_for_code(admin0[0].pcode)
        if country is None:
            raise ImportFailed(COUNTRY_MISSING.format(code=admin0[0].pcode))
    errors.sort(key=lambda e: (e.row or 0, e.column))
    data = GazetteerData(
        country_iso3=country or "",
        edition=edition_default(job),
        valid_from=profile_date(job.profile) or (max(dates) if dates else dt.date.today()),
        source_format=GazetteerVersion.Format.COD,
        areas=tree.ordered(),
        source=str(job.profile.get("source") or job.original_name)[:300],
        sha256=job.sha256,
        languages=layout.languages,
    )
    return ReadResult(data=[data], rows_read=rows_read, errors=errors)


def _add_country_root(tree: _Tree, country: str | None, job) -> None:
    """A table without admin0 columns hangs its top level under an admin0 made from the country."""
    if country is None:
        raise ImportFailed(COUNTRY_MISSING.format(code=""))
    iso2, name = countries()[country]
    top_level = min(a.level for a in tree.areas.values())
    root = iso2 if all(a.pcode.startswith(iso2) for a in tree.areas.values()) else country
    for area in tree.areas.values():
        if area.level == top_level:
            area.parent_pcode = root
    tree.areas[root] = AreaRow(
        pcode=root,
        level=0,
        parent_pcode="",
        name=name,
        names={"en": name},
        name_normalized=tree.normalize(name),
    )
    tree.first_row[root] = 0


# --- global p-code list --------------------------------------------------------------------


def read_global(job, progress) -> ReadResult:
    """Read the OCHA global p-code list into one validated area tree per country."""
    table = read_table(job_path(job), expected=GLOBAL_COLUMNS)
    missing = [c for c in GLOBAL_COLUMNS[:5] if c not in table.columns]
    if missing:
        raise ImportFailed(
            GLOBAL_MISSING_COLUMNS.format(columns=", ".join(missing), found=", ".join(table.columns))
        )
    only = profile_country(job.profile)
    normalize = name_normalizer()
    trees: dict[str, _Tree] = {}
    parents: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # country → (row, pcode, parent)
    dates: dict[str, list[dt.date]] = defaultdict(list)
    errors: list[RowError] = []
    rows_read = 0
    has_date = "Valid from date" in table.columns
    progress.start(table.total_rows, "reading")
    for number, row in table:
        rows_read += 1
        if rows_read % PROGRESS_EVERY == 0:
            progress.advance(PROGRESS_EVERY)
        country = row["Location"].strip().upper()
        if only and country != only:
            continue
        if country not in countries():
            errors.append(RowError(number, "Location", COUNTRY_CODE_UNKNOWN.format(value=country), country))
            continue
        level_text = row["Admin Level"].strip()
        if not level_text.isdigit() or not 1 <= int(level_text) <= MAX_ADMIN_LEVEL:
            message = LEVEL_INVALID.format(value=level_text, max_level=MAX_ADMIN_LEVEL)
            errors.append(RowError(number, "Admin Level", message, level_text))
            continue
        pcode, name, parent = row["P-Code"].strip(), row["Name"].strip(), row["Parent P-Code"].strip()
        if not pcode:
            errors.append(RowError(number, "P-Code", PARENT_UNKNOWN.format(parent="", pcode="(empty)")))
            continue
        if not name:
            errors.append(RowError(number, "Name", NAME_EMPTY.format(level=level_text, pcode=pcode)))
            continue
        if has_date and row["Valid from date"]:
            when = _parse_date(row["Valid from date"])
            if when is None:
                errors.append(
                    RowError(number, "Valid from date", DATE_INVALID.format(value=row["Valid from date"]))
                )
                continue
            dates[country].append(when)
        tree = trees.get(country) or trees.setdefault(country, _Tree(normalize))
        area = AreaRow(
            pcode=pcode,
            level=int(level_text),
            parent_pcode=parent,
            name=name,
            names={"ref": name},
            name_normalized="",
        )
        tree.add(number, "P-Code", area)
        parents[country].append((number, pcode, parent))
    progress.advance(rows_read % PROGRESS_EVERY)
    if rows_read == 0:
        raise ImportFailed(TABLE_NO_ROWS)
    if only and only not in trees and not errors:
        raise ImportFailed(GLOBAL_COUNTRY_ABSENT.format(country=only))
    warnings: list[str] = []
    result: list[GazetteerData] = []
    for country, tree in sorted(trees.items()):
        errors.extend(tree.errors)
        iso2, country_name = countries()[country]
        admin1 = [a for a in tree.areas.values() if a.level == 1]
        root = iso2 if admin1 and all(a.pcode.startswith(iso2) for a in admin1) else country
        for number, pcode, parent in parents[country]:
            area = tree.areas[pcode]
            if parent in (country, root) and area.level == 1:
                area.parent_pcode = root
            elif parent not in tree.areas or tree.areas[parent].level != area.level - 1:
                message = PARENT_UNKNOWN.format(parent=parent or "(empty)", pcode=pcode)
                errors.append(RowError(number, "Parent P-Code", message, parent))
        tree.areas[root] = AreaRow(
            pcode=root,
            level=0,
            parent_pcode="",
            name=country_name,
            names={"en": country_name},
            name_normalized=normalize(country_name),
        )
        tree.first_row[root] = 0
        # OCHA's compilation keeps some national codes that break the usual shape: warn, do not refuse.
        by_problem: dict[str, list[str]] = defaultdict(list)
        for problem in tree.check_shape({1: "P-Code", 2: "P-Code"}, under_root=False):
            kind = (
                "do not start with their parent's p-code"
                if "start" in problem.message
                else "differ in length"
            )
            by_problem[kind].append(problem.value)
        for kind, codes in by_problem.items():
            warnings.append(
                GLOBAL_SHAPE_WARNING.format(country=country, count=len(codes), problem=kind, example=codes[0])
            )
        result.append(
            GazetteerData(
                country_iso3=country,
                edition=edition_default(job),
                valid_from=profile_date(job.profile)
                or (max(dates[country]) if dates[country] else dt.date.today()),
                source_format=GazetteerVersion.Format.GLOBAL_PCODES,
                areas=tree.ordered(),
                source=str(job.profile.get("source") or job.original_name)[:300],
                sha256=job.sha256,
                languages=["ref"],
            )
        )
    errors.sort(key=lambda e: (e.row or 0, e.column))
    return ReadResult(data=result, rows_read=rows_read, errors=errors, warnings=warnings)


# --- writing (shared) ----------------------------------------------------------------------


def write_versions(job, data: list[GazetteerData], progress, *, skip_cod_countries: bool) -> Counts:
    """Store each country's edition; with the global list, leave countries that have a COD version alone."""
    counts = Counts()
    versions, skipped = [], []
    cod_current = set()
    if skip_cod_countries:
        cod_current = set(
            GazetteerVersion.objects.filter(
                is_current=True,
                source_format=GazetteerVersion.Format.COD,
                country_iso3__in=[d.country_iso3 for d in data],
            ).values_list("country_iso3", flat=True)
        )
    for item in data:
        if item.country_iso3 in cod_current:
            skipped.append(item.country_iso3)
            progress.advance(len(item.areas))
            continue
        result = gazetteer_version_store(data=item, import_job=job, progress=progress)
        counts.created += result.created
        counts.updated += result.updated
        counts.unchanged += result.unchanged
        versions.append(result.summary())
    counts.summary = {"versions": versions}
    if skipped:
        counts.summary["skipped_countries"] = skipped
        counts.summary["skipped_reason"] = "a current COD version exists; name the country to replace it"
    if len(versions) == 1:
        counts.summary.update(versions[0])
    return counts


class CodImporter:
    kind = COD_KIND
    label = _("Gazetteer: OCHA COD p-code table (CSV/XLSX)")

    def read(self, *, job, progress) -> ReadResult:
        return read_cod(job, progress)

    def write(self, *, job, data, progress) -> Counts:
        return write_versions(job, data, progress, skip_cod_countries=False)


class GlobalPcodesImporter:
    kind = GLOBAL_KIND
    label = _("Gazetteer: OCHA global p-code list (admin 1–2)")

    def read(self, *, job, progress) -> ReadResult:
        return read_global(job, progress)

    def write(self, *, job, data, progress) -> Counts:
        return write_versions(job, data, progress, skip_cod_countries=not job.profile.get("country"))


register(CodImporter())
register(GlobalPcodesImporter())
