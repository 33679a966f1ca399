"""Writes of the flows app that every importer shares: the summary tables.

``FlowDaily`` (per FMP, day, direction), ``FlowBreakdown`` (per FMP, **month**, direction and
dimension value) and ``FlowBreakdownTotal`` (per operation, day, direction and dimension value) are
sums of ``FlowCount`` rows. Call these inside the transaction that wrote the counts, so the
summaries never disagree with the registry; the SQL runs on SQLite and PostgreSQL.

Why the per-FMP breakdowns are monthly: per day they held a row for nearly every count and value
(1M counts gave 5.1M breakdown rows, 10M about 20M), so an import spent most of its time writing
them. Per month they are a tenth of that at 10M counts; a page asking for days inside a month
reads those days from the counts themselves through the (fmp, date) index (``selectors.breakdown``).

- ``summaries_add`` adds rows that are new to the summaries (an upsert that adds, per cell): what
  the count writer does batch by batch as it inserts, so an import never reads its rows again;
- ``summaries_rebuild_cells`` recomputes what the (FMP, day) cells listed in a table touch: their
  daily rows, the FMP's month of breakdowns, the operation's day of totals. What the writer does
  at the end for the rows a re-import changed or moved to another day;
- ``monthly_refresh`` recomputes ``FlowMonthly`` (per FMP and month, what the points list reads)
  from ``FlowDaily`` for the FMPs and whole months of a range: the writer calls it at the end,
  ``summaries_rebuild`` too;
- ``summaries_rebuild`` recomputes everything in a scope (an operation, optionally some FMPs and a
  date range, widened to whole months for the breakdowns) from the counts: the repair path, and
  what form removals use. The incremental path gives exactly what it gives
  (tests/flows/test_summaries_incremental.py).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from .models import (
    SADD_FIELDS,
    VULNERABILITY_FIELDS,
    FlowBreakdown,
    FlowBreakdownTotal,
    FlowCount,
    FlowDaily,
    FlowMonthly,
)

_COUNT = FlowCount._meta.db_table
_DAILY = FlowDaily._meta.db_table
_BREAKDOWN = FlowBreakdown._meta.db_table
_TOTAL = FlowBreakdownTotal._meta.db_table
_MONTHLY = FlowMonthly._meta.db_table
_ROWS = "flowsummary_rows"  # temp: rows copied once when their source is a join
_MONTHS = "flowsummary_months"  # temp: (fmp_id, month, next month) of rebuilt breakdowns
_DAYS = "flowsummary_days"  # temp: days of rebuilt operation-wide totals


def _sum(fields: list[str]) -> str:
    return "SUM(" + " + ".join(f"COALESCE({f}, 0)" for f in fields) + ")"


_DAILY_COLUMNS = {
    "records": "COUNT(*)",
    "individuals": "SUM(individuals)",
    "males": _sum([f for f in SADD_FIELDS if f.startswith("males")]),
    "females": _sum([f for f in SADD_FIELDS if f.startswith("females")]),
    "children": _sum(["males_0_4", "females_0_4", "males_5_17", "females_5_17"]),
    "older": _sum(["males_60", "females_60"]),
    **{f: f"SUM({f})" for f in VULNERABILITY_FIELDS},
}
DIMENSIONS = list(FlowBreakdown.Dimension.values)
# The FlowCount columns the summaries read (what a copied source keeps).
SOURCE_COLUMNS = ["operation_id", "fmp_id", "date", "direction", "individuals", *SADD_FIELDS]
SOURCE_COLUMNS += [*VULNERABILITY_FIELDS, *DIMENSIONS]
_COUNTED = ["records", "individuals"]


def month_of(column: str) -> str:
    """SQL for the first day of the month of a date column (a date on PostgreSQL, ISO text on SQLite)."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"(substr({column}, 1, 8) || '01')"


def _next_month(column: str) -> str:
    """SQL for the first day of the month after a month's first day."""
    if connection.vendor == "postgresql":
        return f"CAST({column} + interval '1 month' AS date)"
    return f"date({column}, '+1 month')"


def _scope(operation_id: int, fmp_ids, date_from, date_to, column: str = "date") -> tuple[str, list]:
    where, params = ["operation_id = %s"], [operation_id]
    if fmp_ids is not None:
        ids = sorted({int(i) for i in fmp_ids})
        if not ids:
            return "1 = 0", []
        where.append(f"fmp_id IN ({', '.join(['%s'] * len(ids))})")
        params += ids
    if date_from is not None:
        where.append(f"{column} >= %s")
        params.append(date_from)
    if date_to is not None:
        where.append(f"{column} <= %s")
        params.append(date_to)
    return " AND ".join(where), params


