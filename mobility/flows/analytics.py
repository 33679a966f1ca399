"""The analytics mirror of flow counts: ad-hoc questions over the raw rows, answered by DuckDB.

Why: the summary tables (``FlowDaily``, ``FlowBreakdown``) answer the dashboard's fixed questions,
but an origin–destination matrix at admin 1, for a few FMPs, one direction and an arbitrary
period, has to read the counts themselves. On millions of rows SQLite (and, less so, PostgreSQL)
take seconds; DuckDB over a columnar copy takes a fraction of that. So every operation gets a
Parquet copy of its ``FlowCount`` rows, one file per month::

    <FLOWS_ANALYTICS_DIR>/op-<operation id>/2024-05.parquet
    <FLOWS_ANALYTICS_DIR>/op-<operation id>/manifest.json

The database stays the registry. The mirror is a cache that is used only when it is known to be
fresh, and every query falls back to SQL on the database otherwise, with the same results.

Freshness (the manifest):
- ``generation[month]`` is bumped by ``mirror_touch`` whenever counts of that month change
  (writers call ``mirror_on_commit`` inside their transaction: it bumps now and again after the
  commit, then refreshes). ``months[month].generation`` is the generation the month's file was
  exported at; a month is fresh when both agree.
- ``watermark`` is the largest ``FlowCount.id`` the mirror has accounted for. A query compares it
  with ``MAX(id)`` (an index look-up); rows added by a writer that did not call
  ``mirror_on_commit`` make their months stale on their own.
- ``complete`` says every month was exported once (``mirror_refresh(op, None)``); before that
  every query uses SQL.
What the manifest cannot see by itself are in-place updates and deletions by a writer that does
not call ``mirror_touch`` / ``mirror_on_commit``: every such writer must (see docs/benchmarks.md).

The manifest is changed under a file lock (POSIX ``fcntl``; elsewhere a best effort), month files
are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from .models import SADD_FIELDS, VULNERABILITY_FIELDS, FlowCount

try:  # POSIX; on Windows the manifest is updated without a lock (one process at a time there).
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

FORMAT = 1
BATCH_ROWS = 200_000
LEVELS = {"country": ("from_country", "to_country"), "admin1": ("from_admin1", "to_admin1")}

_STR = pl.String
_INT = pl.Int64
# The mirrored columns (every FlowCount field an ad-hoc question may ask about) and their types.
SCHEMA: dict[str, pl.DataType] = {
    "id": _INT,
    "fmp_id": _INT,
    "date": _STR,  # exported as text, typed to Date once in polars
    "hour_start": _INT,
    "period_hours": _INT,
    "direction": _STR,
    "from_country": _STR,
    "from_admin1": _STR,
    "from_admin2": _STR,
    "to_country": _STR,
    "to_admin1": _STR,
    "to_admin2": _STR,
    "nationality": _STR,
    "transport": _STR,
    "reason": _STR,
    "intended_duration": _STR,
    "individuals": _INT,
    "households": _INT,
    **{f: _INT for f in SADD_FIELDS},
    **{f: _INT for f in VULNERABILITY_FIELDS},
}
_TABLE = FlowCount._meta.db_table


# --- where and what -------------------------------------------------------------------------------


def mirror_dir(operation_id: int | None = None) -> Path:
    """The mirror's directory (``settings.FLOWS_ANALYTICS_DIR``, else var/analytics/flows)."""
    base = getattr(settings, "FLOWS_ANALYTICS_DIR", None)
    root = Path(base) if base else Path(settings.MEDIA_ROOT).parent / "analytics" / "flows"
    return root if operation_id is None else root / f"op-{int(operation_id)}"


def month_key(year: int, month: int) -> str:
    return f"{int(year):04d}-{int(month):02d}"


def _month_bounds(key: str) -> tuple[dt.date, dt.date]:
    year, month = (int(p) for p in key.split("-"))
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt


def months_between(date_from: dt.date, date_to: dt.date) -> set[tuple[int, int]]:
    """Every (year, month) from date_from's month to date_to's month, both included."""
    out, year, month = set(), date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        out.add((year, month))
        year, month = year + (month == 12), month % 12 + 1
    return out


# --- the manifest ---------------------------------------------------------------------------------


