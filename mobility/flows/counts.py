"""Flow counts: one row of text checked into FlowCount values, and many of them stored at once.

Every way counts come in (the Mobility template, a DTM source profile, a form submission) ends in
the two functions of this module, so a count means the same thing whichever door it came through:

- ``count_parse(raw, row=, fmps=)`` checks one row of template text and returns the FlowCount
  values, or every problem of the row, each naming its column (``CountParser`` is the same with
  the parsed texts remembered, for readers of many rows);
- ``counts_write(operation=, rows=)`` upserts parsed rows on (fmp, record_id), counts what was
  created, updated and left unchanged, and keeps the summaries up to date.

Storing is the fast part of a 10M-row import, so it does not go through model instances:
``CountWriter`` sends plain tuples with the driver's ``executemany`` (SQLite) or ``COPY``
(PostgreSQL). Into FMPs that hold no count yet rows are inserted straight away; otherwise they go
through a staging table, so that a re-import is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
changed`` per batch and the dates of records that moved are known (their old day is rebuilt too).
The dialect difference lives in ``CountWriter`` alone.

Summaries are kept as the rows go in, never by reading the import again: the rows a batch creates
are summed — by polars when the batch is in memory as a frame (the column-wise importer,
``services.frame_sums``, written a few batches at a time), else in SQL over the id range just
inserted or the staged rows not yet stored (``services.summaries_add``) — and added to
``FlowDaily``, the monthly ``FlowBreakdown`` and ``FlowBreakdownTotal``; only what the (FMP, day)
cells of rows that a re-import changed touch, old day and new, is rebuilt at the end
(``services.summaries_rebuild_cells``), and then the touched FMP-months of ``FlowMonthly`` from the
daily rows (``services.monthly_refresh``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from mobility.core.imports import Counts, Progress, RowError
from mobility.gazetteer.services.versions import countries
from mobility.tracking.profiles.parsing import parse_count, parse_date

from .models import (
    SADD_FIELDS,
    VULNERABILITY_FIELDS,
    Direction,
    FlowBreakdownTotal,
    FlowCount,
    FlowMonitoringPoint,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from .services import frame_sums, monthly_refresh, summaries_add, summaries_add_sums, summaries_rebuild_cells
from .template import TEMPLATE_COLUMNS

# --- messages (tests reuse them) ------------------------------------------------------------
# A RowError shows its value before the message: row 14, column individuals: "-3" is negative.
VALUE_REQUIRED = _("is required")
FMP_UNKNOWN = _("is not a flow monitoring point of this operation (its points: {known})")
TEXT_TOO_LONG = _("is longer than {limit} characters")
DATE_INVALID = _("is not a date (write 2024-03-31, or 31/03/2024)")
DATE_FUTURE = _("is in the future (today is {today})")
HOUR_INVALID = _("is not an hour of the day from 0 to 23 (or 07:00)")
PERIOD_INVALID = _("is not a number of hours from 1 to 24")
PERIOD_PAST_MIDNIGHT = _(
    "an observation from hour {start} for {hours} hour(s) would end after midnight; "
    "hour_start + period_hours is at most 24"
)
DIRECTION_INVALID = _('is not a direction: write "in" (or entry, incoming) or "out" (or exit, outgoing)')
COUNTRY_UNKNOWN = _("is not a country code: write its ISO 3166 code, e.g. SOM (or SO)")
CHOICE_UNKNOWN = _("is not a known {what}: use one of {allowed}, or leave it empty")
COUNT_NEGATIVE = _("is negative: a count is 0 or more")
COUNT_FRACTION = _("is not a whole number: people are counted in whole numbers")
COUNT_INVALID = _("is not a number")
COUNT_TOO_LARGE = _("is too large for a count (at most {limit:,})")
SADD_OVER_TOTAL = _("the sex and age figures add up to {sum}, more than the {n} individuals counted")
VULNERABLE_OVER_TOTAL = _("is more than the {n} individuals counted")
RECORD_REPEATED = _("appears twice for point {fmp} in this file: rows {first} and {row}")

TEXT_LIMIT = 64  # record_id and the admin columns (FlowCount's max_length)
MAX_COUNT = 2_147_483_647  # the largest value every database stores in a PositiveIntegerField

TEXT_COLUMNS = ["from_admin1", "from_admin2", "to_admin1", "to_admin2"]
COUNTRY_COLUMNS = ["from_country", "to_country", "nationality"]
CHOICE_COLUMNS = ["transport", "reason", "intended_duration"]
COUNT_COLUMNS = ["individuals", "households", *SADD_FIELDS, *VULNERABILITY_FIELDS]

# The values count_parse returns, in the order of the tuples CountWriter stores.
COUNT_FIELDS = [
    "fmp_id",
    "record_id",
    "date",
    "hour_start",
    "period_hours",
    "direction",
    "from_country",
    "from_admin1",
    "from_admin2",
    "to_country",
    "to_admin1",
    "to_admin2",
    "nationality",
    "transport",
    "reason",
    "intended_duration",
    *COUNT_COLUMNS,
]
_DATE_AT = COUNT_FIELDS.index("date")


class FieldProblem(ValueError):
    """A cell that cannot be read: the message of its RowError."""


def clean(value: Any) -> str:
    """A cell's text as the table reader gives it (stripped; None is empty)."""
    return "" if value is None else str(value).strip()


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


