"""Reading workbooks: sheets as rows of text, header-row detection, and the table a profile names."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mobility.core.tables import (
    FILE_CELL_TOO_LARGE,
    FILE_ENCODING_UNKNOWN,
    FILE_SHEET_MISSING,
    FILE_TOO_MANY_COLUMNS,
    HEADER_SCAN_ROWS,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    TableError,
    _cell_text,
    _check_zip,
    _header_score,
    _sniff_delimiter,
    check_size,
    clean_cells,
    detect_encoding,
    is_hxl_row,
    normalise_header,
)

from .mapping import Profile
from .messages import PROFILE_COLUMN_MISSING


@dataclass
class Sheet:
    name: str
    rows: list[list[str]]


def workbook_sheets(path: Path | str) -> list[Sheet]:
    """Every sheet of an XLSX/XLS/ODS workbook (or the one table of a CSV) as rows of text."""
    path = Path(path)
    check_size(path)
    if path.suffix.lower() in {".csv", ".tsv", ".txt"}:
        return [Sheet(path.stem, _csv_rows(path))]
    from python_calamine import CalamineWorkbook

    _check_zip(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        return [
            Sheet(
                name,
                [_row(name, n, row) for n, row in enumerate(workbook.get_sheet_by_name(name).iter_rows(), 1)],
            )
            for name in workbook.sheet_names
        ]
    except TableError:
        raise
    except Exception as exc:  # calamine raises its own error types
        raise TableError(f"The workbook could not be read: {str(exc)[:200]}")


def _row(sheet: str, number: int, cells: list) -> list[str]:
    """A sheet row as clean text, refused when it is wider or a cell larger than any table is."""
    if len(cells) > MAX_COLUMNS:
        raise TableError(
            f"{sheet}: " + FILE_TOO_MANY_COLUMNS.format(row=number, count=len(cells), limit=MAX_COLUMNS)
        )
    texts = clean_cells([_cell_text(c) for c in cells])
    if max(map(len, texts), default=0) > MAX_CELL_CHARS:
        raise TableError(f"{sheet}: " + FILE_CELL_TOO_LARGE.format(row=number, limit=MAX_CELL_CHARS))
    return texts


def _csv_rows(path: Path) -> list[list[str]]:
    encoding = detect_encoding(path)
    csv.field_size_limit(MAX_CELL_CHARS + 1)
    rows: list[list[str]] = []
    number = 0
    try:
        with path.open(encoding=encoding, newline="") as fh:
            sample = fh.read(64 * 1024)
            fh.seek(0)
            for number, cells in enumerate(csv.reader(fh, delimiter=_sniff_delimiter(sample)), 1):  # noqa: B007
                rows.append(_row(path.stem, number, cells))
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise TableError(FILE_CELL_TOO_LARGE.format(row=number + 1, limit=MAX_CELL_CHARS)) from None
        raise TableError(f"row {number + 1}: {exc}") from None
    except UnicodeDecodeError:
        raise TableError(FILE_ENCODING_UNKNOWN) from None
    return rows


def hxl_like(cells: list[str]) -> bool:
    """An HXL hashtag row, tolerating a stray note in it (Sudan's has "Show location")."""
    filled = [c for c in cells if c]
    tags = sum(1 for c in filled if c.startswith("#"))
    return bool(filled) and (is_hxl_row(cells) or (tags >= 3 and tags >= 0.8 * len(filled)))


def header_columns(cells: list[str]) -> list[str]:
    """Column names of a header row; repeated names get " (2)", " (3)" so each stays addressable."""
    seen: Counter = Counter()
    out = []
    for i, cell in enumerate(cells):
        name = normalise_header(cell) or f"column_{i + 1}"
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def detect_header(rows: list[list[str]], expected: set[str] | None = None) -> int:
    """1-based row number of the header: the row that best matches the expected names, else the most label-like row."""
    best, best_score = 1, -1.0
    for i, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        if hxl_like(cells) or not any(cells):
            continue
        if expected:
            score = _header_score(header_columns(cells), expected)
        else:
            filled = [c for c in cells if c]
            # Rows of group titles leave most cells empty; the column names fill the row.
            score = _header_score(cells, None) * len(filled) / max(1, len(cells))
        if score > best_score + 1e-9:
            best, best_score = i + 1, score
    return best


def pick_sheet(sheets: list[Sheet], expected: set[str] | None) -> Sheet:
    if not expected:
        return max(sheets, key=lambda s: len(s.rows))
    return max(
        sheets,
        key=lambda s: max(
            (_header_score(header_columns(r), expected) for r in s.rows[:HEADER_SCAN_ROWS]), default=0
        ),
    )


@dataclass
class MappedTable:
    sheet: str
    header_row: int
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (sheet row number, {column: text})


def mapped_table(sheets: list[Sheet], profile: Profile) -> MappedTable:
    """Find the sheet and header row the profile names, and the data rows under it."""
    expected = {normalise_header(c) for c in profile.columns.values()}
    if profile.sheet == "auto":
        sheet = pick_sheet(sheets, expected)
    else:
        sheet = next((s for s in sheets if s.name == profile.sheet), None)
        if sheet is None:
            raise TableError(
                FILE_SHEET_MISSING.format(sheet=profile.sheet, sheets=", ".join(s.name for s in sheets))
            )
    header = profile.header_row if profile.header_row != "auto" else detect_header(sheet.rows, expected)
    if header > len(sheet.rows):
        raise TableError(f"The sheet {sheet.name!r} has no row {header}.")
    columns = header_columns(sheet.rows[header - 1])
    missing = [(f, c) for f, c in profile.columns.items() if normalise_header(c) not in columns]
    if missing:
        raise TableError(
            PROFILE_COLUMN_MISSING.format(
                column=missing[0][1], field=missing[0][0], columns=", ".join(columns[:40])
            )
        )
    rows = []
    for number, cells in enumerate(sheet.rows[header:], start=header + 1):
        if not any(cells) or hxl_like(cells):
            continue
        rows.append((number, dict(zip(columns, cells, strict=False))))
    return MappedTable(sheet.name, header, columns, rows)
