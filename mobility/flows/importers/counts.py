"""Importer ``flows.counts``: flow counts in the Mobility template (CSV/XLSX), from ten rows to ten million.

job.profile = {"operation": ID}. The columns are ``flows.template.TEMPLATE_COLUMNS`` (header
names in any case; the example file is flows/data/template_flow_counts.csv); every row is checked
by ``flows.counts.count_parse`` and stored by ``flows.counts.CountWriter``.

A 10M-row file does not fit the framework's habit of keeping validated rows between read() and
write(), so here neither half holds the rows: read() validates the file as it streams and keeps
the errors and a little metadata (the FMPs and dates touched, the path taken); write() streams
the file again and stores it in batches. Two paths read the file, with the same results:

- the column-wise path (polars, blocks of ``BLOCK_BYTES``) for plain UTF-8 comma CSVs of
  ``FAST_MIN_ROWS`` rows or more with the header on line 1. Each distinct text of a coded column
  (FMP, date, direction, countries, transport...) is parsed once by ``CountParser``'s own memos;
  record ids, admin names and counts are checked on whole columns with rules that accept only
  what count_parse accepts unchanged. A row any check does not clear is handed to count_parse, so
  every message is count_parse's own;
- the row path (``core.tables.read_table`` + count_parse) for everything else (XLSX, small files,
  other encodings and delimiters) and whenever polars reads the file otherwise than the row reader
  would (a cell over several lines: the row numbers would differ).

A record repeated in the file is found from 64-bit hashes of (FMP, record_id) kept per row
(12 bytes a row); rows whose hashes meet are read again to confirm and name both rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import (
    MAX_STORED_ERRORS,
    Counts,
    ImportFailed,
    ReadResult,
    RowError,
    job_path,
    register,
)
from mobility.core.models import Operation
from mobility.core.tables import (
    HEADER_SCAN_ROWS,
    TableError,
    _pick_header,
    _sniff_delimiter,
    check_size,
    is_hxl_row,
    normalise_header,
    read_table,
)

from ..counts import (
    CHOICE_COLUMNS,
    COUNT_COLUMNS,
    COUNT_FIELDS,
    COUNTRY_COLUMNS,
    MAX_COUNT,
    SADD_FIELDS,
    TEXT_COLUMNS,
    TEXT_LIMIT,
    VULNERABILITY_FIELDS,
    CountParser,
    CountWriter,
    FieldProblem,
    clean,
    count_tuple,
    record_repeated,
)
from ..models import FlowMonitoringPoint
from ..template import REQUIRED_COLUMNS, TEMPLATE_COLUMNS

logger = logging.getLogger(__name__)

KIND = "flows.counts"
FAST_MIN_ROWS = 20_000  # data lines from which a CSV is read column-wise (smaller: the row path)
BLOCK_BYTES = 8 << 20  # bytes of CSV per polars batch (about 70,000 rows): memory stays flat
WRITE_ROWS = 50_000  # rows per executemany / COPY
MAX_ERRORS = MAX_STORED_ERRORS  # reading stops after this many problems
PROGRESS_EVERY = 5_000

OPERATION_MISSING = _("Choose the operation the counts belong to (job profile {'operation': ID}).")
OPERATION_NO_POINTS = _(
    "Operation {operation} has no flow monitoring points yet: add its points before importing counts."
)
COLUMNS_MISSING = _("The file has no column {columns}; the template's columns are: {template}.")
COLUMNS_IGNORED = _("Columns that are not in the template were ignored: {columns}.")
TOO_MANY_PROBLEMS = _("Reading stopped after {n} problems: correct these rows and import the file again.")
ROWS_CHANGED = _("The file changed between reading and writing (row {row}); nothing was stored.")

# Python's str.strip() takes these off a cell; a cell that starts or ends with one is not "as is".
_EDGE_SPACE = r"^[\s\x1c-\x1f]|[\s\x1c-\x1f]$"


def column_map(columns: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(template column → the file's header name, required columns missing, columns ignored).

    Header names match whatever their case, with spaces for underscores.
    """
    by_key: dict[str, str] = {}
    for name in columns:
        by_key.setdefault(name.casefold().replace(" ", "_"), name)
    mapping = {c: by_key[c] for c in TEMPLATE_COLUMNS if c in by_key}
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    used = set(mapping.values())
    ignored = [c for c in columns if c not in used and not c.startswith("column_")]
    return mapping, missing, ignored