# --- one cell -------------------------------------------------------------------------------


def fmp_of(text: str, fmps: dict[str, int]) -> int:
    """The id of the operation's FMP with this code."""
    if not text:
        raise FieldProblem(VALUE_REQUIRED)
    try:
        return fmps[text]
    except KeyError:
        known = sorted(fmps)
        listed = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
        raise FieldProblem(FMP_UNKNOWN.format(known=listed or "none yet")) from None


def record_id_of(text: str) -> str:
    if not text:
        raise FieldProblem(VALUE_REQUIRED)
    if len(text) > TEXT_LIMIT:
        raise FieldProblem(TEXT_TOO_LONG.format(limit=TEXT_LIMIT))
    return text


def date_of(text: str, today: dt.date) -> dt.date:
    """ISO dates, and 31/03/2024 as tracking reads them (tracking.profiles.parsing.parse_date)."""
    if not text:
        raise FieldProblem(VALUE_REQUIRED)
    try:
        date = parse_date(text)
    except ValueError:
        raise FieldProblem(DATE_INVALID) from None
    if date > today:
        raise FieldProblem(DATE_FUTURE.format(today=today.isoformat()))
    return date


_CLOCK = re.compile(r"^(\d{1,2}):00(:00)?$")


def hour_of(text: str) -> int | None:
    """An hour of the day: 7, 07, 07:00 or 07:00:00 (a workbook's time cell); empty is None."""
    if not text:
        return None
    match = _CLOCK.match(text)
    try:
        hour = int(match.group(1)) if match else parse_count(text)
    except ValueError:
        hour = -1
    if hour is None or not 0 <= hour <= 23:
        raise FieldProblem(HOUR_INVALID)
    return hour


def period_of(text: str) -> int | None:
    """Hours observed, 1 to 24; empty is None (the default depends on hour_start)."""
    try:
        hours = parse_count(text) if text else None
    except ValueError:
        hours = -1
    if hours is not None and not 1 <= hours <= 24:
        raise FieldProblem(PERIOD_INVALID)
    return hours


@functools.cache
def _directions() -> dict[str, str]:
    words = {
        Direction.IN: ["in", "entry", "entering", "incoming", "inflow", "arrival", "arriving", "entree"],
        Direction.OUT: ["out", "exit", "exiting", "leaving", "outgoing", "outflow", "departure", "departing"],
    }
    found = {w: str(value) for value, group in words.items() for w in group}
    found.update({"entrée": "in", "entrada": "in", "sortie": "out", "saída": "out", "saida": "out"})
    found.update(_choice_words(Direction))
    return found


def direction_of(text: str) -> str:
    if not text:
        raise FieldProblem(VALUE_REQUIRED)
    try:
        return _directions()[_words(text)]
    except KeyError:
        raise FieldProblem(DIRECTION_INVALID) from None


@functools.cache
def _countries() -> dict[str, str]:
    """ISO3 and ISO2 codes (upper case) → ISO3."""
    table = countries()
    found = {iso2.upper(): iso3 for iso3, (iso2, _name) in table.items() if iso2}
    found.update({iso3.upper(): iso3 for iso3 in table})
    return found


def country_of(text: str) -> str:
    """An ISO3 country code (an ISO2 code is turned into it); empty stays empty."""
    if not text:
        return ""
    try:
        return _countries()[text.upper()]
    except KeyError:
        raise FieldProblem(COUNTRY_UNKNOWN) from None


def _choice_words(choices) -> dict[str, str]:
    """Value and label of every choice, in each language, and each part of a label like "Bus / truck"."""
    from django.conf import settings

    found: dict[str, str] = {}
    ambiguous: set[str] = set()
    languages = ["en"] + [code for code, _name in settings.LANGUAGES if code != "en"]
    for language in languages:
        with override(language):
            for value, label in choices.choices:
                label = str(label)
                keys = {_words(value), _words(value.replace("_", " ")), _words(label)}
                keys |= {_words(part) for part in re.split(r"[/()]", label) if part.strip()}
                for key in keys:
                    if found.get(key, value) != value:
                        ambiguous.add(key)
                    found.setdefault(key, value)
    for key in ambiguous:
        found.pop(key)
    return found


_CHOICES = {
    "transport": (TransportMode, _("transport mode")),
    "reason": (MovementReason, _("reason for movement")),
    "intended_duration": (IntendedDuration, _("intended duration")),
}


@functools.cache
def _choice_map(column: str) -> dict[str, str]:
    return _choice_words(_CHOICES[column][0])


def choice_of(column: str, text: str) -> str:
    """A transport, reason or intended duration value from its value or label (any case); empty is unknown."""
    if not text:
        return "unknown"
    try:
        return _choice_map(column)[_words(text)]
    except KeyError:
        choices, what = _CHOICES[column]
        raise FieldProblem(CHOICE_UNKNOWN.format(what=what, allowed=", ".join(choices.values))) from None


