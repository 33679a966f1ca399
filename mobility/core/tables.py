"""Streaming readers for the tables people send: CSV in any common encoding and delimiter, XLSX/XLS/ODS.

Every reader yields ``(row_number, {column: text})`` where row_number is the line or sheet row a
person sees in their spreadsheet program, so errors can name it. Header rows that are not on line 1
are found; an HXL hashtag row under the header is recognised and skipped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

MAX_CELL_CHARS = 100_000
MAX_COLUMNS = 16_384  # as many as a spreadsheet program has; a wider header is not a table
MAX_COUNT = 2_147_483_647  # the largest count every database stores in a PositiveIntegerField
# Real workbooks' parts compress 5-30 times (cell references differ from cell to cell); a deflate bomb
# about 1000 times. A part past this ratio is refused once it is large enough to cost memory.
MAX_ZIP_RATIO = 100
ZIP_RATIO_CHECKED_FROM = 10 * 2**20
HEADER_SCAN_ROWS = 30
TEXT_ENCODINGS_ACCEPTED = ("utf_8", "cp1252", "latin_1", "iso8859_15", "utf_16", "cp1256", "mac_roman")

FILE_EMPTY = "The file is empty."
FILE_TOO_LARGE = "The file is {size_mb:.0f} MB; the largest file accepted is {limit_mb:.0f} MB."
FILE_NOT_TEXT = "The file is not a text (CSV) file: it contains binary data."
FILE_ENCODING_UNKNOWN = (
    "The file is not UTF-8 text and its encoding could not be recognised; save it as 'CSV UTF-8'."
)
FILE_NO_HEADER = "No header row found in the first {n} rows."
FILE_HEADER_DUPLICATE = 'row {row}: column "{column}" appears twice in the header.'
FILE_TOO_MANY_COLUMNS = "row {row}: the header has {count:,} columns; at most {limit:,} are read."
FILE_ENCODING_MIXED = (
    "{lines}: not UTF-8 text, while the rest of the file is (it was pasted together from two "
    "encodings); save the whole file as 'CSV UTF-8'."
)
FILE_CELL_TOO_LARGE = "row {row}: a cell is larger than {limit} characters."
FILE_XLSX_BOMB = "The workbook expands to {size_mb:.0f} MB when unpacked; it is refused as unsafe."
FILE_XLSX_BROKEN = "The workbook could not be read: {reason}"
FILE_SHEET_MISSING = 'The workbook has no sheet "{sheet}"; it has: {sheets}.'
FILE_FORMAT_UNKNOWN = "Files ending in {suffix} cannot be read; send CSV or XLSX."


# C0 control characters other than tab and line ends (and DEL): never text a person typed, they
# would break every XML (XForms, OpenRosa) and some spreadsheets the value later goes into. And
# lone surrogates (an XLSX's "_xD800_", a JSON "\ud800"): no database can store them as UTF-8.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class TableError(ValueError):
    """A file that cannot be read as a table at all (as opposed to a bad row)."""


@dataclass
class Table:
    columns: list[str]
    header_row: int
    rows: Iterator[tuple[int, dict[str, str]]]
    hxl_tags: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    sheet: str | None = None
    total_rows: int | None = None  # data rows, when known cheaply (xlsx), else an estimate

    def __iter__(self):
        return self.rows


def check_size(path: Path) -> int:
    size = path.stat().st_size
    limit = settings.MAX_UPLOAD_BYTES
    if size > limit:
        raise TableError(FILE_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=limit / 2**20))
    if size == 0:
        raise TableError(FILE_EMPTY)
    return size


def normalise_header(name: str) -> str:
    return " ".join(str(name or "").replace("\ufeff", "").split())


def clean_text(text: str) -> str:
    """Text without surrounding white space, control characters (but tab and line ends) or lone surrogates."""
    return _CONTROL_CHARACTERS.sub("", text).strip()


def clean_cells(cells: list[str]) -> list[str]:
    """Cells without surrounding white space or control characters (other than tab and line ends)."""
    values = [c.strip() for c in cells]
    if _CONTROL_CHARACTERS.search("".join(values)):  # rare: one scan a row finds them
        values = [clean_text(v) for v in values]
    return values


def is_hxl_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c and c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


def _header_score(cells: list[str], expected: set[str] | None) -> float:
    filled = [normalise_header(c) for c in cells if c and str(c).strip()]
    if not filled:
        return 0.0
    if expected:
        wanted = {e.lower() for e in expected}
        return sum(1 for c in filled if c.lower() in wanted) + 0.001 * len(filled)
    # Without expectations, a header is a row of mostly non-numeric, distinct labels.
    texty = sum(1 for c in filled if not _looks_numeric(c))
    return (texty / len(cells)) * (len(set(filled)) / len(filled))


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def _pick_header(sample: list[list[str]], expected: set[str] | None, header_row: int | None) -> int:
    """Index (0-based, within sample) of the header row."""
    if header_row is not None:
        if header_row < 1 or header_row > len(sample):
            raise TableError(FILE_NO_HEADER.format(n=len(sample)))
        return header_row - 1
    best, best_score = None, 0.0
    for i, cells in enumerate(sample[:HEADER_SCAN_ROWS]):
        if is_hxl_row(cells):
            continue
        score = _header_score(cells, expected)
        if expected:
            if score > best_score + 1e-9:
                best, best_score = i, score
        elif score >= 0.5 and sum(1 for c in cells if str(c).strip()) >= max(1, len(cells) // 2):
            return i
    if best is None or (expected and best_score < 1):
        if not expected:
            for i, cells in enumerate(sample):
                if any(str(c).strip() for c in cells) and not is_hxl_row(cells):
                    return i
        raise TableError(FILE_NO_HEADER.format(n=min(len(sample), HEADER_SCAN_ROWS)))
    return best


def _columns(cells: list[str], row_number: int) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        raise TableError(FILE_TOO_MANY_COLUMNS.format(row=row_number, count=len(cells), limit=MAX_COLUMNS))
    columns, seen = [], set()
    for i, cell in enumerate(cells):
        name = normalise_header(cell) or f"column_{i + 1}"
        if name in seen:
            raise TableError(FILE_HEADER_DUPLICATE.format(row=row_number, column=name))
        seen.add(name)
        columns.append(name)
    return columns


# --- CSV -----------------------------------------------------------------------------------


def detect_encoding(path: Path, *, refuse_mixed: bool = True) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with a BOM, or plain ASCII-range text without), or a
    recognised legacy encoding.

    A file that is UTF-8 with some lines in another encoding is refused, naming those lines; with
    ``refuse_mixed=False`` it is read in the legacy encoding (for a reader that names the garbled rows).
    """
    with path.open("rb") as fh:
        head = fh.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if utf16 := _utf16_without_bom(head):
            return utf16
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        sample = b""
        multibyte = False
        while chunk := fh.read(1 << 20):
            if b"\x00" in chunk:
                raise TableError(FILE_NOT_TEXT)
            if len(sample) < 1 << 18:
                sample += chunk[: (1 << 18) - len(sample)]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = min(max(exc.start, 0), len(chunk))
                if refuse_mixed and (multibyte or not chunk[:at].isascii()):
                    # Real UTF-8 up to here, then a byte that is not: a file pasted together from two
                    # encodings. Reading it all as cp1252 would garble every accent of the UTF-8 lines.
                    raise TableError(FILE_ENCODING_MIXED.format(lines=_lines_not_utf8(path)))
                bad = chunk[max(0, exc.start - 2000) : exc.start + 2000]
                return _guess_legacy(sample + bad)
            multibyte = multibyte or not chunk.isascii()
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _guess_legacy(sample)
    return "utf-8"