# --- what read() hands to write() ---------------------------------------------------------------


@dataclass
class Plan:
    """What read() learnt, for write(): no rows, only how to read them again and what they touch."""

    operation_id: int
    fast: bool
    fmps: dict[str, int]
    today: dt.date
    rows: int = 0
    fmp_ids: set[int] = field(default_factory=set)
    date_min: str | None = None
    date_max: str | None = None
    read_seconds: float = 0.0


# --- the row path -------------------------------------------------------------------------------


class RowSource:
    """Rows of any table core.tables reads, as (row number, {template column: text})."""

    def __init__(self, path: Path):
        self.path = path
        self.table = read_table(path, expected=TEMPLATE_COLUMNS)
        self.mapping, self.missing, self.ignored = column_map(self.table.columns)

    @property
    def total(self) -> int | None:
        return self.table.total_rows

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        pairs = list(self.mapping.items())
        for number, values in self.table:
            yield number, {column: values[name] for column, name in pairs}

    def raw_keys(self, rows: set[int]) -> dict[int, tuple[str, str]]:
        """(fmp_code, record_id) as written in the given rows (read again)."""
        found = {}
        for number, raw in RowSource(self.path):
            if number in rows:
                found[number] = (raw.get("fmp_code", ""), raw.get("record_id", ""))
        return found


# --- the column-wise path -----------------------------------------------------------------------


@dataclass
class FastFile:
    """A CSV the column-wise path may read: its header and line count, found by one pass over the bytes."""

    path: Path
    header: list[str]
    data_lines: int


def fast_file(path: Path, *, min_rows: int) -> FastFile | None:
    """The file's FastFile when it is a plain UTF-8 comma CSV of at least ``min_rows`` rows, header on line 1."""
    if path.suffix.lower() not in {".csv", ".txt", ""}:
        return None
    try:
        check_size(path)
        newlines = carriage_returns = crlf = nul = 0
        last = b""
        with path.open("rb") as fh:
            head = fh.read(4)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                return None  # UTF-16
            fh.seek(0)
            tail = b""
            while chunk := fh.read(1 << 24):
                newlines += chunk.count(b"\n")
                carriage_returns += chunk.count(b"\r")
                crlf += (tail + chunk).count(b"\r\n") - tail.count(b"\r\n")
                nul += chunk.count(b"\x00")
                tail, last = chunk[-1:], chunk[-1:]
        if nul or carriage_returns != crlf:
            return None  # binary, or old Mac line ends the two readers split differently
        data_lines = newlines - 1 if last == b"\n" else newlines
        if data_lines < max(min_rows, 1):
            return None
        with path.open(encoding="utf-8-sig", newline="") as fh:
            sample_text = fh.read(64 * 1024)
        if _sniff_delimiter(sample_text) != ",":
            return None
        sample = []
        for cells in csv.reader(io.StringIO(sample_text)):
            sample.append(cells)
            if len(sample) > HEADER_SCAN_ROWS:
                break
        expected = {normalise_header(c) for c in TEMPLATE_COLUMNS}
        if len(sample) < 2 or _pick_header(sample, expected, None) != 0 or is_hxl_row(sample[1]):
            return None
    except (TableError, OSError, csv.Error, UnicodeDecodeError):
        return None
    header = [normalise_header(c) or f"column_{i + 1}" for i, c in enumerate(sample[0])]
    if len(set(header)) != len(header):
        return None  # the row path says which column is repeated
    return FastFile(path=path, header=header, data_lines=data_lines)


class _Fallback(Exception):
    """The column-wise path cannot read this file as the row path would: use the row path."""


