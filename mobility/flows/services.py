"""Writes of the flows app that every importer shares: the summary tables.

``summaries_rebuild`` recomputes ``FlowDaily`` and ``FlowBreakdown`` from ``FlowCount`` for one
operation, optionally only for some FMPs and a date range (what an import touched), in SQL that
runs on SQLite and PostgreSQL alike. Call it inside the transaction that wrote the counts, so the
summaries never disagree with the registry.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from .models import SADD_FIELDS, VULNERABILITY_FIELDS, FlowBreakdown, FlowCount, FlowDaily

_COUNT = FlowCount._meta.db_table
_DAILY = FlowDaily._meta.db_table
_BREAKDOWN = FlowBreakdown._meta.db_table


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
    """Recompute the daily and breakdown summaries in scope; returns the rows written to each."""
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
        for dimension in FlowBreakdown.Dimension.values:
            cur.execute(
                f"INSERT INTO {_BREAKDOWN} "  # noqa: S608
                "(operation_id, fmp_id, date, direction, dimension, value, records, individuals) "
                f"SELECT operation_id, fmp_id, date, direction, %s, {dimension}, COUNT(*), SUM(individuals) "
                f"FROM {_COUNT} WHERE {where} GROUP BY operation_id, date, fmp_id, direction, {dimension}",
                [dimension, *params],
            )
            breakdown += cur.rowcount
    return {"daily": daily, "breakdown": breakdown}