def text_of(text: str) -> str:
    if len(text) > TEXT_LIMIT:
        raise FieldProblem(TEXT_TOO_LONG.format(limit=TEXT_LIMIT))
    return text


def count_of(text: str) -> int | None:
    """A non-negative whole number ("1 234" and "1,234" too, as tracking reads counts); empty is None."""
    if not text:
        return None
    if text.isascii() and text.isdigit():
        number = int(text)
    else:
        try:
            number = parse_count(text)
        except ValueError:
            try:
                float(text.replace(",", "."))
            except ValueError:
                raise FieldProblem(COUNT_INVALID) from None
            raise FieldProblem(COUNT_FRACTION) from None
        if number is None:
            return None
    if number < 0:
        raise FieldProblem(COUNT_NEGATIVE)
    if number > MAX_COUNT:
        raise FieldProblem(COUNT_TOO_LARGE.format(limit=MAX_COUNT))
    return number


# --- one row --------------------------------------------------------------------------------


class _Memo:
    """A pure function of one text, computed once per distinct text (a file repeats few values)."""

    __slots__ = ("fn", "seen")

    def __init__(self, fn: Callable[[str], Any]):
        self.fn, self.seen = fn, {}

    def __call__(self, text: str):
        try:
            result = self.seen[text]
        except KeyError:
            try:
                result = self.fn(text)
            except FieldProblem as problem:
                result = problem
            if len(self.seen) < 100_000:
                self.seen[text] = result
        if isinstance(result, FieldProblem):
            raise result.with_traceback(None)  # a fresh traceback each time, not a growing one
        return result


class CountParser:
    """``count_parse`` for many rows of one file: each distinct text of a column is parsed once.

    The memos are also what the column-wise reader maps whole columns with, so both give the same
    values and the same messages.
    """

    def __init__(self, fmps: dict[str, int], *, today: dt.date | None = None):
        self.fmps = fmps
        self.today = today or timezone.localdate()
        self.fmp = _Memo(lambda text: fmp_of(text, fmps))
        self.date = _Memo(lambda text: date_of(text, self.today))
        self.hour = _Memo(hour_of)
        self.period = _Memo(period_of)
        self.direction = _Memo(direction_of)
        self.country = _Memo(country_of)
        self.choice = {c: _Memo(functools.partial(choice_of, c)) for c in CHOICE_COLUMNS}
        self.text = _Memo(text_of)

    def hours(
        self, hour_text: str, period_text: str
    ) -> tuple[int | None, int | None, list[tuple[str, str, str]]]:
        """(hour_start, period_hours, problems as (column, message, value)) of the observed period."""
        problems = []
        try:
            start = self.hour(hour_text)
        except FieldProblem as problem:
            problems.append(("hour_start", str(problem), hour_text[:200]))
            start = None
        try:
            hours = self.period(period_text)
        except FieldProblem as problem:
            problems.append(("period_hours", str(problem), period_text[:200]))
            return start, None, problems
        if hours is None:
            hours = 24 if start is None else 1
        if start is not None and start + hours > 24:
            problems.append(("period_hours", str(PERIOD_PAST_MIDNIGHT.format(start=start, hours=hours)), ""))
        return start, hours, problems

    def parse(self, raw: dict[str, Any], *, row: int | None) -> tuple[dict | None, list[RowError]]:
        """FlowCount values of one row of template text, or every problem of the row."""
        errors: list[RowError] = []
        values: dict[str, Any] = {}
        texts = {column: clean(raw.get(column)) for column in TEMPLATE_COLUMNS}

        def take(field: str, column: str, fn, text: str):
            try:
                values[field] = fn(text)
            except FieldProblem as problem:
                errors.append(RowError(row, column, str(problem), text[:200]))
                values[field] = None

        take("fmp_id", "fmp_code", self.fmp, texts["fmp_code"])
        take("record_id", "record_id", record_id_of, texts["record_id"])
        take("date", "date", self.date, texts["date"])
        values["hour_start"], values["period_hours"], problems = self.hours(
            texts["hour_start"], texts["period_hours"]
        )
        errors += [RowError(row, column, message, value) for column, message, value in problems]
        take("direction", "direction", self.direction, texts["direction"])
        for column in COUNTRY_COLUMNS:
            take(column, column, self.country, texts[column])
        for column in TEXT_COLUMNS:
            take(column, column, self.text, texts[column])
        for column in CHOICE_COLUMNS:
            take(column, column, self.choice[column], texts[column])
        for column in COUNT_COLUMNS:
            take(column, column, count_of, texts[column])

        individuals = values["individuals"]
        if individuals is None and not _failed(errors, "individuals"):
            # Empty, or a blank-like text ("-", "n/a"): no count of people.
            errors.append(RowError(row, "individuals", str(VALUE_REQUIRED), texts["individuals"][:200]))
        for column in VULNERABILITY_FIELDS:
            if values[column] is None:
                values[column] = 0 if not _failed(errors, column) else None
        if individuals is not None:
            parts = [values[f] for f in SADD_FIELDS if values[f] is not None]
            if parts and sum(parts) > individuals:
                errors.append(
                    RowError(row, "individuals", str(SADD_OVER_TOTAL.format(sum=sum(parts), n=individuals)))
                )
            for column in VULNERABILITY_FIELDS:
                if values[column] is not None and values[column] > individuals:
                    errors.append(
                        RowError(
                            row, column, str(VULNERABLE_OVER_TOTAL.format(n=individuals)), texts[column][:200]
                        )
                    )
        if errors:
            return None, errors
        return values, []