@dataclass
class Batch:
    """One batch of the column-wise path: rows it cleared (normalised, ``_row`` + COUNT_FIELDS) and the others."""

    cleared: object  # polars DataFrame
    others: list[tuple[int, dict[str, str]]]  # (row, stripped texts) for count_parse; blank rows left out
    lines: int  # rows polars read (blank ones included), for the line count check


class FastSource:
    """Batches of a FastFile through polars; every cell check is exactly as strict as count_parse."""

    def __init__(self, file: FastFile, parser: CountParser):
        self.file, self.parser = file, parser
        self.mapping, self.missing, self.ignored = column_map(file.header)
        self._maps: dict[str, dict] = defaultdict(dict)

    @property
    def total(self) -> int:
        return self.file.data_lines

    def frames(self, columns: list[str]) -> Iterator:
        """The file in blocks of about BLOCK_BYTES cut at line ends, each read by polars, with ``_row`` numbers.

        Blocks are read one at a time (polars' own streaming reader holds several hundred MB in
        flight). A block whose rows are not its lines (a quoted cell over several lines) raises
        _Fallback, as does anything polars cannot read (invalid UTF-8, a stray quote).
        """
        import polars as pl

        # Each block is read under a header of plain names, so that short rows are padded as the
        # whole file would be (the column count comes from the header, not the block's first line).
        names = [f"c{i}" for i in range(len(self.file.header))]
        head = (",".join(names) + "\n").encode()
        position = {name: i for i, name in enumerate(self.file.header)}
        wanted = [names[position[self.mapping[c]]] for c in columns]
        number = 2  # the first data row is line 2
        try:
            with self.file.path.open("rb") as fh:
                fh.readline()
                rest = b""
                while True:
                    chunk = fh.read(BLOCK_BYTES)
                    data = rest + chunk
                    if not data:
                        break
                    cut = data.rfind(b"\n") + 1 if chunk else len(data)
                    if cut == 0:
                        rest = data
                        continue
                    data, rest = data[:cut], data[cut:]
                    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                    df = pl.read_csv(
                        head + data,
                        has_header=True,
                        infer_schema=False,
                        columns=wanted,
                        empty_string_is_null=False,
                        truncate_ragged_lines=True,
                        encoding="utf8",
                        quote_char='"',
                        raise_if_empty=False,
                    )
                    if df.height != lines:
                        raise _Fallback("a cell spans lines, so row numbers would differ")
                    df = df.rename(dict(zip(wanted, columns, strict=True))).with_columns(
                        pl.int_range(number, number + lines, dtype=pl.Int64).alias("_row")
                    )
                    number += lines
                    yield df
        except _Fallback:
            raise
        except Exception as exc:  # polars raises its own error types
            raise _Fallback(f"polars could not read it ({type(exc).__name__})") from exc

    def batches(self) -> Iterator[Batch]:
        """Every batch in file order; raises _Fallback when polars cannot read it as the row path would."""
        present = [c for c in TEMPLATE_COLUMNS if c in self.mapping]
        for df in self.frames(present):
            yield self._batch(df, present)

    def _mapped(self, df, column: str, fn, dtype):
        """(value, ok) expressions: each distinct text of the column parsed once by ``fn`` (count_parse's)."""
        import polars as pl

        seen = self._maps[column]
        good = {}
        for text in df.get_column(column).unique().to_list():
            hit = seen.get(text)
            if hit is None:
                try:
                    hit = (True, fn(clean(text)))
                except FieldProblem:
                    hit = (False, None)
                seen[text] = hit
            if hit[0]:
                good[text] = hit[1]
        if len(seen) > 200_000:  # a column of free text: forget, rather than grow without end
            self._maps[column] = {}
        ok = pl.col(column).is_in(list(good))
        return pl.col(column).replace_strict(good, default=None, return_dtype=dtype), ok

    def _batch(self, df, present: list[str]) -> Batch:
        import polars as pl

        parser = self.parser
        df = df.with_columns(
            *(pl.col(c).fill_null("") for c in present),
            *(pl.lit("").alias(c) for c in TEMPLATE_COLUMNS if c not in present),
        )
        values, oks = {}, []

        def mapped(column, fn, dtype):
            value, ok = self._mapped(df, column, fn, dtype)
            values[column] = value
            oks.append(ok)

        mapped("fmp_code", parser.fmp, pl.Int64)
        mapped("date", lambda t: parser.date(t).isoformat(), pl.String)
        mapped("direction", parser.direction, pl.String)
        for column in COUNTRY_COLUMNS:
            mapped(column, parser.country, pl.String)
        for column in CHOICE_COLUMNS:
            mapped(column, parser.choice[column], pl.String)

        # The observed period: each distinct (hour_start, period_hours) pair (no NUL in these files).
        pair = pl.concat_str([pl.col("hour_start"), pl.col("period_hours")], separator="\x00")
        df = df.with_columns(pair.alias("_hours"))
        seen = self._maps["_hours"]
        for key in df.get_column("_hours").unique().to_list():
            if key not in seen:
                hour_text, period_text = key.split("\x00")
                start, hours, problems = parser.hours(clean(hour_text), clean(period_text))
                seen[key] = (not problems, start, hours)
        keys = [k for k in df.get_column("_hours").unique().to_list() if seen[k][0]]
        oks.append(pl.col("_hours").is_in(keys))
        values["hour_start"] = pl.col("_hours").replace_strict(
            {k: seen[k][1] for k in keys}, default=None, return_dtype=pl.Int64
        )
        values["period_hours"] = pl.col("_hours").replace_strict(
            {k: seen[k][2] for k in keys}, default=None, return_dtype=pl.Int64
        )

        # Texts kept as written: at most TEXT_LIMIT characters, nothing str.strip() would remove.
        as_is = ~pl.col("record_id").str.contains(_EDGE_SPACE)
        oks.append(as_is & pl.col("record_id").str.len_chars().is_between(1, TEXT_LIMIT))
        values["record_id"] = pl.col("record_id")
        for column in TEXT_COLUMNS:
            oks.append(
                ~pl.col(column).str.contains(_EDGE_SPACE) & (pl.col(column).str.len_chars() <= TEXT_LIMIT)
            )
            values[column] = pl.col(column)

        # Counts: plain digits as polars reads them (what count_parse reads as the same number).
        for column in COUNT_COLUMNS:
            number = pl.col(column).str.to_integer(strict=False)
            oks.append((pl.col(column) == "") | number.is_between(0, MAX_COUNT))
            values[column] = number
        df = df.with_columns(**{f"_v_{c}": e for c, e in values.items() if c in COUNT_COLUMNS})
        individuals = pl.col("_v_individuals")
        oks.append(individuals.is_not_null())
        oks.append(pl.sum_horizontal([pl.col(f"_v_{c}") for c in SADD_FIELDS]) <= individuals)
        oks.extend(pl.col(f"_v_{c}").fill_null(0) <= individuals for c in VULNERABILITY_FIELDS)

        blank = pl.all_horizontal([pl.col(c) == "" for c in present]) if present else pl.lit(True)
        df = df.with_columns(
            pl.all_horizontal(oks).fill_null(False).alias("_ok"),
            blank.alias("_blank"),
        )
        values["fmp_id"] = values.pop("fmp_code")
        for column in COUNT_COLUMNS:
            number = pl.col(f"_v_{column}")
            values[column] = number.fill_null(0) if column in VULNERABILITY_FIELDS else number
        cleared = df.filter(pl.col("_ok")).select("_row", *(values[f].alias(f) for f in COUNT_FIELDS))
        others = []
        rest = df.filter(~pl.col("_ok") & ~pl.col("_blank")).select("_row", *TEMPLATE_COLUMNS)
        for row, *texts in rest.iter_rows():
            raw = {c: t.strip() for c, t in zip(TEMPLATE_COLUMNS, texts, strict=True)}
            if any(raw.values()):  # the row reader skips rows of blank cells
                others.append((row, raw))
        return Batch(cleared=cleared, others=others, lines=df.height)

    def raw_keys(self, rows: set[int]) -> dict[int, tuple[str, str]]:
        """(fmp_code, record_id) as written in the given rows (read again, two columns only)."""
        import polars as pl

        found = {}
        wanted = sorted(rows)
        for df in self.frames(["fmp_code", "record_id"]):
            for code, record, row in df.filter(pl.col("_row").is_in(wanted)).iter_rows():
                found[row] = (code or "", record or "")
        return found