def _lines_not_utf8(path: Path, limit: int = 5) -> str:
    """'line 7' or 'lines 7, 9, 12': the first lines of the file that are not UTF-8."""
    found = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                found.append(str(number))
                if len(found) == limit:
                    break
    return ("line " if len(found) == 1 else "lines ") + ", ".join(found)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' for text saved as UTF-16 without a BOM (every other byte zero)."""
    if len(head) < 8 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.7 * len(odd) and not even.count(0):
        return "utf-16-le"
    if even.count(0) >= 0.7 * len(even) and not odd.count(0):
        return "utf-16-be"
    return None


def _guess_legacy(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(sample, cp_isolation=list(TEXT_ENCODINGS_ACCEPTED))
    best = results.best()
    if best is None or best.encoding not in TEXT_ENCODINGS_ACCEPTED or best.chaos > 0.2:
        raise TableError(FILE_ENCODING_UNKNOWN)
    # Spreadsheets saved as "CSV" on Windows are cp1252 far more often than anything else: on a
    # short sample the detector cannot tell cp1252 from mac_roman, so prefer it when it fits as well.
    for match in results:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.05:
            return "cp1252"
    return best.encoding


_LINE_ENDS = re.compile(r"\r\n|\r|\n")


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number of fields (more is better).

    csv.Sniffer is fooled by quotes and apostrophes inside cells; field-count consistency is not.
    """
    # Lines end at CR/LF only: str.splitlines() would also split at a form feed or other separator
    # inside a cell, and no delimiter would then give rows of one width (found by hypothesis).
    lines = [line for line in _LINE_ENDS.split(text) if line][:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line in half
    best, best_score = ",", (-1.0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode) / len(counts) if mode > 1 else 0.0, mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(
    path: Path,
    *,
    expected: Iterable[str] | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
    refuse_mixed: bool = True,
) -> Table:
    check_size(path)
    encoding = encoding or detect_encoding(path, refuse_mixed=refuse_mixed)
    csv.field_size_limit(MAX_CELL_CHARS + 1)
    stream = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the generator
    try:
        sample_text = stream.read(64 * 1024)
    except UnicodeDecodeError:  # an encoding given by the caller that the file does not have
        stream.close()
        raise TableError(FILE_ENCODING_UNKNOWN) from None
    if not sample_text.strip():
        stream.close()
        raise TableError(FILE_EMPTY)
    delimiter = _sniff_delimiter(sample_text)
    stream.seek(0)
    reader = csv.reader(stream, delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        # Rows are numbered by record, as a spreadsheet shows the file (a cell spanning several
        # lines is still one row), not by the line a record ends on.
        number = 0
        try:
            for number, cells in enumerate(reader, 1):  # noqa: B007 (number is read after an error)
                yield number, cells
        except csv.Error as exc:
            if "field larger" in str(exc):
                raise TableError(FILE_CELL_TOO_LARGE.format(row=number + 1, limit=MAX_CELL_CHARS))
            raise TableError(f"row {number + 1}: {exc}")
        except UnicodeDecodeError:
            raise TableError(FILE_ENCODING_UNKNOWN)

    size = path.stat().st_size
    table = _table_from_rows(numbered(), expected=expected, header_row=header_row, closer=stream.close)
    table.encoding = encoding
    # Estimate data rows from the bytes per line of the sample (for progress bars only).
    lines = max(1, sample_text.count("\n"))
    table.total_rows = max(
        1, int(size / (len(sample_text.encode(encoding, "replace")) / lines)) - table.header_row
    )
    return table


# --- XLSX / XLS / ODS ----------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None or value == "":
        return ""
    if value.__class__ is int:
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _check_zip(path: Path) -> None:
    """Refuse a workbook that unpacks to too much, or one part of which is compressed like a zip bomb.

    The declared sizes can be trusted: both zip readers (Python's and calamine's) stop with an error
    at a part that unpacks to more than its declared size.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise TableError(FILE_XLSX_BROKEN.format(reason=str(exc)[:200] or type(exc).__name__))
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max(settings.MAX_UPLOAD_BYTES * 5, 50 * 2**20):
        raise TableError(FILE_XLSX_BOMB.format(size_mb=unpacked / 2**20))
    for info in infos:
        squeezed = info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1)
        if squeezed and info.file_size > ZIP_RATIO_CHECKED_FROM:
            raise TableError(FILE_XLSX_BOMB.format(size_mb=unpacked / 2**20))