def _failed(errors: list[RowError], column: str) -> bool:
    return any(e.column == column for e in errors)


def count_parse(raw: dict[str, str], *, row: int, fmps: dict[str, int]) -> tuple[dict | None, list[RowError]]:
    """Check one row of template text (columns of ``template.TEMPLATE_COLUMNS``, a missing one is empty).

    ``fmps`` maps the operation's FMP codes to their ids. Returns the FlowCount values
    (``COUNT_FIELDS``: fmp_id, record_id, date, hour_start, period_hours, direction, ...,
    individuals, ...) and no error, or None and every problem of the row, each naming its column.
    For many rows, ``CountParser(fmps).parse`` does the same and parses each distinct text once.
    """
    return CountParser(fmps).parse(raw, row=row)


def record_repeated(*, row: int, first: int, fmp_code: str, record_id: str) -> RowError:
    """The error of a row whose (FMP, record_id) an earlier row of the file already has."""
    return RowError(
        row, "record_id", str(RECORD_REPEATED.format(fmp=fmp_code, first=first, row=row)), record_id
    )


# --- storing --------------------------------------------------------------------------------

_TABLE = FlowCount._meta.db_table
_TOTAL_TABLE = FlowBreakdownTotal._meta.db_table
_STAGE = "flowcount_stage"
_CELLS = "flowcount_cells"  # temp: (fmp_id, date) cells of changed rows, rebuilt at the end
KEY_FIELDS = ["fmp_id", "record_id"]
DATA_FIELDS = [f for f in COUNT_FIELDS if f not in KEY_FIELDS]
STORED_FIELDS = ["operation_id", "job_id", *COUNT_FIELDS]  # columns of every stored tuple
BATCH_ROWS = 50_000
_DEFAULTS = {
    "transport": "unknown",
    "reason": "unknown",
    "intended_duration": "unknown",
    **dict.fromkeys(COUNTRY_COLUMNS + TEXT_COLUMNS, ""),
    **dict.fromkeys(VULNERABILITY_FIELDS, 0),
}


