"""The summaries the count writer keeps as it stores rows are exactly what a full rebuild gives.

Every path is compared with ``summaries_rebuild`` over the whole operation: a first import (rows
added batch by batch), re-imports that change values, move records to another day or direction,
add rows to points that already hold counts, or change nothing; the column-wise file path with
small batches, the SQLite bulk load; and random sequences of writes (hypothesis). Runs on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.flows import counts as flow_counts
from mobility.flows.counts import count_parse, counts_write
from mobility.flows.importers import counts as importer
from mobility.flows.models import (
    FlowBreakdown,
    FlowBreakdownTotal,
    FlowCount,
    FlowDaily,
    FlowMonitoringPoint,
    FlowMonthly,
)
from mobility.flows.services import summaries_rebuild

from .test_counts_import import CODES, do_import, generated, messy, write_csv

pytestmark = pytest.mark.django_db

DAILY = [f.name for f in FlowDaily._meta.fields if f.name not in ("id", "operation", "fmp")]
BREAKDOWN = ["month", "direction", "dimension", "value", "records", "individuals"]
TOTALS = ["date", "direction", "dimension", "value", "records", "individuals"]
MONTHLY = ["fmp_id", "month", "records", "individuals", "last_date"]


@pytest.fixture
def fmps(operation):
    return {
        code: FlowMonitoringPoint.objects.create(
            operation=operation, code=code, name=f"Point {code[-1]}", country_iso3="MOZ"
        )
        for code in CODES
    }


def snapshot(operation) -> dict[str, list[tuple]]:
    return {
        "daily": sorted(FlowDaily.objects.filter(operation=operation).values_list("fmp_id", *DAILY)),
        "breakdown": sorted(
            FlowBreakdown.objects.filter(operation=operation).values_list("fmp_id", *BREAKDOWN)
        ),
        "totals": sorted(FlowBreakdownTotal.objects.filter(operation=operation).values_list(*TOTALS)),
        "monthly": sorted(FlowMonthly.objects.filter(operation=operation).values_list(*MONTHLY)),
    }


class _Undo(Exception):
    pass


def rebuilt(operation) -> dict[str, list[tuple]]:
    """What a full rebuild gives, without keeping it (rolled back)."""
    found = {}
    try:
        with transaction.atomic():
            summaries_rebuild(operation_id=operation.pk)
            found.update(snapshot(operation))
            raise _Undo
    except _Undo:
        pass
    return found


def assert_as_rebuilt(operation) -> None:
    kept = snapshot(operation)
    assert kept["daily"], "nothing summarised"
    expected = rebuilt(operation)
    for table in ("daily", "breakdown", "totals", "monthly"):
        assert kept[table] == expected[table], table
    # And the monthly rows straight from the counts (not only through the daily rows).
    months: dict[tuple, list] = {}
    for fmp_id, day, people in FlowCount.objects.filter(operation=operation).values_list(
        "fmp_id", "date", "individuals"
    ):
        cell = months.setdefault((fmp_id, day.replace(day=1)), [0, 0, day])
        cell[0] += 1
        cell[1] += people
        cell[2] = max(cell[2], day)
    assert kept["monthly"] == sorted((f, m, r, i, last) for (f, m), (r, i, last) in months.items())


def parsed(rows: list[dict], fmps) -> list[dict]:
    ids = {code: fmp.pk for code, fmp in fmps.items()}
    values = [count_parse(r, row=i + 2, fmps=ids)[0] for i, r in enumerate(rows)]
    assert all(values)
    return values


# --- table-driven: one first import, then each kind of re-import ------------------------------------


def _more_people(values, i):
    return {**values, "individuals": values["individuals"] + 5}


def _next_day(values, i):
    return {**values, "date": values["date"] + dt.timedelta(days=1 + i % 3)}


def _other_direction(values, i):
    return {**values, "direction": "out" if values["direction"] == "in" else "in"}


def _other_nationality(values, i):
    return {**values, "nationality": "XYZ" if i % 2 else "", "to_admin1": f"Place {i % 4}"}


def _fewer_people(values, i):
    return {**values, "individuals": 0, **dict.fromkeys(flow_counts.SADD_FIELDS, None), "pregnant_women": 0}


CHANGES = {
    "more people": _more_people,
    "moved a day (old day emptied)": _next_day,
    "other direction": _other_direction,
    "other nationality and destination": _other_nationality,
    "no one left": _fewer_people,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_re_imports_keep_summaries_as_a_rebuild_gives(change, operation, other_operation, fmps):
    first = parsed(generated(120), fmps)
    counts_write(operation=operation, rows=first)
    assert_as_rebuilt(operation)

    fn = CHANGES[change]
    again = [fn(v, i) if i % 3 == 0 else v for i, v in enumerate(first)]
    extra = [
        {**v, "record_id": f"NEW-{i}"} for i, v in enumerate(first[:15])
    ]  # new rows, points that hold counts
    counts = counts_write(operation=operation, rows=again + extra)
    changed = sum(1 for a, b in zip(first, again, strict=True) if a != b)
    assert changed > 30 and (counts.created, counts.updated, counts.unchanged) == (15, changed, 120 - changed)
    assert counts.summary["cells_rebuilt"] > 0
    assert_as_rebuilt(operation)

    counts = counts_write(operation=operation, rows=again + extra)  # nothing changes: nothing rebuilt
    assert counts.unchanged == 135 and "cells_rebuilt" not in counts.summary
    assert_as_rebuilt(operation)


def test_a_moved_record_empties_its_old_day_everywhere(operation, fmps):
    ids = {code: fmp.pk for code, fmp in fmps.items()}
    one = count_parse(
        {"fmp_code": CODES[0], "record_id": "A", "date": "2024-03-01", "direction": "in", "individuals": "4"},
        row=2,
        fmps=ids,
    )[0]
    counts_write(operation=operation, rows=[one])
    counts_write(operation=operation, rows=[{**one, "date": dt.date(2024, 3, 5)}])
    assert set(FlowDaily.objects.values_list("date", flat=True)) == {dt.date(2024, 3, 5)}
    assert set(FlowBreakdownTotal.objects.values_list("date", flat=True)) == {dt.date(2024, 3, 5)}
    assert_as_rebuilt(operation)


def test_two_operations_keep_their_own_totals(operation, other_operation, fmps):
    first = parsed(generated(60), fmps)
    counts_write(operation=operation, rows=first)
    theirs = FlowMonitoringPoint.objects.create(
        operation=other_operation, code="PAK-1", name="Torkham", country_iso3="PAK"
    )
    counts_write(operation=other_operation, rows=[{**v, "fmp_id": theirs.pk} for v in first[:20]])
    assert_as_rebuilt(operation)
    assert_as_rebuilt(other_operation)
    mine = FlowBreakdownTotal.objects.filter(operation=operation, dimension="nationality")
    assert sum(mine.values_list("individuals", flat=True)) == sum(v["individuals"] for v in first)


# --- the file importer: column-wise batches and the SQLite bulk load --------------------------------


@pytest.mark.parametrize("bulk", [False, True])
def test_file_imports_in_small_batches_keep_summaries_as_a_rebuild_gives(
    bulk, tmp_path, monkeypatch, operation, fmps
):
    if bulk and connection.vendor != "sqlite":
        pytest.skip("the bulk load is SQLite's")
    monkeypatch.setattr(importer, "FAST_MIN_ROWS", 0)
    monkeypatch.setattr(importer, "WRITE_ROWS", 70)  # cells span batches: their sums are added up
    monkeypatch.setattr(flow_counts.CountWriter, "SUMS_FLUSH_ROWS", 150)  # ... kept over 2-3 batches
    monkeypatch.setattr(flow_counts.CountWriter, "BULK_MIN_ROWS", 100 if bulk else 10**9)
    rows = generated(400)
    job = do_import(write_csv(tmp_path / "a.csv", rows), operation)
    assert job.status == "succeeded", job.error
    assert job.created == 400 and ("indexes" in job.summary["seconds"]) == bulk
    assert_as_rebuilt(operation)

    for i in range(0, 400, 7):
        rows[i]["individuals"] = str(int(rows[i]["individuals"]) + 3)
    for i in range(3, 400, 13):
        rows[i]["date"] = "2024-02-20"
    rows += generated(50, seed=9, start=dt.date(2024, 2, 1))
    for i, r in enumerate(rows[400:]):
        r["record_id"] = f"LATE-{i}"
    job = do_import(write_csv(tmp_path / "b.csv", rows), operation)
    assert job.status == "succeeded", job.error
    assert (job.created, job.updated) == (50, len(set(range(0, 400, 7)) | set(range(3, 400, 13))))
    assert_as_rebuilt(operation)


def test_rebuild_repairs_the_totals(operation, fmps):
    counts_write(operation=operation, rows=parsed(generated(80), fmps))
    expected = snapshot(operation)
    FlowBreakdownTotal.objects.filter(operation=operation, dimension="reason").delete()
    FlowBreakdownTotal.objects.filter(operation=operation, dimension="nationality").update(individuals=1)
    FlowDaily.objects.filter(operation=operation).delete()
    written = summaries_rebuild(operation_id=operation.pk)
    assert snapshot(operation) == expected
    assert written["totals"] == len(expected["totals"])


# --- random sequences of writes ---------------------------------------------------------------------

_rows = st.fixed_dictionaries(
    {
        "fmp": st.integers(0, 1),
        "record": st.integers(0, 11),
        "day": st.integers(1, 4),
        "direction": st.sampled_from(["in", "out"]),
        "nationality": st.sampled_from(["MOZ", "ZAF", ""]),
        "transport": st.sampled_from(["bus", "foot", "unknown"]),
        "individuals": st.integers(0, 9),
        "males": st.none() | st.integers(0, 9),
    }
)


def _values(draw: dict, fmp_ids: list[int]) -> dict:
    males = None if draw["males"] is None else min(draw["males"], draw["individuals"])
    return {
        "fmp_id": fmp_ids[draw["fmp"]],
        "record_id": f"R{draw['record']}",
        "date": dt.date(2024, 5, draw["day"]),
        "direction": draw["direction"],
        "nationality": draw["nationality"],
        "transport": draw["transport"],
        "individuals": draw["individuals"],
        "males_18_59": males,
        "elderly": min(1, draw["individuals"]),
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.lists(_rows, min_size=1, max_size=12), min_size=1, max_size=4))
def test_any_sequence_of_writes_keeps_summaries_as_a_rebuild_gives(writes, operation, fmps):
    fmp_ids = [fmps[CODES[0]].pk, fmps[CODES[1]].pk]
    try:
        with transaction.atomic():
            for batch in writes:
                counts_write(operation=operation, rows=[_values(d, fmp_ids) for d in batch])
            assert FlowCount.objects.exists()
            assert_as_rebuilt(operation)
            raise _Undo
    except _Undo:
        pass


def test_the_operation_wide_breakdown_reads_the_totals_and_agrees_with_every_point(
    operation, fmps, data_manager
):
    from mobility.flows import selectors

    counts_write(operation=operation, rows=parsed(generated(200), fmps))
    args = {"operation": operation, "user": data_manager, "dimension": "nationality", "direction": "in"}
    args |= {"date_from": dt.date(2024, 1, 5), "date_to": dt.date(2024, 1, 20)}
    whole = selectors.breakdown(**args)
    points = selectors.breakdown(**args, fmp_ids=[f.pk for f in fmps.values()])
    assert whole.rows and whole == points
    FlowBreakdownTotal.objects.filter(operation=operation).update(individuals=0)
    assert selectors.breakdown(**args).total == 0  # it is the totals table that was read


@pytest.mark.parametrize("order", ["sorted", "shuffled", "messy"])
def test_new_cells_are_inserted_plainly_and_never_meet_a_stored_one(
    order, tmp_path, monkeypatch, operation, fmps
):
    """The writer inserts the summary cells of points that held no count without an upsert. Cells a
    previous flush wrote (a day or month across flushes, a file in any order) and operation-wide days
    another point already counted must still be added to, never inserted twice."""
    import random

    from mobility.flows import services

    monkeypatch.setattr(importer, "FAST_MIN_ROWS", 0)
    monkeypatch.setattr(importer, "WRITE_ROWS", 60)
    # Messy rows are summed in SQL as they go in, before the frame sums of the same point-months are
    # flushed at the end: those cells exist by then.
    monkeypatch.setattr(flow_counts.CountWriter, "SUMS_FLUSH_ROWS", 10**9 if order == "messy" else 130)
    plain = []
    real = services._insert_new
    monkeypatch.setattr(
        services,
        "_insert_new",
        lambda cur, table, keys, sums: (plain.append(sums.height), real(cur, table, keys, sums)),
    )
    rows = generated(500)
    first = [r for r in rows if r["fmp_code"] == CODES[0]]
    rest = [r for r in rows if r["fmp_code"] != CODES[0]]
    if order == "shuffled":
        random.Random(5).shuffle(rest)
    counted = len(rest)
    if order == "messy":  # labels and ISO2 codes: rows the column checks leave to count_parse, summed in SQL
        rest = messy(rest)
    assert do_import(write_csv(tmp_path / "one.csv", first), operation).status == "succeeded"
    plain.clear()
    job = do_import(write_csv(tmp_path / "rest.csv", rest), operation)
    assert job.status == "succeeded", job.error
    assert job.created == counted
    assert job.summary["summary_cells"]["inserted"] == sum(plain)
    if order != "messy":  # there every point-month was summed in SQL first: all upserted
        assert sum(plain) > 0
    assert_as_rebuilt(operation)