# --- duplicates ---------------------------------------------------------------------------------


class _Keys:
    """(hash of (fmp_id, record_id), row) of every valid row, 12 bytes each; finds rows that may repeat."""

    def __init__(self):
        self.frames: list = []
        self._fmp: list[int] = []
        self._record: list[str] = []
        self._row: list[int] = []

    @staticmethod
    def _hash(frame):
        import polars as pl

        return frame.select(
            pl.struct(pl.col("fmp_id").cast(pl.Int64), pl.col("record_id").cast(pl.String))
            .hash(seed=20_240_301)
            .alias("h"),
            pl.col("_row").cast(pl.UInt32),
        )

    def add_frame(self, frame) -> None:
        self.frames.append(self._hash(frame.select("_row", "fmp_id", "record_id")))

    def add(self, row: int, fmp_id: int, record_id: str) -> None:
        self._row.append(row)
        self._fmp.append(fmp_id)
        self._record.append(record_id)
        if len(self._row) >= 100_000:
            self._flush()

    def _flush(self) -> None:
        import polars as pl

        if self._row:
            frame = pl.DataFrame(
                {"_row": self._row, "fmp_id": self._fmp, "record_id": self._record},
                schema={"_row": pl.Int64, "fmp_id": pl.Int64, "record_id": pl.String},
            )
            self.frames.append(self._hash(frame))
            self._fmp, self._record, self._row = [], [], []

    def candidates(self) -> set[int]:
        """Rows whose hash another row shares (real repeats, or a 1-in-10^12 collision).

        Sorted, not hashed again: a sorted copy of 10M hashes is 80 MB, a hash table several times that.
        """
        import polars as pl

        self._flush()
        if not self.frames:
            return set()
        hashes = pl.concat([f.get_column("h") for f in self.frames], rechunk=True)
        hashes.sort(in_place=True)
        if hashes.len() < 2:
            return set()
        following = hashes.slice(1)
        repeated = following.filter(following == hashes.slice(0, hashes.len() - 1)).unique().to_list()
        del hashes, following
        if not repeated:
            return set()
        found: set[int] = set()
        for frame in self.frames:
            found.update(frame.filter(pl.col("h").is_in(repeated)).get_column("_row").to_list())
        self.frames = []
        return found