@contextmanager
def _workbook_errors():
    """Calamine's errors (and a panic in its Rust code) as a TableError naming the reason."""
    try:
        yield
    except TableError:
        raise
    except Exception as exc:  # calamine raises its own error types, and OSError/ValueError
        raise TableError(FILE_XLSX_BROKEN.format(reason=str(exc)[:200] or type(exc).__name__)) from None
    except BaseException as exc:
        # pyo3 turns a Rust panic into PanicException, a BaseException: a broken file, not a stop.
        if type(exc).__name__ != "PanicException":
            raise
        raise TableError(FILE_XLSX_BROKEN.format(reason=str(exc)[:200] or "unreadable")) from None


def sheet_names(path: Path) -> list[str]:
    from python_calamine import CalamineWorkbook

    _check_zip(path)
    with _workbook_errors():
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)


def read_xlsx(
    path: Path,
    *,
    sheet: str | None = None,
    expected: Iterable[str] | None = None,
    header_row: int | None = None,
) -> Table:
    from python_calamine import CalamineWorkbook

    check_size(path)
    _check_zip(path)
    with _workbook_errors():
        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
    if not names:
        raise TableError(FILE_EMPTY)
    expected_set = {normalise_header(e) for e in expected} if expected else None
    if sheet is not None:
        if sheet not in names:
            raise TableError(FILE_SHEET_MISSING.format(sheet=sheet, sheets=", ".join(names)))
        chosen = sheet
    elif expected_set and len(names) > 1:
        # Pick the sheet whose header best matches what the importer expects.
        chosen, best = names[0], -1.0
        for name in names:
            with _workbook_errors():
                rows = workbook.get_sheet_by_name(name).iter_rows()
                sample = [
                    [_cell_text(c) for c in r] for _, r in zip(range(HEADER_SCAN_ROWS), rows, strict=False)
                ]
            score = max((_header_score(r, expected_set) for r in sample), default=0)
            if score > best:
                chosen, best = name, score
    else:
        chosen = names[0]
    with _workbook_errors():
        sheet_obj = workbook.get_sheet_by_name(chosen)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        with _workbook_errors():
            for i, row in enumerate(sheet_obj.iter_rows(), start=1):
                # Most cells are already text: convert only the others (this loop is the hot path).
                cells = [c if c.__class__ is str else _cell_text(c) for c in row]
                if max(map(len, cells), default=0) > MAX_CELL_CHARS:
                    raise TableError(FILE_CELL_TOO_LARGE.format(row=i, limit=MAX_CELL_CHARS))
                yield i, cells

    table = _table_from_rows(numbered(), expected=expected_set, header_row=header_row)
    table.sheet = chosen
    table.total_rows = max(0, sheet_obj.height - table.header_row)
    return table