class CountWriter:
    """Stores batches of count tuples for one operation and job, keeping the summaries; ``finish`` counts.

    Tuples hold ``COUNT_FIELDS`` in order, dates as ``date`` or ISO text. Within one writer no
    (fmp_id, record_id) may come twice (``counts_write`` drops repeats; the template reader
    refuses them). Run it inside the caller's transaction.

    Created rows are added to the summaries batch by batch; the (FMP, day) cells of updated rows
    (and the old day of a record that moved) are rebuilt in ``finish``; a re-import that changes
    nothing touches no summary.
    """

    SQLITE_CACHE_KIB = 128 * 1024  # SQLite page cache while writing (default 2 MB; 256 MB: 1 GB at 10M)

    SUMS_FLUSH_ROWS = 500_000  # rows whose summaries are kept in memory before they are written (~100 MB)

    BULK_MIN_ROWS = 200_000  # SQLite: from this many new rows into an emptier table, indexes are built after

    def __init__(
        self,
        *,
        operation_id: int,
        job_id: int | None = None,
        fmp_ids: Iterable[int] = (),
        expected_rows: int = 0,
    ):
        self.operation_id, self.job_id = operation_id, job_id
        self.expected_rows = expected_rows
        self.vendor = connection.vendor
        # FMPs whose holding was checked, and those that held no count before this write. The
        # caller may name the FMPs it will write (one query instead of one per new FMP in a batch).
        self.known: set[int] = set(fmp_ids)
        self.fresh = self.fresh_among(self.known) if self.known else set()
        self.created = self.updated = self.unchanged = 0
        self.fmp_ids: set[int] = set()  # FMPs with a row created or updated
        self.date_min: str | None = None  # ... and the days those rows cover (old and new)
        self.date_max: str | None = None
        self.staged = 0
        self._stage_ready = False
        self._cells_ready = False
        self._last_id: int | None = None  # the largest FlowCount id before the next direct insert
        self.summed = 0  # created rows added to the summaries
        self._sums: list = []  # frame_sums of inserted batches not written yet
        self._sums_rows = 0  # ... and the rows they sum
        # Point-months whose summary cells are written ("fmp_id|YYYY-MM-01": by a flush, or by rows
        # summed in SQL as they went in): a later flush upserts there; elsewhere the cells of FMPs
        # that held no count are new and inserted plainly. Off once rows are staged (a re-import).
        self._flushed: set[str] = set()
        self._direct = True
        self.cells_inserted = self.cells_upserted = 0  # summary rows a flush wrote plainly / added to
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}  # where the time went, kept in the job's summary
        self._cursor = connection.cursor()
        columns = ", ".join(STORED_FIELDS)
        self._insert = f"INSERT INTO {_TABLE} ({columns}) VALUES ({', '.join(['%s'] * len(STORED_FIELDS))})"  # noqa: S608
        self._copy = f"COPY {_TABLE} ({columns}) FROM STDIN"
        self._cache = None
        self._dropped: list[str] = []  # CREATE INDEX statements to run again at the end (bulk load)
        self._stream_open = None  # PostgreSQL: (context, Copy) of the COPY kept open across batches
        self._bulk_checked = False
        if self.vendor == "postgresql":
            # Foreign keys are checked as each statement ends, not all at commit: the time shows
            # where it is spent, and the server keeps no queue of millions of pending checks.
            self._cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if self.vendor == "sqlite":
            self._cursor.execute("PRAGMA cache_size")
            self._cache = self._cursor.fetchone()[0]
            self._cursor.execute(f"PRAGMA cache_size = -{self.SQLITE_CACHE_KIB}")

    @classmethod
    def fresh_among(cls, fmp_ids: Iterable[int]) -> set[int]:
        """The FMPs of ``fmp_ids`` that hold no count yet (their rows can be inserted without a check)."""
        ids = set(fmp_ids)
        if not ids:
            return set()
        # One index probe per FMP (not a DISTINCT over its counts, which reads them all).
        holding = FlowMonitoringPoint.objects.filter(
            pk__in=ids, id__in=Subquery(FlowCount.objects.filter(fmp_id=OuterRef("pk")).values("fmp_id")[:1])
        ).values_list("pk", flat=True)
        return ids - set(holding)

    def __enter__(self) -> CountWriter:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        # A COPY left open by a failure is ended with the error (the server aborts it), so the
        # caller's rollback finds the connection usable.
        self._stream_end(exc)

    # -- batches --

    def add(
        self,
        rows: Sequence[Sequence] | None = None,
        *,
        columns: Sequence[list] | None = None,
        csv_text: bytes | None = None,
        count: int | None = None,
        fmp_ids: Iterable[int] | None = None,
        date_min=None,
        date_max=None,
        frame=None,
    ) -> None:
        """Store a batch: tuples of ``COUNT_FIELDS``; or ``count`` rows as lists, one per field of
        ``COUNT_FIELDS`` (SQLite), or as COPY CSV of ``STORED_FIELDS`` (PostgreSQL).

        ``fmp_ids`` and the date range are needed with ``columns`` or ``csv_text``; with tuples they are found.
        ``frame``, the same rows as a polars frame of ``COUNT_FIELDS``, lets the summaries be summed in
        memory (``services.frame_sums``) rather than read back from the table.
        """
        params = None  # (operation_id, job_id, *COUNT_FIELDS) per row, for executemany or COPY
        if columns is not None:
            # Column lists are zipped in C: no tuple is made twice.
            params = zip(repeat(self.operation_id), repeat(self.job_id), *columns, strict=False)
        elif rows is not None:
            count = len(rows)
            if fmp_ids is None:
                fmp_ids = {r[0] for r in rows}
                dates = [r[_DATE_AT] for r in rows]
                date_min, date_max = (min(dates), max(dates)) if dates else (None, None)
            head = (self.operation_id, self.job_id)
            params = [head + tuple(r) for r in rows]
        fmp_ids = set(fmp_ids or ())
        if not count:
            return
        new = fmp_ids - self.known
        if new:
            self._stream_end()
            self.fresh |= self.fresh_among(new)
            self.known |= new
        if fmp_ids <= self.fresh:
            if frame is None:
                # Summed in SQL as they go in (not through a flush): later flushes upsert there.
                self._flushed |= _months_of(fmp_ids, date_min, date_max)
            self._insert_rows(params, csv_text, count, frame)
            self._touched(fmp_ids, date_min, date_max)
        else:
            self._direct = False  # staged rows are summed in SQL, cells untracked: upsert from now on
            self._stage_rows(params, csv_text, count)

    def _touched(self, fmp_ids: Iterable[int], low, high) -> None:
        self.fmp_ids.update(fmp_ids)
        for day in (low, high):
            if day is None:
                continue
            day = _iso(day)
            self.date_min = day if self.date_min is None else min(self.date_min, day)
            self.date_max = day if self.date_max is None else max(self.date_max, day)

    def _max_id(self) -> int:
        self._stream_end()
        self._cursor.execute(f"SELECT MAX(id) FROM {_TABLE}")  # noqa: S608
        return self._cursor.fetchone()[0] or 0

    def _insert_rows(self, params, csv_text, count: int, frame=None) -> None:
        if self._last_id is None and frame is None:
            self._last_id = self._max_id()
        if self.vendor == "postgresql" and csv_text is not None and frame is not None:
            self._stream(csv_text)
        elif self.vendor == "postgresql":
            self._stream_end()
            self._copy_in(self._copy, params, csv_text)
        else:
            if not self._bulk_checked:
                self._bulk_start()
            self._cursor.executemany(self._insert, params)
        self.created += count
        if frame is not None:
            # Summed in memory now, written with the next batches' sums (a cell once per flush).
            started = time.perf_counter()
            self._sums.append(frame_sums(frame, self.operation_id))
            self._sums_rows += count
            self.summed += count
            self._spent("summaries", started)
            if self._sums_rows >= self.SUMS_FLUSH_ROWS:
                self._sums_flush()
            self._last_id = None  # a later batch without a frame finds its id range afresh
            return
        # The batch is the id range just inserted (ids only grow; on SQLite nobody else writes meanwhile).
        last = self._max_id()
        self._summaries_add(
            f"(SELECT * FROM {_TABLE} WHERE id > %s AND id <= %s AND operation_id = %s) AS src",  # noqa: S608
            [self._last_id, last, self.operation_id],
            rows=count,
        )
        self._last_id = last

    def _sums_flush(self) -> None:
        """Write the kept in-memory sums (before anything reads or rebuilds the summaries)."""
        self._stream_end()
        if self._sums:
            started = time.perf_counter()
            touched: set[str] = set()
            for part in self._sums:
                touched.update(_point_months(part[0][2]))  # the daily sums: every cell's point-month
            inserted, upserted = summaries_add_sums(
                self._cursor, self._sums, new_cells=self._new_cells if self._direct else None
            )
            self.cells_inserted += inserted
            self.cells_upserted += upserted
            self._flushed |= touched
            self._sums, self._sums_rows = [], 0
            self._spent("summaries", started)

    def _new_cells(self, table: str, sums):
        """The rows of a flush's ``sums`` for ``table`` whose cell is not stored yet (a polars expression)."""
        import polars as pl

        if table == _TOTAL_TABLE:
            # Operation-wide days: stored when any point of the operation counted that day (every
            # count adds to every dimension, so one dimension tells).
            days = sums.get_column("date")
            self._cursor.execute(
                f"SELECT DISTINCT date FROM {_TOTAL_TABLE} WHERE operation_id = %s AND dimension = %s "  # noqa: S608
                "AND date >= %s AND date <= %s",
                [self.operation_id, "nationality", days.min(), days.max()],
            )
            stored = [_iso(day) for (day,) in self._cursor.fetchall()]
            return ~pl.col("date").is_in(stored)
        month = pl.col("month") if "month" in sums.columns else pl.col("date").str.slice(0, 8) + "01"
        key = pl.concat_str([pl.col("fmp_id").cast(pl.String), month], separator="|")
        return pl.col("fmp_id").is_in(sorted(self.fresh)) & ~key.is_in(sorted(self._flushed))

    def _summaries_add(self, source: str, params: list, *, rows: int, copy: bool = False) -> None:
        started = time.perf_counter()
        summaries_add(self._cursor, operation_id=self.operation_id, source=source, params=params, copy=copy)
        self.summed += rows
        self._spent("summaries", started)

    def _spent(self, phase: str, started: float) -> None:
        self.seconds[phase] = round(self.seconds.get(phase, 0) + time.perf_counter() - started, 2)

    def _bulk_start(self) -> None:
        """SQLite: before a large load into FMPs that hold nothing, drop the table's secondary indexes.

        Each row then costs one b-tree insert instead of six, and the indexes are built again by
        sorting at the end (``_bulk_end``), which is 2-3x faster in all on millions of rows. Only when
        the table holds fewer rows than arrive, so the rebuild costs less than it saves. Inside the
        caller's transaction: a failed import gets its indexes back with the rollback, and readers
        (WAL) keep reading the indexed table meanwhile.
        """
        self._bulk_checked = True
        if self.expected_rows < self.BULK_MIN_ROWS or self.fresh != self.known:
            return
        cur = self._cursor
        cur.execute(f"SELECT COUNT(*) FROM {_TABLE}")  # noqa: S608
        if cur.fetchone()[0] > self.expected_rows:
            return
        cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
            [_TABLE],
        )
        for name, sql in cur.fetchall():
            cur.execute(f'DROP INDEX "{name}"')
            self._dropped.append(sql)

    def _bulk_end(self) -> None:
        for sql in self._dropped:
            self._cursor.execute(sql)
        self._dropped = []

    def _stream(self, csv_text: bytes) -> None:
        """PostgreSQL: send a batch's CSV into one COPY kept open across batches.

        A queued writer hands the bytes to a thread, so the server stores this batch while the
        importer checks and sums the next one (the two used to take turns: at 10M rows the write
        phase was the client's work plus the server's). Ended before any other statement.
        """
        if self._stream_open is None:
            from psycopg.copy import QueuedLibpqWriter

            raw = self._cursor.cursor  # Django's wrapper → the psycopg cursor
            context = raw.copy(self._copy + " (FORMAT csv)", writer=QueuedLibpqWriter(raw))
            self._stream_open = (context, context.__enter__())
        self._stream_open[1].write(csv_text)

    def _stream_end(self, exc: BaseException | None = None) -> None:
        if self._stream_open is None:
            return
        context, _copy = self._stream_open
        self._stream_open = None
        if exc is None:
            context.__exit__(None, None, None)  # waits for the server to store what is queued
        else:
            try:  # the server refuses the aborted COPY; the caller's own error is what counts
                context.__exit__(type(exc), exc, exc.__traceback__)
            except Exception:  # noqa: BLE001, S110
                pass

    def _copy_in(self, statement: str, params, csv_text) -> None:
        if csv_text is not None:
            with self._cursor.copy(statement + " (FORMAT csv)") as copy:
                copy.write(csv_text)
            return
        with self._cursor.copy(statement) as copy:
            for row in params:
                copy.write_row(row)

    # -- staging (an FMP that already holds counts) --

    def _stage_create(self) -> None:
        columns = ", ".join(STORED_FIELDS)
        self._cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        if self.vendor == "postgresql":
            self._cursor.execute(
                f"CREATE TEMP TABLE {_STAGE} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {columns} FROM {_TABLE} WITH NO DATA"
            )
        else:
            self._cursor.execute(f"CREATE TEMP TABLE {_STAGE} AS SELECT {columns} FROM {_TABLE} WHERE 0")  # noqa: S608
        self._stage_ready = True

    def _stage_rows(self, params, csv_text, count: int) -> None:
        self._sums_flush()  # the merge reads and rebuilds summaries (and the open COPY is ended)
        if self._dropped:  # an upsert needs the unique index back
            self._bulk_end()
        if not self._stage_ready:
            self._stage_create()
        columns = ", ".join(STORED_FIELDS)
        if self.vendor == "postgresql":
            # One INSERT ... ON CONFLICT over everything staged, at the end.
            self._copy_in(f"COPY {_STAGE} ({columns}) FROM STDIN", params, csv_text)
            self.staged += count
            return
        self._cursor.execute(f"DELETE FROM {_STAGE}")  # noqa: S608
        self._cursor.executemany(
            f"INSERT INTO {_STAGE} ({columns}) VALUES ({', '.join(['%s'] * len(STORED_FIELDS))})",  # noqa: S608
            params,
        )
        self._merge(count)  # SQLite: one batch at a time (a join of 50,000 rows is cheap there)

    def _merge(self, n: int) -> None:
        """Upsert the staged rows, counting them and noting the FMPs and days (old and new) of those that change."""
        cur = self._cursor
        differs = "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"
        changed = " OR ".join(f"f.{c} {differs} s.{c}" for c in DATA_FIELDS)
        cur.execute(
            f"SELECT s.fmp_id, MIN(s.date), MAX(s.date), MIN(f.date), MAX(f.date), COUNT(*), COUNT(f.id) "  # noqa: S608
            f"FROM {_STAGE} s LEFT JOIN {_TABLE} f ON f.fmp_id = s.fmp_id AND f.record_id = s.record_id "
            f"WHERE f.id IS NULL OR {changed} GROUP BY s.fmp_id"
        )
        changing = 0
        created = updated = 0
        for fmp_id, new_min, new_max, old_min, old_max, rows, existing in cur.fetchall():
            self._touched([fmp_id], new_min, new_max)
            self._touched([], old_min, old_max)
            created += rows - existing
            updated += existing
            changing += rows
        self.created += created
        self.updated += updated
        self.unchanged += n - changing
        if not changing:
            return
        if created:  # rows new to the table: added to the summaries before they are stored
            self._summaries_add(
                f"(SELECT s.* FROM {_STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {_TABLE} f "  # noqa: S608
                "WHERE f.fmp_id = s.fmp_id AND f.record_id = s.record_id)) AS src",
                [],
                rows=created,
                copy=True,
            )
        if updated:  # their cells, old day and new, are rebuilt in finish()
            started = time.perf_counter()
            if not self._cells_ready:
                cur.execute(f"DROP TABLE IF EXISTS {_CELLS}")
                drop = " ON COMMIT DROP" if self.vendor == "postgresql" else ""
                cur.execute(
                    f"CREATE TEMP TABLE {_CELLS} (fmp_id bigint, date date, PRIMARY KEY (fmp_id, date)){drop}"
                )
                self._cells_ready = True
            pair = f"FROM {_STAGE} s JOIN {_TABLE} f ON f.fmp_id = s.fmp_id AND f.record_id = s.record_id"
            cur.execute(
                f"INSERT INTO {_CELLS} (fmp_id, date) SELECT fmp_id, date FROM ("  # noqa: S608
                f"SELECT s.fmp_id, s.date {pair} WHERE {changed} "
                f"UNION SELECT f.fmp_id, f.date {pair} WHERE {changed}) AS u WHERE true ON CONFLICT DO NOTHING"
            )
            self._spent("summaries", started)
        columns = ", ".join(STORED_FIELDS)
        sets = ", ".join(f"{f} = excluded.{f}" for f in [*DATA_FIELDS, "job_id"])
        changed = " OR ".join(f"{_TABLE}.{c} {differs} excluded.{c}" for c in DATA_FIELDS)
        # "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
        cur.execute(
            f"INSERT INTO {_TABLE} ({columns}) SELECT {columns} FROM {_STAGE} WHERE true "  # noqa: S608
            f"ON CONFLICT (fmp_id, record_id) DO UPDATE SET {sets} WHERE {changed}"
        )

    # -- end --

    def finish(self) -> Counts:
        """Merge what is staged (PostgreSQL), drop the stage and rebuild the summary cells of changed rows."""
        self._stream_end()
        self._sums_flush()
        if self.vendor == "postgresql" and self.staged:
            if self.staged > 100_000:
                # Fresh statistics, or the planner reads a table it thinks is empty row by row.
                self._cursor.execute(f"ANALYZE {_TABLE}")
            self._merge(self.staged)
        if self._dropped:
            started = time.perf_counter()
            self._bulk_end()
            self.seconds["indexes"] = round(time.perf_counter() - started, 2)
        if self._stage_ready:
            self._cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        summary: dict[str, Any] = {"fmps": len(self.fmp_ids)}
        if self._cells_ready:
            started = time.perf_counter()
            if self.vendor == "postgresql":
                self._cursor.execute(f"ANALYZE {_CELLS}")
            self._cursor.execute(f"SELECT COUNT(*) FROM {_CELLS}")  # noqa: S608
            cells = self._cursor.fetchone()[0]
            summaries_rebuild_cells(self._cursor, operation_id=self.operation_id, cells=_CELLS)
            self._cursor.execute(f"DROP TABLE {_CELLS}")
            summary["cells_rebuilt"] = cells
            self._spent("summaries", started)
        if self.fmp_ids:
            started = time.perf_counter()
            monthly_refresh(
                self._cursor,
                operation_id=self.operation_id,
                fmp_ids=self.fmp_ids,
                date_from=self.date_min,
                date_to=self.date_max,
            )
            self._spent("summaries", started)
            summary.update(date_from=self.date_min, date_to=self.date_max, rows_summed=self.summed)
            if self.cells_inserted or self.cells_upserted:
                summary["summary_cells"] = {"inserted": self.cells_inserted, "added_to": self.cells_upserted}
            # The Parquet mirror for ad-hoc queries: these months are stale from now on (queries
            # use SQL) and are rewritten after the commit; a failure there never fails the import.
            from . import analytics

            analytics.mirror_on_commit(
                self.operation_id,
                analytics.months_between(
                    dt.date.fromisoformat(self.date_min), dt.date.fromisoformat(self.date_max)
                ),
            )
        if self._cache is not None:
            self._cursor.execute(f"PRAGMA cache_size = {int(self._cache)}")
        if self.vendor == "postgresql":
            self._cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default again
        self._cursor.close()
        elsewhere = self.seconds.get("summaries", 0) + self.seconds.get("indexes", 0)
        self.seconds["write"] = round(time.perf_counter() - self.started - elsewhere, 2)
        summary["seconds"] = dict(self.seconds)
        return Counts(created=self.created, updated=self.updated, unchanged=self.unchanged, summary=summary)