def _empty_manifest(operation_id: int) -> dict:
    return {
        "format": FORMAT,
        "operation_id": operation_id,
        "complete": False,
        "watermark": 0,
        "generation": {},
        "months": {},
    }


def _read_manifest(operation_id: int) -> dict:
    path = mirror_dir(operation_id) / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return _empty_manifest(operation_id)
    return data if data.get("format") == FORMAT else _empty_manifest(operation_id)


def _write_manifest(operation_id: int, data: dict) -> None:
    folder = mirror_dir(operation_id)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, folder / "manifest.json")


@contextlib.contextmanager
def _locked(operation_id: int) -> Iterator[None]:
    folder = mirror_dir(operation_id)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _keys(months: Iterable[tuple[int, int]]) -> set[str]:
    return {month_key(y, m) for y, m in months}


def mirror_touch(operation_id: int, months: Iterable[tuple[int, int]] | None = None) -> None:
    """Mark months (None: the whole mirror) as changed: queries use SQL until they are refreshed."""
    with _locked(operation_id):
        data = _read_manifest(operation_id)
        if months is None:
            data["complete"] = False
        for key in _keys(months or ()):
            data["generation"][key] = data["generation"].get(key, 0) + 1
        _write_manifest(operation_id, data)


def mirror_on_commit(
    operation_id: int,
    months: Iterable[tuple[int, int]] | None = None,
    *,
    refresh: bool = True,
) -> None:
    """Call inside the transaction that writes counts: marks the months changed now (so queries
    use SQL from this moment) and again after the commit, then refreshes them (unless
    ``refresh=False``, e.g. for a single form submission, where the next batch refresh will do).

    The mirror is a cache: a failure here (a full disk, a folder that cannot be written) is
    logged and never fails the write; the months stay stale and queries keep using SQL.
    """
    months = None if months is None else set(months)
    try:
        mirror_touch(operation_id, months)
    except OSError:
        log.warning("flows analytics mirror of operation %s could not be marked stale", operation_id)

    def after() -> None:
        try:
            mirror_touch(operation_id, months)
            if refresh:
                _refresh_later(operation_id, months)
        except Exception:
            log.exception("flows analytics mirror of operation %s: refresh failed", operation_id)

    transaction.on_commit(after)


def _refresh_later(operation_id: int, months: set[tuple[int, int]] | None) -> None:
    """Refresh in the job worker, so a writer (an import) is done as soon as its rows are committed;
    queries use SQL for the stale months meanwhile. Without a queue to reach, refresh here."""
    from .tasks import mirror_refresh_task

    try:
        mirror_refresh_task(operation_id, None if months is None else sorted(months))
    except Exception as exc:  # the queue's storage unreachable: do it now rather than never
        log.warning(
            "flows analytics mirror of operation %s: job queue unavailable (%s), refreshing now",
            operation_id,
            type(exc).__name__,
        )
        mirror_refresh(operation_id, months)


def _max_id() -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT MAX(id) FROM {_TABLE}")  # noqa: S608 (our table name)
        return cur.fetchone()[0] or 0


def _new_months(operation_id: int, after_id: int, up_to: int | None = None) -> set[str]:
    """Months of this operation's counts with an id above ``after_id`` (a primary-key range scan)."""
    qs = FlowCount.objects.filter(operation_id=operation_id, id__gt=after_id)
    if up_to is not None:
        qs = qs.filter(id__lte=up_to)
    return {month_key(d.year, d.month) for d in qs.dates("date", "month")}


def _in_scope(date_from, date_to, periods):
    """A test on month keys: does a query with these bounds read that month?"""
    lo = month_key(date_from.year, date_from.month) if date_from else "0000-00"
    hi = month_key(date_to.year, date_to.month) if date_to else "9999-99"
    wanted = None
    if periods is not None:
        wanted = set()
        for a, b in periods:
            wanted |= _keys(months_between(a, b))
    return lambda key: lo <= key <= hi and (wanted is None or key in wanted)