def _repeats(
    candidates: set[int], raw_keys: dict[int, tuple[str, str]], parser: CountParser
) -> list[RowError]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    codes: dict[int, str] = {}
    for row in sorted(candidates):
        code, record = (clean(t) for t in raw_keys.get(row, ("", "")))
        try:
            fmp_id = parser.fmp(code)
        except FieldProblem:
            continue
        codes[row] = code
        groups[(fmp_id, record)].append(row)
    errors = []
    for (_fmp_id, record), rows in groups.items():
        for row in rows[1:]:
            errors.append(record_repeated(row=row, first=rows[0], fmp_code=codes[row], record_id=record))
    return errors


# --- read ---------------------------------------------------------------------------------------


class _Reading:
    """What one read pass gathers: errors (up to MAX_ERRORS), keys, FMPs and dates of valid rows."""

    def __init__(self, parser: CountParser):
        self.parser = parser
        self.errors: list[RowError] = []
        self.stopped = False
        self.keys = _Keys()
        self.rows = 0
        self.fmp_ids: set[int] = set()
        self.date_min: str | None = None
        self.date_max: str | None = None

    def dates(self, low: str | None, high: str | None) -> None:
        if low is None:
            return
        self.date_min = low if self.date_min is None or low < self.date_min else self.date_min
        self.date_max = high if self.date_max is None or high > self.date_max else self.date_max

    def row(self, number: int, raw: dict[str, str]) -> None:
        self.rows += 1
        values, errors = self.parser.parse(raw, row=number)
        if errors:
            self.errors += errors
            if len(self.errors) >= MAX_ERRORS:
                self.stopped = True
            return
        self.keys.add(number, values["fmp_id"], values["record_id"])
        self.fmp_ids.add(values["fmp_id"])
        day = values["date"].isoformat()
        self.dates(day, day)

    def cleared(self, frame) -> None:
        import polars as pl

        if not frame.height:
            return
        self.rows += frame.height
        self.keys.add_frame(frame)
        self.fmp_ids.update(frame.get_column("fmp_id").unique().to_list())
        low, high = frame.select(pl.col("date").min().alias("low"), pl.col("date").max().alias("high")).row(0)
        self.dates(low, high)

    def result(self, raw_keys, *, ignored: list[str]) -> tuple[list[RowError], list[str]]:
        errors = self.errors
        if self.stopped:
            errors = [*errors, RowError(None, "", str(TOO_MANY_PROBLEMS.format(n=len(errors))))]
        else:
            candidates = self.keys.candidates()
            if candidates:
                errors = errors + _repeats(candidates, raw_keys(candidates), self.parser)
        errors.sort(key=lambda e: (e.row is None, e.row or 0))
        warnings = [str(COLUMNS_IGNORED.format(columns=", ".join(ignored)))] if ignored else []
        return errors, warnings


