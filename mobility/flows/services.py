"""Writes of the flows app that every importer shares: the summary tables.

``FlowDaily``, ``FlowBreakdown`` and ``FlowBreakdownTotal`` (the breakdowns summed over an
operation's FMPs) are sums of ``FlowCount`` rows. Call these inside the transaction that wrote the
counts, so the summaries never disagree with the registry; the SQL runs on SQLite and PostgreSQL.

- ``summaries_add`` adds rows that are new to the summaries (an upsert that adds, per cell): what
  the count writer does batch by batch as it inserts, so an import never reads its rows again;
- ``summaries_rebuild_cells`` recomputes the (FMP, day) cells listed in a table: what the writer
  does at the end for the cells of rows a re-import changed or moved to another day;
- ``summaries_rebuild`` recomputes everything in a scope (an operation, optionally some FMPs and a
  date range) from the counts: the repair path, and what form removals use. The incremental path
  gives exactly what it gives (tests/flows/test_summaries_incremental.py).
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
)

_COUNT = FlowCount._meta.db_table
_DAILY = FlowDaily._meta.db_table
_BREAKDOWN = FlowBreakdown._meta.db_table
_TOTAL = FlowBreakdownTotal._meta.db_table
_ROWS = "flowsummary_rows"  # temp: rows copied once when their source is a join


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


def _scope(operation_id: int, fmp_ids, date_from, date_to) -> tuple[str, list]:
    where, params = ["operation_id = %s"], [operation_id]
    if fmp_ids is not None:
        ids = sorted({int(i) for i in fmp_ids})
        if not ids:
            return "1 = 0", []
        where.append(f"fmp_id IN ({', '.join(['%s'] * len(ids))})")
        params += ids
    if date_from is not None:
        where.append("date >= %s")
        params.append(date_from)
    if date_to is not None:
        where.append("date <= %s")
        params.append(date_to)
    return " AND ".join(where), params


@transaction.atomic
def summaries_rebuild(
    *,
    operation_id: int,
    fmp_ids=None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, int]:
    """Recompute the summaries in scope from the counts; returns the rows written to each table.

    The operation-wide totals are recomputed for the scope's days (from every FMP's breakdowns).
    """
    where, params = _scope(operation_id, fmp_ids, date_from, date_to)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_DAILY} WHERE {where}", params)  # noqa: S608 (names are ours)
        cur.execute(f"DELETE FROM {_BREAKDOWN} WHERE {where}", params)  # noqa: S608
        names = ", ".join(_DAILY_COLUMNS)
        exprs = ", ".join(_DAILY_COLUMNS.values())
        cur.execute(
            f"INSERT INTO {_DAILY} (operation_id, fmp_id, date, direction, {names}) "  # noqa: S608
            f"SELECT operation_id, fmp_id, date, direction, {exprs} FROM {_COUNT} "
            f"WHERE {where} GROUP BY operation_id, date, fmp_id, direction",
            params,
        )
        daily = cur.rowcount
        breakdown = 0
        for dimension in DIMENSIONS:
            cur.execute(
                f"INSERT INTO {_BREAKDOWN} "  # noqa: S608
                "(operation_id, fmp_id, date, direction, dimension, value, records, individuals) "
                f"SELECT operation_id, fmp_id, date, direction, %s, {dimension}, COUNT(*), SUM(individuals) "
                f"FROM {_COUNT} WHERE {where} GROUP BY operation_id, date, fmp_id, direction, {dimension}",
                [dimension, *params],
            )
            breakdown += cur.rowcount
        days, day_params = _scope(operation_id, None, date_from, date_to)
        cur.execute(f"DELETE FROM {_TOTAL} WHERE {days}", day_params)  # noqa: S608
        cur.execute(
            f"INSERT INTO {_TOTAL} "  # noqa: S608
            "(operation_id, date, direction, dimension, value, records, individuals) "
            "SELECT operation_id, date, direction, dimension, value, SUM(records), SUM(individuals) "
            f"FROM {_BREAKDOWN} WHERE {days} GROUP BY operation_id, dimension, date, direction, value",
            day_params,
        )
        totals = cur.rowcount
    return {"daily": daily, "breakdown": breakdown, "totals": totals}


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

    ``source`` is a table expression whose rows have FlowCount's columns (``SOURCE_COLUMNS``), e.g.
    ``(SELECT * FROM flows_flowcount WHERE id > %s) AS src``, rows that no summary counts yet.
    Each cell's sums are added to the stored ones (a new cell is inserted). ``copy`` reads the
    source once into a temp table first (for a join that should not run nine times).
    """
    if copy:
        _temp(cur, _ROWS, ", ".join(f"{c} {_SOURCE_TYPES[c]}" for c in SOURCE_COLUMNS))
        columns = ", ".join(SOURCE_COLUMNS)
        cur.execute(f"INSERT INTO {_ROWS} ({columns}) SELECT {columns} FROM {source}", params)  # noqa: S608
        source, params = _ROWS, []
    names = list(_DAILY_COLUMNS)
    cur.execute(
        f"INSERT INTO {_DAILY} (operation_id, fmp_id, date, direction, {', '.join(names)}) "  # noqa: S608
        f"SELECT %s, fmp_id, date, direction, {', '.join(_DAILY_COLUMNS.values())} FROM {source} "
        f"WHERE true GROUP BY date, fmp_id, direction "
        + _added(_DAILY, ["fmp_id", "date", "direction"], names),
        [operation_id, *params],
    )
    counted = ["records", "individuals"]
    for dimension in DIMENSIONS:
        cur.execute(
            f"INSERT INTO {_BREAKDOWN} "  # noqa: S608
            "(operation_id, fmp_id, date, direction, dimension, value, records, individuals) "
            f"SELECT %s, fmp_id, date, direction, %s, {dimension}, COUNT(*), SUM(individuals) FROM {source} "
            f"WHERE true GROUP BY date, fmp_id, direction, {dimension} "
            + _added(_BREAKDOWN, ["fmp_id", "date", "direction", "dimension", "value"], counted),
            [operation_id, dimension, *params],
        )
        # Summing the rows again costs less than writing their breakdowns twice.
        cur.execute(
            f"INSERT INTO {_TOTAL} (operation_id, date, direction, dimension, value, records, individuals) "  # noqa: S608
            f"SELECT %s, date, direction, %s, {dimension}, COUNT(*), SUM(individuals) FROM {source} "
            f"WHERE true GROUP BY date, direction, {dimension} "
            + _added(_TOTAL, ["operation_id", "dimension", "date", "direction", "value"], counted),
            [operation_id, dimension, *params],
        )
    if copy:
        cur.execute(f"DROP TABLE {_ROWS}")