def _months_of(fmp_ids: Iterable[int], low, high) -> set[str]:
    """The "fmp_id|YYYY-MM-01" keys of every month from ``low`` to ``high`` (dates or ISO text)."""
    if low is None or high is None:
        return set()
    first, last = dt.date.fromisoformat(_iso(low)[:8] + "01"), dt.date.fromisoformat(_iso(high)[:8] + "01")
    months = []
    while first <= last:
        months.append(first.isoformat())
        first = (first + dt.timedelta(days=32)).replace(day=1)
    return {f"{fmp}|{month}" for fmp in fmp_ids for month in months}


def _point_months(daily) -> set[str]:
    """The "fmp_id|YYYY-MM-01" keys of a frame of daily sums (ISO text dates)."""
    import polars as pl

    keys = daily.select(
        pl.concat_str(
            [pl.col("fmp_id").cast(pl.String), pl.col("date").str.slice(0, 8) + "01"], separator="|"
        )
    )
    return set(keys.to_series().unique().to_list())


def _iso(value) -> str:
    return value if isinstance(value, str) else value.isoformat()


def count_tuple(values: dict) -> tuple:
    """A parsed count (``count_parse`` values) as the tuple CountWriter stores; absent optional fields take their default."""
    get = values.get
    row = [get(f, _DEFAULTS.get(f)) for f in COUNT_FIELDS]
    if row[4] is None:  # period_hours
        row[4] = 24 if row[3] is None else 1
    return tuple(row)


def counts_write(*, operation, rows: Iterable[dict], job=None, progress: Progress | None = None) -> Counts:
    """Upsert parsed counts on (fmp, record_id), counting created/updated/unchanged, then rebuild summaries.

    ``rows`` are ``count_parse`` values (validated: this stores them as they are; the database's
    constraints still hold). When two rows share an (fmp_id, record_id), the later one wins.
    Call it inside a transaction (the importer framework's write()); works on SQLite and PostgreSQL.
    """
    latest: dict[tuple, tuple] = {}
    for values in rows:
        row = count_tuple(values)
        latest[(row[0], row[1])] = row
    stored = list(latest.values())
    del latest
    with (
        transaction.atomic(),
        CountWriter(operation_id=operation.pk, job_id=job.pk if job is not None else None) as writer,
    ):
        for at in range(0, len(stored), BATCH_ROWS):
            batch = stored[at : at + BATCH_ROWS]
            writer.add(batch)
            if progress:
                progress.advance(len(batch))
        return writer.finish()