def _operation(job) -> Operation:
    params = job.profile or {}
    operation = job.operation
    if params.get("operation"):
        key = params["operation"]
        operation = (
            Operation.objects.filter(pk=key).first() if str(key).isdigit() else None
        ) or Operation.objects.filter(slug=str(key)).first()
    if operation is None:
        raise ValidationError(str(OPERATION_MISSING))
    return operation


def _check_columns(source) -> None:
    if source.missing:
        raise ImportFailed(
            str(
                COLUMNS_MISSING.format(
                    columns=", ".join(source.missing), template=", ".join(TEMPLATE_COLUMNS)
                )
            )
        )


def read_counts(*, path: Path, operation: Operation, progress, min_rows: int | None = None) -> ReadResult:
    """Validate a template file of counts streaming; ReadResult.data is a Plan (no rows are kept)."""
    started = time.perf_counter()
    fmps = dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "id"))
    if not fmps:
        raise ImportFailed(str(OPERATION_NO_POINTS.format(operation=operation.name)))
    parser = CountParser(fmps)
    file = fast_file(path, min_rows=FAST_MIN_ROWS if min_rows is None else min_rows)
    if file is not None:
        source = FastSource(file, parser)
        _check_columns(source)
        reading = _Reading(parser)
        progress.start(source.total, "reading")
        try:
            for batch in source.batches():
                reading.cleared(batch.cleared)
                for number, raw in batch.others:
                    reading.row(number, raw)
                    if reading.stopped:
                        break
                progress.advance(batch.lines)
                if reading.stopped:
                    break
        except _Fallback as exc:
            logger.info("flow counts %s: read row by row (%s)", path.name, exc)
        else:
            errors, warnings = reading.result(source.raw_keys, ignored=source.ignored)
            return _result(operation, parser, reading, errors, warnings, fast=True, started=started)
    source = RowSource(path)
    _check_columns(source)
    reading = _Reading(parser)
    progress.start(source.total, "reading")
    done = 0
    for number, raw in source:
        reading.row(number, raw)
        if reading.stopped:
            break
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress.advance(PROGRESS_EVERY)
    progress.advance(done % PROGRESS_EVERY)
    errors, warnings = reading.result(source.raw_keys, ignored=source.ignored)
    return _result(operation, parser, reading, errors, warnings, fast=False, started=started)