def _month_bounds(
    date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """The range widened to whole months (what the monthly breakdowns of the range cover)."""
    low = date_from.replace(day=1) if date_from else None
    high = None
    if date_to:
        following = (date_to.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        high = following - dt.timedelta(days=1)
    return low, high


def _counts(where: str, alias: str = "") -> str:
    """A table expression of FlowCount rows (``alias`` and joins in ``where`` as needed)."""
    return f"(SELECT {alias or ''}* FROM {_COUNT} {where}) AS src"  # noqa: S608 (names are ours)


def _insert_daily(cur, source: str, params, *, added: bool) -> None:
    names = list(_DAILY_COLUMNS)
    cur.execute(
        f"INSERT INTO {_DAILY} (operation_id, fmp_id, date, direction, {', '.join(names)}) "  # noqa: S608
        f"SELECT operation_id, fmp_id, date, direction, {', '.join(_DAILY_COLUMNS.values())} FROM {source} "
        "WHERE true GROUP BY operation_id, date, fmp_id, direction"
        + (" " + _added(_DAILY, ["fmp_id", "date", "direction"], names) if added else ""),
        params,
    )


def _insert_values(
    cur,
    table: str,
    cell: dict[str, str],
    keys: list[str],
    source: str,
    params,
    dimension: str,
    *,
    added: bool,
) -> None:
    """Records and people per cell (``cell``: column → expression over the counts) and value of a dimension."""
    columns, exprs = ", ".join(cell), ", ".join(cell.values())
    cur.execute(
        f"INSERT INTO {table} ({columns}, dimension, value, records, individuals) "  # noqa: S608
        f"SELECT {exprs}, %s, {dimension}, COUNT(*), SUM(individuals) FROM {source} "
        f"WHERE true GROUP BY {exprs}, {dimension}" + (" " + _added(table, keys, _COUNTED) if added else ""),
        [dimension, *params],
    )


def _insert_breakdown(cur, source: str, params, dimension: str, *, added: bool) -> None:
    cell = {
        "operation_id": "operation_id",
        "fmp_id": "fmp_id",
        "month": month_of("date"),
        "direction": "direction",
    }
    keys = ["fmp_id", "month", "direction", "dimension", "value"]
    _insert_values(cur, _BREAKDOWN, cell, keys, source, params, dimension, added=added)


def _insert_total(cur, source: str, params, dimension: str, *, added: bool) -> None:
    cell = {"operation_id": "operation_id", "date": "date", "direction": "direction"}
    keys = ["operation_id", "dimension", "date", "direction", "value"]
    _insert_values(cur, _TOTAL, cell, keys, source, params, dimension, added=added)


@transaction.atomic
def summaries_rebuild(
    *,
    operation_id: int,
    fmp_ids=None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, int]:
    """Recompute the summaries in scope from the counts; returns the rows written to each table.

    The per-FMP breakdowns are recomputed for the whole months the range touches, the
    operation-wide totals for the range's days over every FMP.
    """
    where, params = _scope(operation_id, fmp_ids, date_from, date_to)
    month_from, month_to = _month_bounds(date_from, date_to)
    months, month_params = _scope(operation_id, fmp_ids, month_from, month_to, column="month")
    in_months, in_month_params = _scope(operation_id, fmp_ids, month_from, month_to)
    days, day_params = _scope(operation_id, None, date_from, date_to)
    counts = {}
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_DAILY} WHERE {where}", params)  # noqa: S608 (names are ours)
        _insert_daily(cur, _counts(f"WHERE {where}"), params, added=False)
        counts["daily"] = cur.rowcount
        cur.execute(f"DELETE FROM {_BREAKDOWN} WHERE {months}", month_params)  # noqa: S608
        cur.execute(f"DELETE FROM {_TOTAL} WHERE {days}", day_params)  # noqa: S608
        counts["breakdown"] = counts["totals"] = 0
        for dimension in DIMENSIONS:
            _insert_breakdown(
                cur,
                _counts(f"WHERE {in_months}"),
                in_month_params,
                dimension,
                added=False,
            )
            counts["breakdown"] += cur.rowcount
            _insert_total(cur, _counts(f"WHERE {days}"), day_params, dimension, added=False)
            counts["totals"] += cur.rowcount
        counts["monthly"] = monthly_refresh(
            cur, operation_id=operation_id, fmp_ids=fmp_ids, date_from=date_from, date_to=date_to
        )
    return counts


def monthly_refresh(
    cur,
    *,
    operation_id: int,
    fmp_ids=None,
    date_from: dt.date | str | None = None,
    date_to: dt.date | str | None = None,
) -> int:
    """Recompute ``FlowMonthly`` for the FMPs (all when None) and the whole months the range touches,
    from ``FlowDaily`` (so call it once the daily rows are right); returns the rows written."""
    if isinstance(date_from, str):
        date_from = dt.date.fromisoformat(date_from)
    if isinstance(date_to, str):
        date_to = dt.date.fromisoformat(date_to)
    month_from, month_to = _month_bounds(date_from, date_to)
    months, params = _scope(operation_id, fmp_ids, month_from, month_to, column="month")
    cur.execute(f"DELETE FROM {_MONTHLY} WHERE {months}", params)  # noqa: S608 (names are ours)
    days, day_params = _scope(operation_id, fmp_ids, month_from, month_to)
    month = month_of("date")
    cur.execute(
        f"INSERT INTO {_MONTHLY} (operation_id, fmp_id, month, records, individuals, last_date) "  # noqa: S608
        f"SELECT operation_id, fmp_id, {month}, SUM(records), SUM(individuals), MAX(date) "
        f"FROM {_DAILY} WHERE {days} GROUP BY operation_id, fmp_id, {month}",
        day_params,
    )
    return cur.rowcount


def _added(table: str, keys: list[str], columns: list[str]) -> str:
    """ON CONFLICT clause that adds the new sums to the stored ones."""
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"


def _temp(cur, name: str, columns: str) -> None:
    """An empty temp table (dropped at commit on PostgreSQL; SQLite keeps it for the connection)."""
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    drop = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cur.execute(f"CREATE TEMP TABLE {name} ({columns}){drop}")


def summaries_add(
    cur, *, operation_id: int, source: str, params: list | tuple = (), copy: bool = False
) -> None:
    """Add the counts of ``source`` to the summaries of ``operation_id``.

    ``source`` is a table expression whose rows have FlowCount's columns (``SOURCE_COLUMNS``) and
    belong to the operation, e.g. ``(SELECT * FROM flows_flowcount WHERE id > %s) AS src``: rows
    that no summary counts yet. Each cell's sums are added to the stored ones (a new cell is
    inserted). ``copy`` reads the source once into a temp table first (for a join that should not
    run seventeen times).
    """
    if copy:
        _copy_rows(cur, source, params)
        source, params = _ROWS, []
    _insert_daily(cur, source, params, added=True)
    for dimension in DIMENSIONS:
        _insert_breakdown(cur, source, params, dimension, added=True)
        _insert_total(cur, source, params, dimension, added=True)
    if copy:
        cur.execute(f"DROP TABLE {_ROWS}")


def _copy_rows(cur, source: str, params) -> None:
    _temp(cur, _ROWS, ", ".join(f"{c} {_SOURCE_TYPES[c]}" for c in SOURCE_COLUMNS))
    columns = ", ".join(SOURCE_COLUMNS)
    cur.execute(f"INSERT INTO {_ROWS} ({columns}) SELECT {columns} FROM {source}", params)  # noqa: S608


def _source_types() -> dict[str, str]:
    texts = {"direction": "varchar(3)", **{d: "varchar(64)" for d in DIMENSIONS}}
    return {c: texts.get(c, "date" if c == "date" else "bigint") for c in SOURCE_COLUMNS}


_SOURCE_TYPES = _source_types()


def summaries_rebuild_cells(cur, *, operation_id: int, cells: str) -> None:
    """Recompute what the (fmp_id, date) cells listed in the table ``cells`` touch, from the counts.

    The cells' daily rows, the breakdowns of each cell's FMP and month, and the operation-wide
    totals of each cell's day: the result is what ``summaries_rebuild`` gives for them.
    """
    # Daily rows: the cells themselves (through the (fmp, date) index).
    in_cells = f"JOIN {cells} c ON t.fmp_id = c.fmp_id AND t.date = c.date WHERE t.operation_id = %s"
    cur.execute(f"DELETE FROM {_DAILY} WHERE id IN (SELECT t.id FROM {_DAILY} t {in_cells})", [operation_id])  # noqa: S608
    _insert_daily(cur, _counts(f"t {in_cells}", "t."), [operation_id], added=False)
    # Breakdowns: every (FMP, month) a cell falls in.
    date_type = "date" if connection.vendor == "postgresql" else "text"
    _temp(cur, _MONTHS, f"fmp_id bigint, month {date_type}, next_month {date_type}")
    cur.execute(
        f"INSERT INTO {_MONTHS} (fmp_id, month, next_month) SELECT fmp_id, m, {_next_month('m')} "  # noqa: S608
        f"FROM (SELECT DISTINCT fmp_id, {month_of('date')} AS m FROM {cells}) AS u"
    )
    cur.execute(
        f"DELETE FROM {_BREAKDOWN} WHERE id IN (SELECT t.id FROM {_BREAKDOWN} t JOIN {_MONTHS} m "  # noqa: S608
        "ON t.fmp_id = m.fmp_id AND t.month = m.month WHERE t.operation_id = %s)",
        [operation_id],
    )
    in_months = (
        f"(SELECT t.* FROM {_COUNT} t JOIN {_MONTHS} m ON t.fmp_id = m.fmp_id "  # noqa: S608
        "AND t.date >= m.month AND t.date < m.next_month WHERE t.operation_id = %s) AS src"
    )
    _copy_rows(cur, in_months, [operation_id])
    for dimension in DIMENSIONS:
        _insert_breakdown(cur, _ROWS, [], dimension, added=False)
    cur.execute(f"DROP TABLE {_ROWS}")
    cur.execute(f"DROP TABLE {_MONTHS}")
    # Operation-wide totals: every day a cell falls on, over all the operation's FMPs.
    _temp(cur, _DAYS, f"date {date_type} PRIMARY KEY")
    cur.execute(f"INSERT INTO {_DAYS} (date) SELECT DISTINCT date FROM {cells}")  # noqa: S608
    cur.execute(
        f"DELETE FROM {_TOTAL} WHERE operation_id = %s AND date IN (SELECT date FROM {_DAYS})",  # noqa: S608
        [operation_id],
    )
    _copy_rows(
        cur,
        f"(SELECT t.* FROM {_COUNT} t JOIN {_DAYS} d ON t.date = d.date WHERE t.operation_id = %s) AS src",  # noqa: S608
        [operation_id],
    )
    for dimension in DIMENSIONS:
        _insert_total(cur, _ROWS, [], dimension, added=False)
    cur.execute(f"DROP TABLE {_ROWS}")
    cur.execute(f"DROP TABLE {_DAYS}")


# --- sums of rows already in memory (frame_sums, then summaries_add_sums) -------------------------------------------------------------


def frame_sums(frame, operation_id: int) -> list[tuple[str, list[str], object]]:
    """The sums of new rows held as a polars frame with FlowCount's columns, per summary table:
    (table, key columns, frame of sums).

    What the column-wise importer does with each batch it inserts: polars sums it in one pass
    instead of seventeen GROUP BYs over the rows just written. Sums of several batches are kept and
    written together by ``summaries_add_sums`` (added to the stored cells, as ``summaries_add``
    does; a cell several batches touch is written once). Same result as a rebuild
    (tests/flows/test_summaries_incremental.py).
    """
    return _frame_sums(frame, operation_id)


def summaries_add_sums(
    cur, parts: list[list[tuple[str, list[str], object]]], *, new_cells=None
) -> tuple[int, int]:
    """Add kept ``frame_sums`` to the summaries, each cell once; returns the rows (inserted, upserted).

    ``new_cells(table, sums)``, when given, returns a polars expression true for the rows of
    ``sums`` whose cell cannot be stored yet (the count writer knows: its FMPs held no counts and no
    earlier flush touched that point-month or day). Those are inserted plainly — on PostgreSQL a
    COPY straight into the table, about half the cost of the upsert — and the rest upserted. A
    wrong answer cannot double a figure: the unique key refuses the row and the import fails.
    """
    import polars as pl

    tables = []
    for at, (table, keys, _first) in enumerate(parts[0] if parts else []):
        frames = [part[at][2] for part in parts]
        sums = frames[0] if len(frames) == 1 else pl.concat(frames)
        if len(frames) > 1:
            by = ["operation_id", *[k for k in keys if k != "operation_id"]]
            sums = sums.group_by(by).agg(pl.exclude(by).sum())
        # Every table's new cells are decided before any is written (the answers read the tables).
        tables.append((table, keys, sums, new_cells(table, sums) if new_cells else None))
    inserted = upserted = 0
    for table, keys, sums, new in tables:
        if new is not None:
            fresh = sums.filter(new)
            _insert_new(cur, table, keys, fresh)
            inserted += fresh.height
            sums = sums.filter(~new)
        _upsert(cur, table, keys, sums)
        upserted += sums.height
    return inserted, upserted


def _frame_sums(frame, operation_id: int) -> list[tuple[str, list[str], object]]:
    import polars as pl

    text_dates = frame.schema["date"] == pl.String
    date = pl.col("date") if text_dates else pl.col("date").dt.strftime("%Y-%m-%d")
    frame = frame.with_columns(date.alias("date"), (date.str.slice(0, 8) + "01").alias("month"))
    people = pl.col("individuals").sum()
    operation = pl.lit(operation_id, dtype=pl.Int64).alias("operation_id")

    def band(fields: list[str]):
        return pl.sum_horizontal([pl.col(f).fill_null(0) for f in fields]).sum()

    daily = frame.group_by("fmp_id", "date", "direction").agg(
        pl.len().alias("records"),
        people.alias("individuals"),
        band([f for f in SADD_FIELDS if f.startswith("males")]).alias("males"),
        band([f for f in SADD_FIELDS if f.startswith("females")]).alias("females"),
        band(["males_0_4", "females_0_4", "males_5_17", "females_5_17"]).alias("children"),
        band(["males_60", "females_60"]).alias("older"),
        *[pl.col(f).fill_null(0).sum().alias(f) for f in VULNERABILITY_FIELDS],
    )
    breakdowns, totals = [], []
    for dimension in DIMENSIONS:
        value = pl.col(dimension).fill_null("").alias("value")
        named = pl.lit(dimension).alias("dimension")
        counted = [pl.len().alias("records"), people.alias("individuals")]
        breakdowns.append(
            frame.group_by("fmp_id", "month", "direction", value)
            .agg(*counted)
            .select("fmp_id", "month", "direction", named, "value", "records", "individuals")
        )
        totals.append(
            frame.group_by("date", "direction", value)
            .agg(*counted)
            .select("date", "direction", named, "value", "records", "individuals")
        )
    cast = {"records": pl.Int64, "individuals": pl.Int64}
    return [
        (_DAILY, ["fmp_id", "date", "direction"], daily.with_columns(operation)),
        (
            _BREAKDOWN,
            ["fmp_id", "month", "direction", "dimension", "value"],
            pl.concat([b.cast(cast) for b in breakdowns]).with_columns(operation),
        ),
        (
            _TOTAL,
            ["operation_id", "dimension", "date", "direction", "value"],
            pl.concat([t.cast(cast) for t in totals]).with_columns(operation),
        ),
    ]


def _ordered(keys: list[str], sums) -> tuple[list[str], list[str], object]:
    """(columns in insert order, summed columns, the rows in the unique key's order: the b-tree
    pages are then visited once each, not at random)."""
    names = [c for c in sums.columns if c not in keys and c != "operation_id"]
    columns = ["operation_id", *[k for k in keys if k != "operation_id"], *names]
    return columns, names, sums.select(columns).sort(keys)


def _copy_frame(cur, table: str, columns: list[str], sums) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(sums.write_csv(include_header=False).encode())


def _insert_new(cur, table: str, keys: list[str], sums) -> None:
    """Insert the rows of ``sums`` as new cells of ``table`` (none of their keys is stored yet)."""
    if not sums.height:
        return
    columns, _names, sums = _ordered(keys, sums)
    if connection.vendor == "postgresql":
        _copy_frame(cur, table, columns, sums)
        return
    listed, marks = ", ".join(columns), ", ".join(["%s"] * len(columns))
    cur.executemany(f"INSERT INTO {table} ({listed}) VALUES ({marks})", sums.iter_rows())  # noqa: S608


def _upsert(cur, table: str, keys: list[str], sums) -> None:
    """Add the rows of ``sums`` (a polars frame: keys, operation_id and summed columns) to ``table``."""
    if not sums.height:
        return
    columns, names, sums = _ordered(keys, sums)
    if connection.vendor == "postgresql":
        stage, listed = f"{table}_add", ", ".join(columns)
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        cur.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {listed} FROM {table} WITH NO DATA")  # noqa: S608
        _copy_frame(cur, stage, columns, sums)
        cur.execute(
            f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {stage} WHERE true "  # noqa: S608
            + _added(table, keys, names)
        )
        cur.execute(f"DROP TABLE {stage}")
        return
    cur.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
        + _added(table, keys, names),
        sums.iter_rows(),
    )