def mirror_status(operation_id: int, date_from=None, date_to=None, periods=None) -> tuple[bool, dict]:
    """Whether the mirror may answer a query over these bounds, and the manifest it was judged on."""
    data = _read_manifest(operation_id)
    if not data["complete"]:
        return False, data
    in_scope = _in_scope(date_from, date_to, periods)
    gens, built = data["generation"], data["months"]
    for key in set(gens) | set(built):
        if in_scope(key) and gens.get(key, 0) != built.get(key, {}).get("generation", 0):
            return False, data
    top = _max_id()
    if top > data["watermark"]:
        new = _new_months(operation_id, data["watermark"], top)
        if any(in_scope(k) for k in new):
            return False, data
        if not new:  # rows of other operations only: move the watermark on
            with _locked(operation_id):
                latest = _read_manifest(operation_id)
                if latest["watermark"] < top:
                    latest["watermark"] = top
                    _write_manifest(operation_id, latest)
    return True, data


# --- export ---------------------------------------------------------------------------------------


def _select(where: str) -> str:
    columns = ", ".join("CAST(date AS TEXT)" if c == "date" else c for c in SCHEMA)
    return f"SELECT {columns} FROM {_TABLE} WHERE {where}"  # noqa: S608 (our names)


def _frame(batch: pl.DataFrame) -> pl.DataFrame:
    return batch.with_columns(pl.col("date").str.to_date())


def _export_sqlite(where: str, params: list) -> Iterator[pl.DataFrame]:
    connection.ensure_connection()
    raw = connection.connection  # the sqlite3 connection: no Django cursor wrapper per row
    cur = raw.cursor()
    try:
        cur.execute(_select(where).replace("%s", "?"), params)
        while rows := cur.fetchmany(BATCH_ROWS):
            yield _frame(pl.DataFrame(rows, schema=SCHEMA, orient="row"))
    finally:
        cur.close()


def _export_postgresql(where: str, params: list) -> Iterator[pl.DataFrame]:
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3: COPY streams CSV without building Python rows
    with raw.cursor() as cur:
        query = f"COPY ({_select(where)}) TO STDOUT (FORMAT csv)"
        with cur.copy(query, params) as copy:
            buf, size, limit = [], 0, 32 * 2**20
            for block in copy:
                buf.append(bytes(block))
                size += len(block)
                if size >= limit:
                    data = b"".join(buf)
                    cut = data.rfind(b"\n") + 1
                    yield _read_csv(data[:cut])
                    buf, size = [data[cut:]], len(data) - cut
            data = b"".join(buf)
            if data.strip():
                yield _read_csv(data)


def _read_csv(data: bytes) -> pl.DataFrame:
    # COPY writes NULL as an empty field and '' as "": keep that distinction.
    frame = pl.read_csv(io.BytesIO(data), has_header=False, new_columns=list(SCHEMA), schema=SCHEMA)
    text = [c for c, t in SCHEMA.items() if t == _STR and c != "date"]
    return _frame(frame.with_columns(pl.col(text).fill_null("")))


def _export(where: str, params: list) -> Iterator[pl.DataFrame]:
    if connection.vendor == "postgresql":
        return _export_postgresql(where, params)
    return _export_sqlite(where, params)


def _write_parts(frames: Iterable[pl.DataFrame], staging: Path) -> dict[str, list[Path]]:
    """Split each batch by month into part files (bounded memory however the rows are ordered)."""
    parts: dict[str, list[Path]] = {}
    for n, frame in enumerate(frames):
        frame = frame.with_columns(pl.col("date").dt.strftime("%Y-%m").alias("_month"))
        for (key,), group in frame.partition_by("_month", as_dict=True).items():
            path = staging / f"{key}.part{n:05d}.parquet"
            group.drop("_month").write_parquet(path, compression="zstd", statistics=True)
            parts.setdefault(key, []).append(path)
    return parts


def _compact(parts: list[Path], target: Path) -> dict:
    tmp = target.with_name(f".{target.name}.tmp")
    lf = pl.scan_parquet(parts).sort("date", "fmp_id")
    lf.sink_parquet(tmp, compression="zstd", statistics=True, row_group_size=128_000)
    stats = pl.scan_parquet(tmp).select(pl.len().alias("rows"), pl.col("individuals").sum()).collect().row(0)
    os.replace(tmp, target)
    return {"rows": int(stats[0]), "individuals": int(stats[1] or 0), "bytes": target.stat().st_size}


STALE_STAGING_SECONDS = 6 * 3600  # a refresh takes minutes; older staging folders are a killed one's