def _result(
    operation, parser, reading: _Reading, errors, warnings, *, fast: bool, started: float
) -> ReadResult:
    plan = Plan(
        operation_id=operation.pk,
        fast=fast,
        fmps=parser.fmps,
        today=parser.today,
        rows=reading.rows,
        fmp_ids=reading.fmp_ids,
        date_min=reading.date_min,
        date_max=reading.date_max,
        read_seconds=round(time.perf_counter() - started, 2),
    )
    return ReadResult(data=plan, rows_read=reading.rows, errors=errors, warnings=warnings)


# --- write --------------------------------------------------------------------------------------


def write_counts(*, path: Path, plan: Plan, job_id: int | None, progress) -> Counts:
    """Read the file again (the path read() took) and store it in batches through CountWriter."""
    with CountWriter(
        operation_id=plan.operation_id, job_id=job_id, fmp_ids=plan.fmp_ids, expected_rows=plan.rows
    ) as writer:
        _write_batches(writer, path=path, plan=plan, progress=progress)
        counts = writer.finish()
    counts.summary["reader"] = "column-wise" if plan.fast else "row by row"
    counts.summary["seconds"] = {"read": plan.read_seconds, **counts.summary.get("seconds", {})}
    return counts


def _write_batches(writer: CountWriter, *, path: Path, plan: Plan, progress) -> None:
    parser = CountParser(plan.fmps, today=plan.today)

    def parsed(number: int, raw: dict[str, str]) -> tuple:
        values, errors = parser.parse(raw, row=number)
        if errors:
            raise ImportFailed(str(ROWS_CHANGED.format(row=number)), errors)
        return count_tuple(values)

    if plan.fast:
        file = fast_file(path, min_rows=0)
        if file is None:
            raise ImportFailed(str(ROWS_CHANGED.format(row=1)))
        source = FastSource(file, parser)
        try:
            for batch in source.batches():
                _store_frame(writer, batch.cleared, job_id=writer.job_id)
                if batch.others:
                    writer.add([parsed(n, raw) for n, raw in batch.others])
                progress.advance(batch.lines)
        except _Fallback as exc:
            raise ImportFailed(str(ROWS_CHANGED.format(row=1))) from exc
        return
    rows: list[tuple] = []
    for number, raw in RowSource(path):
        rows.append(parsed(number, raw))
        if len(rows) >= WRITE_ROWS:
            writer.add(rows)
            progress.advance(len(rows))
            rows = []
    writer.add(rows)
    progress.advance(len(rows))


def _store_frame(writer: CountWriter, frame, *, job_id: int | None) -> None:
    """Hand a batch of cleared rows to the writer: tuples (SQLite) or COPY CSV made by polars (PostgreSQL)."""
    import polars as pl

    for at in range(0, frame.height, WRITE_ROWS):
        part = frame.slice(at, WRITE_ROWS)
        fmp_ids = set(part.get_column("fmp_id").unique().to_list())
        low, high = part.select(pl.col("date").min().alias("low"), pl.col("date").max().alias("high")).row(0)
        if writer.vendor == "postgresql":
            text = part.select(
                pl.lit(writer.operation_id, dtype=pl.Int64).alias("operation_id"),
                pl.lit(job_id, dtype=pl.Int64).alias("job_id"),
                *COUNT_FIELDS,
            ).write_csv(include_header=False)
            writer.add(
                csv_text=text.encode(),
                count=part.height,
                fmp_ids=fmp_ids,
                date_min=low,
                date_max=high,
                frame=part,
            )
        else:
            columns = [part.get_column(c).to_list() for c in COUNT_FIELDS]
            writer.add(
                columns=columns, count=part.height, fmp_ids=fmp_ids, date_min=low, date_max=high, frame=part
            )


class CountsImporter:
    kind = KIND
    label = "Flows: counts in the Mobility template (CSV/XLSX)"

    def read(self, *, job, progress) -> ReadResult:
        return read_counts(path=job_path(job), operation=_operation(job), progress=progress)

    def write(self, *, job, data: Plan, progress) -> Counts:
        return write_counts(path=job_path(job), plan=data, job_id=job.pk, progress=progress)


register(CountsImporter())