# --- shared --------------------------------------------------------------------------------


def _table_from_rows(rows: Iterator[tuple[int, list[str]]], *, expected, header_row, closer=None) -> Table:
    expected_set = {normalise_header(e) for e in expected} if expected else None
    sample: list[tuple[int, list[str]]] = []
    for item in rows:
        sample.append(item)
        if len(sample) >= (header_row or HEADER_SCAN_ROWS) + 1:
            break
    if not sample or not any(any(str(c).strip() for c in cells) for _, cells in sample):
        if closer:
            closer()
        raise TableError(FILE_EMPTY)
    wide = next(((number, len(cells)) for number, cells in sample if len(cells) > MAX_COLUMNS), None)
    if wide:  # before any header scoring, which would look at every one of a million cells
        if closer:
            closer()
        raise TableError(FILE_TOO_MANY_COLUMNS.format(row=wide[0], count=wide[1], limit=MAX_COLUMNS))
    index = _pick_header([cells for _, cells in sample], expected_set, header_row)
    header_line, header_cells = sample[index]
    columns = _columns(header_cells, header_line)
    rest = sample[index + 1 :]
    hxl: dict[str, str] = {}
    if rest and is_hxl_row(rest[0][1]):
        hxl = {col: tag.strip() for col, tag in zip(columns, rest[0][1], strict=False) if tag and tag.strip()}
        rest = rest[1:]
    width = len(columns)

    def data() -> Iterator[tuple[int, dict[str, str]]]:
        pad = [""] * width
        try:
            for number, cells in itertools.chain(rest, rows):
                if len(cells) < width:
                    cells = cells + pad[: width - len(cells)]
                values = clean_cells(cells)
                if not any(values):
                    continue
                yield number, dict(zip(columns, values, strict=False))
        finally:
            if closer:
                closer()

    return Table(columns=columns, header_row=header_line, rows=data(), hxl_tags=hxl)


def read_table(
    path: Path | str,
    *,
    sheet: str | None = None,
    expected: Iterable[str] | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
    refuse_mixed: bool = True,
) -> Table:
    """Open a CSV/TSV/TXT or XLSX/XLSM/XLS/ODS file as a streaming table."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt", ""}:
        return read_csv(
            path, expected=expected, header_row=header_row, encoding=encoding, refuse_mixed=refuse_mixed
        )
    if suffix in {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}:
        return read_xlsx(path, sheet=sheet, expected=expected, header_row=header_row)
    raise TableError(FILE_FORMAT_UNKNOWN.format(suffix=suffix))


# --- writing ---------------------------------------------------------------------------------

# A cell starting with one of these is run as a formula by spreadsheet programs ("CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would treat as a formula gets a leading single quote.

    Every CSV or XLSX the project writes passes its text cells through here: imported text
    ("=HYPERLINK(...)" as a site name) must come out as text, not run on the reader's machine.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def sniff_kind(path: Path) -> str:
    """'xlsx', 'csv', 'json' or 'unknown' by content, not by name."""
    with Path(path).open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith((b"{", b"[")):
        return "json"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv" if _utf16_without_bom(head) else "unknown"
    return "csv"