def _source_types() -> dict[str, str]:
    texts = {"direction": "varchar(3)", **{d: "varchar(64)" for d in DIMENSIONS}}
    return {c: texts.get(c, "date" if c == "date" else "bigint") for c in SOURCE_COLUMNS}


_SOURCE_TYPES = _source_types()


def summaries_rebuild_cells(cur, *, operation_id: int, cells: str) -> None:
    """Recompute the summaries of the (fmp_id, date) cells listed in the table ``cells``.

    The cells' old breakdowns are taken off the operation-wide totals, the cells deleted and
    summed again from the counts (through the (fmp, date) index), and totals left at no record
    deleted: the result is what ``summaries_rebuild`` gives for those cells.
    """
    in_cells = f"JOIN {cells} c ON t.fmp_id = c.fmp_id AND t.date = c.date WHERE t.operation_id = %s"
    cur.execute(
        f"UPDATE {_TOTAL} SET records = {_TOTAL}.records - d.records, "  # noqa: S608
        f"individuals = {_TOTAL}.individuals - d.individuals FROM ("
        "SELECT t.date, t.direction, t.dimension, t.value, SUM(t.records) AS records, "
        f"SUM(t.individuals) AS individuals FROM {_BREAKDOWN} t {in_cells} "
        "GROUP BY t.dimension, t.date, t.direction, t.value) AS d "
        f"WHERE {_TOTAL}.operation_id = %s AND {_TOTAL}.dimension = d.dimension AND {_TOTAL}.date = d.date "
        f"AND {_TOTAL}.direction = d.direction AND {_TOTAL}.value = d.value",
        [operation_id, operation_id],
    )
    for table in (_DAILY, _BREAKDOWN):
        cur.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {table} t {in_cells})",  # noqa: S608
            [operation_id],
        )
    summaries_add(
        cur,
        operation_id=operation_id,
        source=f"(SELECT t.* FROM {_COUNT} t {in_cells}) AS src",  # noqa: S608
        params=[operation_id],
        copy=True,
    )
    cur.execute(
        f"DELETE FROM {_TOTAL} WHERE operation_id = %s AND records = 0 "  # noqa: S608
        f"AND date IN (SELECT DISTINCT date FROM {cells})",
        [operation_id],
    )