def _clear_stale_staging(folder: Path) -> None:
    """Remove staging folders a killed refresh left behind (the mirror never reads them)."""
    limit = time.time() - STALE_STAGING_SECONDS
    for path in folder.glob(".staging-*"):
        try:
            if path.is_dir() and path.stat().st_mtime < limit:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def mirror_refresh(operation_id: int, months: set[tuple[int, int]] | None = None) -> dict:
    """Export the operation's counts for ``months`` (None: all, rebuilding the mirror) to Parquet.

    Streams from the database in batches (SQLite: the raw sqlite3 cursor; PostgreSQL: COPY TO
    STDOUT) so memory stays bounded, and exports without holding the manifest lock (writers that
    touch months meanwhile are not held up; their months stay stale until their own refresh).
    On a mirror never built in full, any call builds it in full.
    Returns {"months": n, "rows": n, "bytes": n} of what was written.
    """
    operation_id = int(operation_id)
    folder = mirror_dir(operation_id)
    folder.mkdir(parents=True, exist_ok=True)
    start = _read_manifest(operation_id)
    full = months is None or not start["complete"]
    keys = set() if full else _keys(months)
    gens = dict(start["generation"])
    top = _max_id()
    _clear_stale_staging(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    try:
        if full:
            parts = _write_parts(_export("operation_id = %s AND id <= %s", [operation_id, top]), staging)
        else:
            parts = {}
            for key in sorted(keys):
                first, nxt = _month_bounds(key)
                frames = _export(
                    "operation_id = %s AND date >= %s AND date < %s AND id <= %s",
                    [operation_id, first.isoformat(), nxt.isoformat(), top],
                )
                parts.update(_write_parts(frames, staging))
        compacted = {key: _compact(paths, staging / f"{key}.parquet") for key, paths in parts.items()}
        with _locked(operation_id):
            data = _read_manifest(operation_id)
            scope = (set(data["months"]) | set(gens) | set(compacted)) if full else keys | set(compacted)
            written = {}
            for key in sorted(scope):
                if data["months"].get(key, {}).get("generation", 0) > gens.get(key, 0):
                    continue  # a later refresh already stored newer rows of this month
                target = folder / f"{key}.parquet"
                if key in compacted:
                    os.replace(staging / f"{key}.parquet", target)
                    written[key] = {**compacted[key], "generation": gens.get(key, 0)}
                    data["months"][key] = written[key]
                else:  # no rows (left) in this month
                    target.unlink(missing_ok=True)
                    data["months"][key] = {
                        "rows": 0,
                        "individuals": 0,
                        "bytes": 0,
                        "generation": gens.get(key, 0),
                    }
            if full:
                data["complete"] = True
            if full or not (_new_months(operation_id, data["watermark"], top) - keys):
                data["watermark"] = max(data["watermark"], top)
            data["refreshed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            _write_manifest(operation_id, data)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "months": len(written),
        "rows": sum(m["rows"] for m in written.values()),
        "bytes": sum(m["bytes"] for m in written.values()),
    }


def mirror_drop(operation_id: int) -> None:
    """Remove an operation's mirror (e.g. when the operation is deleted)."""
    shutil.rmtree(mirror_dir(operation_id), ignore_errors=True)


# --- queries --------------------------------------------------------------------------------------


def _query_months(data: dict, date_from, date_to, periods) -> set[str]:
    """The month files a query reads: those with rows, within its bounds."""
    in_scope = _in_scope(date_from, date_to, periods)
    return {k for k, m in data["months"].items() if m.get("rows") and in_scope(k)}


_DUCK: dict[int, object] = {}
_DUCK_LOCK = threading.Lock()


def _duckdb():
    """One in-memory DuckDB per process (opening one costs ~40–70 ms, more than a query)."""
    import duckdb

    pid = os.getpid()  # a forked worker opens its own
    with _DUCK_LOCK:
        if pid not in _DUCK:
            _DUCK.clear()
            _DUCK[pid] = duckdb.connect(config={"threads": os.cpu_count() or 1})
        return _DUCK[pid]


def _duckdb_od(operation_id, months, origin, dest, date_from, date_to, direction, fmp_ids, periods):
    folder = mirror_dir(operation_id)
    files = [str(folder / f"{k}.parquet") for k in sorted(months)]
    if not files:
        return []
    where, params = ["TRUE"], []
    if date_from is not None:
        where.append("date >= ?")
        params.append(date_from)
    if date_to is not None:
        where.append("date <= ?")
        params.append(date_to)
    if direction:
        where.append("direction = ?")
        params.append(direction)
    if fmp_ids is not None:
        ids = sorted({int(i) for i in fmp_ids})
        if not ids:
            return []
        where.append(f"fmp_id IN ({', '.join('?' * len(ids))})")
        params += ids
    if periods is not None:
        spans = [(a, b) for a, b in periods]
        if not spans:
            return []
        where.append("(" + " OR ".join("date BETWEEN ? AND ?" for _ in spans) + ")")
        for a, b in spans:
            params += [a, b]
    sql = (
        f"SELECT {origin} AS origin, {dest} AS destination, COUNT(*) AS records, "  # noqa: S608
        f"CAST(SUM(individuals) AS BIGINT) AS individuals FROM read_parquet(?) WHERE {' AND '.join(where)} "
        # DuckDB compares text byte by byte, as Python does: the order _ordered gives the SQL path.
        "GROUP BY 1, 2 ORDER BY individuals DESC, origin, destination"
    )
    con = _duckdb().cursor()  # a cursor per call: safe across threads, ~0.01 ms
    try:
        rows = con.execute(sql, [files, *params]).fetchall()
    finally:
        con.close()
    return [{"origin": o, "destination": d, "records": r, "individuals": i} for o, d, r, i in rows]


def _ordered(rows: list[dict]) -> list[dict]:
    # Ordered in Python, not SQL: the same order whatever the database's collation.
    return sorted(rows, key=lambda r: (-r["individuals"], r["origin"], r["destination"]))


def _sql_od(operation_id, origin, dest, date_from, date_to, direction, fmp_ids, periods):
    qs = FlowCount.objects.filter(operation_id=operation_id)
    if date_from is not None:
        qs = qs.filter(date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(date__lte=date_to)
    if direction:
        qs = qs.filter(direction=direction)
    if fmp_ids is not None:
        qs = qs.filter(fmp_id__in=sorted({int(i) for i in fmp_ids}))
    if periods is not None:
        q = Q(pk__in=[])
        for a, b in periods:
            q |= Q(date__gte=a, date__lte=b)
        qs = qs.filter(q)
    rows = (
        qs.values(origin=F(origin), destination=F(dest))
        .annotate(records=Count("id"), individuals=Sum("individuals"))
        .order_by()
    )
    return _ordered(
        [
            {
                "origin": r["origin"],
                "destination": r["destination"],
                "records": r["records"],
                "individuals": int(r["individuals"]),
            }
            for r in rows
        ]
    )


def od_matrix(
    *,
    operation_id: int,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    level: str = "country",
    direction: str | None = None,
    fmp_ids: Iterable[int] | None = None,
    periods: Iterable[tuple[dt.date, dt.date]] | None = None,
    engine: str = "auto",
) -> list[dict]:
    """Origin–destination flows: [{origin, destination, records, individuals}], largest first.

    ``level`` "country" or "admin1" (p-codes); "" stands for an unknown origin or destination.
    ``periods`` (optional) keeps only dates inside one of the (from, to) spans — the published
    periods, for readers who see published data only. ``engine`` "auto" uses the mirror when it
    is fresh for the months asked, SQL otherwise; "mirror" and "sql" force one (benchmarks, tests;
    "mirror" on a stale mirror raises ``LookupError``).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}")
    if engine not in {"auto", "mirror", "sql"}:
        raise ValueError("engine must be auto, mirror or sql")
    origin, dest = LEVELS[level]
    fmp_ids = None if fmp_ids is None else list(fmp_ids)
    periods = None if periods is None else [(a, b) for a, b in periods]
    if engine != "sql":
        fresh, data = mirror_status(operation_id, date_from, date_to, periods)
        if fresh:
            months = _query_months(data, date_from, date_to, periods)
            return _duckdb_od(
                operation_id, months, origin, dest, date_from, date_to, direction, fmp_ids, periods
            )
        if engine == "mirror":
            raise LookupError("The flow analytics mirror is not fresh for these months.")
    return _sql_od(operation_id, origin, dest, date_from, date_to, direction, fmp_ids, periods)
