"""Importing flow counts in the Mobility template: every problem named by row and column, nothing stored
half-way, re-imports that update and never duplicate, summaries that agree with the counts, and a
column-wise path that gives exactly the row path's results."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum

from mobility.core.imports import MAX_STORED_ERRORS, job_create, run
from mobility.flows import counts as flow_counts
from mobility.flows.counts import (
    CHOICE_UNKNOWN,
    COUNT_FRACTION,
    COUNT_INVALID,
    COUNT_NEGATIVE,
    COUNTRY_UNKNOWN,
    DATE_FUTURE,
    DATE_INVALID,
    DIRECTION_INVALID,
    FMP_UNKNOWN,
    HOUR_INVALID,
    PERIOD_INVALID,
    PERIOD_PAST_MIDNIGHT,
    RECORD_REPEATED,
    SADD_OVER_TOTAL,
    TEXT_TOO_LONG,
    VALUE_REQUIRED,
    VULNERABLE_OVER_TOTAL,
    count_parse,
    counts_write,
)
from mobility.flows.importers import counts as importer
from mobility.flows.models import SADD_FIELDS, FlowBreakdown, FlowCount, FlowDaily, FlowMonitoringPoint
from mobility.flows.template import TEMPLATE_COLUMNS

pytestmark = pytest.mark.django_db(transaction=False)

EXAMPLE = Path(importer.__file__).resolve().parent.parent / "data" / "template_flow_counts.csv"
CODES = ["MOZ-FMP-001", "MOZ-FMP-002", "MOZ-FMP-003"]
NATIONALITIES = ["MOZ", "ZAF", "ZWE", "TZA", "MWI", "SOM", "ETH", "COD"]


@pytest.fixture
def fmps(operation):
    return {
        code: FlowMonitoringPoint.objects.create(
            operation=operation, code=code, name=f"Point {code[-1]}", country_iso3="MOZ"
        )
        for code in CODES
    }


def row(**values) -> dict[str, str]:
    """A valid template row; keyword arguments replace cells."""
    base = dict.fromkeys(TEMPLATE_COLUMNS, "")
    base.update(
        fmp_code="MOZ-FMP-001",
        record_id="R1",
        date="2024-03-01",
        hour_start="7",
        direction="in",
        nationality="MOZ",
        individuals="10",
    )
    base.update({k: str(v) for k, v in values.items()})
    return base


def write_csv(path: Path, rows: list[dict], *, columns=TEMPLATE_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for r in rows:
            out.writerow([r.get(c, "") for c in columns])
    return path


def write_xlsx(path: Path, rows: list[dict]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(TEMPLATE_COLUMNS)
    for r in rows:
        sheet.append([r.get(c, "") for c in TEMPLATE_COLUMNS])
    book.save(path)
    return path


def generated(n: int, *, seed: int = 3, start: dt.date = dt.date(2024, 1, 1)) -> list[dict]:
    """Real-shaped counts: three points, a month, hourly tallies, sex/age on most rows, labels and ISO2 on a few."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        individuals = rng.randint(0, 40)
        r = row(
            fmp_code=CODES[i % 3],
            record_id=f"{CODES[i % 3][-3:]}-{i:06d}",
            date=(start + dt.timedelta(days=rng.randint(0, 30))).isoformat(),
            hour_start=rng.randint(6, 17),
            period_hours=rng.choice(["", "1", "2"]),
            direction=rng.choice(["in", "out", "Entry", "exit"]),
            from_country=rng.choice(["ZAF", "MOZ", "zw", ""]),
            from_admin1=rng.choice(["Gauteng", "Maputo", "Niassa", ""]),
            to_country=rng.choice(["MOZ", "ZAF"]),
            to_admin1=rng.choice(["Maputo", "Cabo Delgado", ""]),
            nationality=rng.choice(NATIONALITIES),
            transport=rng.choice(["bus", "foot", "Car / taxi", "truck", ""]),
            reason=rng.choice(["economic", "Conflict / insecurity", "family", ""]),
            intended_duration=rng.choice(["lt_1w", "gt_6m", "Permanent", ""]),
            individuals=individuals,
            households=rng.choice(["", str(max(1, individuals // 4))]),
            unaccompanied_children=min(individuals, rng.choice([0, 0, 1])),
            pregnant_women=min(individuals, rng.choice([0, 1])),
        )
        if i % 4:
            left = individuals
            for field in SADD_FIELDS:
                part = rng.randint(0, left)
                r[field] = str(part)
                left -= part
        if i % 11 == 0:
            r["date"] = (start + dt.timedelta(days=i % 28)).strftime("%d/%m/%Y")
        rows.append(r)
    return rows


def do_import(path: Path, operation, *, fast: bool | None = None, monkeypatch=None):
    """Run flows.counts on a file; ``fast`` forces the column-wise path (True) or the row path (False)."""
    if fast is not None:
        monkeypatch.setattr(importer, "FAST_MIN_ROWS", 0 if fast else 10**12)
    job = run(job_create(kind="flows.counts", source=path, profile={"operation": operation.pk}))
    return job


def errors_of(job) -> list[tuple]:
    return [(e.row, e.column, e.value, e.message) for e in job.row_errors.order_by("id")]


def stored() -> list[tuple]:
    fields = [f for f in flow_counts.COUNT_FIELDS]
    return sorted(FlowCount.objects.values_list("operation_id", *fields))


def assert_summaries_match_counts(operation) -> None:
    daily = {
        (d.fmp_id, d.date, d.direction): (d.records, d.individuals)
        for d in FlowDaily.objects.filter(operation=operation)
    }
    expected = {
        (r["fmp_id"], r["date"], r["direction"]): (r["n"], r["people"])
        for r in FlowCount.objects.filter(operation=operation)
        .values("fmp_id", "date", "direction")
        .annotate(n=Count("id"), people=Sum("individuals"))
    }
    assert daily == expected
    nationality = {
        (b.fmp_id, b.month, b.direction, b.value): b.individuals
        for b in FlowBreakdown.objects.filter(operation=operation, dimension="nationality")
    }
    expected_nat: dict = {}
    for count in FlowCount.objects.filter(operation=operation):
        key = (count.fmp_id, count.date.replace(day=1), count.direction, count.nationality)
        expected_nat[key] = expected_nat.get(key, 0) + count.individuals
    assert nationality == expected_nat


# --- the template ---------------------------------------------------------------------------------


def test_the_example_file_has_the_template_columns_and_imports(operation):
    with EXAMPLE.open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == TEMPLATE_COLUMNS
    for code in ("MOZ-FMP-001", "MOZ-FMP-002"):
        FlowMonitoringPoint.objects.create(operation=operation, code=code, name=code, country_iso3="MOZ")
    job = do_import(EXAMPLE, operation)
    assert job.status == "succeeded", (job.error, errors_of(job))
    assert (job.created, job.updated, job.unchanged) == (5, 0, 0)
    first = FlowCount.objects.get(fmp__code="MOZ-FMP-001", record_id="2024-03-01-0001")
    assert (first.direction, first.transport, first.individuals, first.males_18_59) == ("in", "bus", 14, 4)
    daylong = FlowCount.objects.get(fmp__code="MOZ-FMP-002", record_id="2024-03-01-0001")
    assert (daylong.hour_start, daylong.period_hours) == (None, 24)
    assert_summaries_match_counts(operation)


@pytest.mark.parametrize("fast", [False, True], ids=["row path", "column-wise path"])
def test_reimport_updates_and_never_duplicates(tmp_path, monkeypatch, operation, fmps, fast):
    rows = generated(300)
    path = write_csv(tmp_path / "counts.csv", rows)
    job = do_import(path, operation, fast=fast, monkeypatch=monkeypatch)
    assert job.status == "succeeded", (job.error, errors_of(job))
    assert (job.created, job.updated, job.unchanged, job.rows_read) == (300, 0, 0, 300)
    assert job.summary["reader"] == ("column-wise" if fast else "row by row")
    assert job.summary["fmps"] == 3

    again = do_import(path, operation, fast=fast, monkeypatch=monkeypatch)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 300)
    assert FlowCount.objects.count() == 300

    # One record corrected (and moved to another day), one added: the old day's summary goes too.
    moved = rows[5]
    old_day = FlowCount.objects.get(fmp=fmps[moved["fmp_code"]], record_id=moved["record_id"]).date
    rows[5] = {**moved, "individuals": "41", "date": "2024-02-15", **dict.fromkeys(SADD_FIELDS, "")}
    rows.append(row(record_id="NEW-1", date="2024-02-20"))
    path = write_csv(tmp_path / "counts-2.csv", rows)
    third = do_import(path, operation, fast=fast, monkeypatch=monkeypatch)
    assert third.status == "succeeded", (third.error, errors_of(third))
    assert (third.created, third.updated, third.unchanged) == (1, 1, 299)
    assert FlowCount.objects.count() == 301
    changed = FlowCount.objects.get(fmp=fmps[moved["fmp_code"]], record_id=moved["record_id"])
    assert (changed.individuals, changed.date, changed.job_id) == (41, dt.date(2024, 2, 15), third.pk)
    assert old_day != changed.date
    assert_summaries_match_counts(operation)


def test_csv_and_xlsx_store_the_same_counts(tmp_path, operation, fmps):
    rows = generated(60)
    job = do_import(write_xlsx(tmp_path / "counts.xlsx", rows), operation)
    assert job.status == "succeeded", (job.error, errors_of(job))
    from_xlsx = stored()
    FlowCount.objects.all().delete()
    job = do_import(write_csv(tmp_path / "counts.csv", rows), operation)
    assert job.status == "succeeded"
    assert stored() == from_xlsx
    assert len(from_xlsx) == 60


def test_labels_codes_and_dates_are_read_as_people_write_them(tmp_path, operation, fmps):
    path = write_csv(
        tmp_path / "loose.csv",
        [
            row(
                record_id=" R-7 ",
                date="31/01/2024",
                hour_start="07:00",
                direction="INCOMING",
                nationality="zw",
                from_country="za",
                transport="On foot",
                reason="conflict / insecurity",
                intended_duration="More than six months",
                individuals="1,234",
            ),
            row(record_id="R-8", hour_start="", period_hours="", direction="Exit", individuals="0"),
        ],
    )
    job = do_import(path, operation)
    assert job.status == "succeeded", (job.error, errors_of(job))
    first = FlowCount.objects.get(record_id="R-7")
    assert (first.date, first.hour_start, first.period_hours, first.direction) == (
        dt.date(2024, 1, 31),
        7,
        1,
        "in",
    )
    assert (
        first.nationality,
        first.from_country,
        first.transport,
        first.reason,
        first.intended_duration,
    ) == (
        "ZWE",
        "ZAF",
        "foot",
        "conflict",
        "gt_6m",
    )
    assert first.individuals == 1234
    second = FlowCount.objects.get(record_id="R-8")
    assert (second.hour_start, second.period_hours, second.direction, second.transport) == (
        None,
        24,
        "out",
        "unknown",
    )


# --- bad input ------------------------------------------------------------------------------------

TOMORROW = (dt.date.today() + dt.timedelta(days=2)).isoformat()
BAD = [
    ({"fmp_code": "NOPE-9"}, "fmp_code", "NOPE-9", FMP_UNKNOWN.format(known=", ".join(CODES))),
    ({"fmp_code": ""}, "fmp_code", "", VALUE_REQUIRED),
    ({"record_id": ""}, "record_id", "", VALUE_REQUIRED),
    ({"record_id": "x" * 65}, "record_id", "x" * 65, TEXT_TOO_LONG.format(limit=64)),
    ({"date": "2024-02-30"}, "date", "2024-02-30", DATE_INVALID),
    ({"date": "March 1st"}, "date", "March 1st", DATE_INVALID),
    ({"date": TOMORROW}, "date", TOMORROW, None),  # DATE_FUTURE, with today's date
    ({"hour_start": "24"}, "hour_start", "24", HOUR_INVALID),
    ({"hour_start": "7:30"}, "hour_start", "7:30", HOUR_INVALID),
    ({"period_hours": "0"}, "period_hours", "0", PERIOD_INVALID),
    ({"period_hours": "25"}, "period_hours", "25", PERIOD_INVALID),
    (
        {"hour_start": "20", "period_hours": "6"},
        "period_hours",
        "",
        PERIOD_PAST_MIDNIGHT.format(start=20, hours=6),
    ),
    ({"direction": "sideways"}, "direction", "sideways", DIRECTION_INVALID),
    ({"direction": ""}, "direction", "", VALUE_REQUIRED),
    ({"nationality": "XYZ"}, "nationality", "XYZ", COUNTRY_UNKNOWN),
    ({"to_country": "Mozambique"}, "to_country", "Mozambique", COUNTRY_UNKNOWN),
    ({"from_admin1": "a" * 65}, "from_admin1", "a" * 65, TEXT_TOO_LONG.format(limit=64)),
    ({"transport": "rocket"}, "transport", "rocket", None),
    ({"reason": "boredom"}, "reason", "boredom", None),
    ({"intended_duration": "forever"}, "intended_duration", "forever", None),
    ({"individuals": "-3"}, "individuals", "-3", COUNT_NEGATIVE),
    ({"individuals": "1.5"}, "individuals", "1.5", COUNT_FRACTION),
    ({"individuals": "abc"}, "individuals", "abc", COUNT_INVALID),
    ({"individuals": ""}, "individuals", "", VALUE_REQUIRED),
    ({"individuals": "n/a"}, "individuals", "n/a", VALUE_REQUIRED),
    ({"households": "-1"}, "households", "-1", COUNT_NEGATIVE),
    ({"females_0_4": "2.5"}, "females_0_4", "2.5", COUNT_FRACTION),
    ({"males_18_59": "6", "females_18_59": "5"}, "individuals", "", SADD_OVER_TOTAL.format(sum=11, n=10)),
    ({"pregnant_women": "11"}, "pregnant_women", "11", VULNERABLE_OVER_TOTAL.format(n=10)),
    ({"elderly": "99999999999"}, "elderly", "99999999999", None),
]


@pytest.mark.parametrize("fast", [False, True], ids=["row path", "column-wise path"])
@pytest.mark.parametrize(
    ("change", "column", "value", "message"), BAD, ids=[f"{b[1]}={b[2][:12]!r}" for b in BAD]
)
def test_a_bad_cell_is_named_by_row_and_column_and_nothing_is_stored(
    tmp_path, monkeypatch, operation, fmps, fast, change, column, value, message
):
    rows = [row(record_id=f"R{i}") for i in range(1, 6)]
    rows[2] = row(record_id="R3", **change) if "record_id" not in change else row(**change)
    job = do_import(write_csv(tmp_path / "bad.csv", rows), operation, fast=fast, monkeypatch=monkeypatch)
    assert job.status == "failed"
    assert FlowCount.objects.count() == 0 and FlowDaily.objects.count() == 0
    found = errors_of(job)
    assert [(r, c, v) for r, c, v, _m in found] == [(4, column, value[:200])]
    if message is not None:
        assert found[0][3] == str(message)
    if column == "date" and value == TOMORROW:
        assert found[0][3] == str(DATE_FUTURE.format(today=dt.date.today().isoformat()))
    if column in ("transport", "reason", "intended_duration"):
        assert found[0][3].startswith(str(CHOICE_UNKNOWN).split("{")[0])
    assert job.error.startswith("1 problem(s) in 1 row(s); nothing was stored. First: row 4, column ")


@pytest.mark.parametrize("fast", [False, True], ids=["row path", "column-wise path"])
def test_every_problem_of_every_row_is_reported(tmp_path, monkeypatch, operation, fmps, fast):
    rows = [
        row(record_id="R1"),
        row(record_id="R2", individuals="-3", direction="up", nationality="??"),
        row(record_id="R3"),
        row(record_id="R4", fmp_code="MOZ-FMP-9", date="yesterday"),
    ]
    job = do_import(write_csv(tmp_path / "bad.csv", rows), operation, fast=fast, monkeypatch=monkeypatch)
    assert job.status == "failed"
    assert [(r, c) for r, c, _v, _m in errors_of(job)] == [
        (3, "direction"),
        (3, "nationality"),
        (3, "individuals"),
        (5, "fmp_code"),
        (5, "date"),
    ]
    assert job.rejected == 2
    assert FlowCount.objects.count() == 0


@pytest.mark.parametrize("fast", [False, True], ids=["row path", "column-wise path"])
def test_a_record_twice_in_a_file_names_both_rows(tmp_path, monkeypatch, operation, fmps, fast):
    rows = [
        row(record_id="A"),
        row(record_id="B"),
        row(record_id="A", fmp_code="MOZ-FMP-002"),  # another point: allowed
        row(record_id=" A ", individuals="3"),  # the same record again, spaces aside
        row(record_id="B"),
    ]
    job = do_import(write_csv(tmp_path / "twice.csv", rows), operation, fast=fast, monkeypatch=monkeypatch)
    assert job.status == "failed"
    assert errors_of(job) == [
        (5, "record_id", "A", str(RECORD_REPEATED.format(fmp="MOZ-FMP-001", first=2, row=5))),
        (6, "record_id", "B", str(RECORD_REPEATED.format(fmp="MOZ-FMP-001", first=3, row=6))),
    ]
    assert FlowCount.objects.count() == 0


def test_another_operations_point_is_unknown(tmp_path, operation, other_operation, fmps):
    FlowMonitoringPoint.objects.create(
        operation=other_operation, code="PAK-TORKHAM", name="Torkham", country_iso3="PAK"
    )
    job = do_import(write_csv(tmp_path / "x.csv", [row(fmp_code="PAK-TORKHAM")]), operation)
    assert job.status == "failed"
    assert errors_of(job)[0][:3] == (2, "fmp_code", "PAK-TORKHAM")


def test_a_missing_required_column_fails_the_file_once(tmp_path, operation, fmps):
    columns = [c for c in TEMPLATE_COLUMNS if c != "direction"]
    job = do_import(write_csv(tmp_path / "x.csv", [row()], columns=columns), operation)
    assert job.status == "failed"
    assert "no column direction" in job.error
    assert FlowCount.objects.count() == 0


def test_header_case_and_extra_columns(tmp_path, operation, fmps):
    columns = [c.upper() if c in ("fmp_code", "date") else c for c in TEMPLATE_COLUMNS] + ["enumerator"]
    rows = [
        {**{c.upper() if c in ("fmp_code", "date") else c: v for c, v in row().items()}, "enumerator": "X"}
    ]
    job = do_import(write_csv(tmp_path / "x.csv", rows, columns=columns), operation)
    assert job.status == "succeeded", (job.error, errors_of(job))
    assert job.summary["warnings"] == [str(importer.COLUMNS_IGNORED.format(columns="enumerator"))]


def test_an_operation_without_points_is_told_to_add_them(tmp_path, operation):
    job = do_import(write_csv(tmp_path / "x.csv", [row()]), operation)
    assert job.status == "failed"
    assert job.error == str(importer.OPERATION_NO_POINTS.format(operation=operation.name))


@pytest.mark.parametrize("fast", [False, True], ids=["row path", "column-wise path"])
def test_reading_stops_after_many_problems(tmp_path, monkeypatch, operation, fmps, fast):
    monkeypatch.setattr(importer, "MAX_ERRORS", 10)
    rows = [row(record_id=f"R{i}", individuals="-1" if i % 2 else "1") for i in range(40)]
    job = do_import(write_csv(tmp_path / "x.csv", rows), operation, fast=fast, monkeypatch=monkeypatch)
    assert job.status == "failed"
    found = errors_of(job)
    assert len(found) == 11 and found[-1][0] is None
    assert found[-1][3] == str(importer.TOO_MANY_PROBLEMS.format(n=10))
    assert MAX_STORED_ERRORS >= importer.MAX_ERRORS


# --- the two paths agree --------------------------------------------------------------------------


def messy(rows: list[dict]) -> list[dict]:
    """The same rows as people send them: padded cells, blank rows, blank-like counts, and some errors."""
    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        if i % 7 == 0:
            r["record_id"] = f"  {r['record_id']}"
        if i % 9 == 0:
            r["fmp_code"] = f"{r['fmp_code']} "
        if i % 13 == 0:
            r["households"] = "-"
        if i % 17 == 0:
            r["individuals"] = f"{int(r['individuals']) + 1000:,}"
        if i % 19 == 0:
            r["from_admin1"] = "\u00a0Maputo"
        if i % 23 == 0:
            r["nationality"] = "mz"
        if i % 29 == 0:
            out.append(dict.fromkeys(TEMPLATE_COLUMNS, ""))
        if i % 31 == 0:
            out.append(dict.fromkeys(TEMPLATE_COLUMNS, " "))
        out.append(r)
    return out


def import_both(tmp_path, monkeypatch, operation, rows, *, suffix="") -> tuple:
    path = write_csv(tmp_path / f"both{suffix}.csv", rows)
    results = {}
    for fast in (False, True):
        used = []
        original = importer._result

        def spy(*args, _original=original, _used=used, **kwargs):
            _used.append(kwargs["fast"])
            return _original(*args, **kwargs)

        monkeypatch.setattr(importer, "_result", spy)
        job = do_import(path, operation, fast=fast, monkeypatch=monkeypatch)
        results[fast] = (
            job.status,
            (job.rows_read, job.created, job.updated, job.unchanged, job.rejected),
            errors_of(job),
            job.summary.get("warnings"),
            stored(),
            used == [True],
        )
        FlowCount.objects.all().delete()
        FlowDaily.objects.all().delete()
    return results[False], results[True]


def test_both_paths_store_the_same_rows(tmp_path, monkeypatch, operation, fmps):
    row_path, fast_path = import_both(tmp_path, monkeypatch, operation, messy(generated(400)))
    assert row_path[0] == "succeeded", row_path[2][:3]
    assert row_path[5] is False and fast_path[5] is True
    assert row_path[:5] == fast_path[:5]
    assert len(row_path[4]) == 400


def test_both_paths_give_the_same_errors(tmp_path, monkeypatch, operation, fmps):
    rows = messy(generated(300))
    for i, (column, text) in enumerate(
        [
            ("individuals", "-3"),
            ("individuals", "1.5"),
            ("households", "abc"),
            ("date", "2024-13-01"),
            ("date", TOMORROW),
            ("fmp_code", "ELSEWHERE"),
            ("direction", "both"),
            ("hour_start", "23"),
            ("nationality", "ABC"),
            ("transport", "helicopter"),
            ("record_id", "é" * 65),
            ("to_admin2", "z" * 70),
            ("pregnant_women", "9999"),
            ("males_60", "9999"),
            ("individuals", "99999999999"),
            ("elderly", "+5"),
            ("record_id", rows[3]["record_id"].strip()),
        ]
    ):
        at = 20 + i * 13
        rows[at] = {**rows[at], column: text}
        if column == "record_id" and text == rows[3]["record_id"].strip():
            rows[at]["fmp_code"] = rows[3]["fmp_code"]
        if column == "hour_start":
            rows[at]["period_hours"] = "2"
    row_path, fast_path = import_both(tmp_path, monkeypatch, operation, rows)
    assert row_path[0] == "failed" and row_path[5] is False and fast_path[5] is True
    assert row_path[:5] == fast_path[:5]
    assert len(row_path[2]) >= 16


@pytest.mark.parametrize(
    "change",
    ["multi-line cell", "semicolons", "latin-1", "header on line 3"],
)
def test_unusual_files_are_read_row_by_row_with_the_same_result(
    tmp_path, monkeypatch, operation, fmps, change
):
    rows = generated(50)
    path = tmp_path / "odd.csv"
    if change == "multi-line cell":
        rows[10]["from_admin2"] = "Moamba\nsede"
        write_csv(path, rows)
    elif change == "semicolons":
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh, delimiter=";")
            out.writerow(TEMPLATE_COLUMNS)
            out.writerows([[r[c] for c in TEMPLATE_COLUMNS] for r in rows])
    elif change == "latin-1":
        rows[4]["to_admin2"] = "Mocímboa da Praia"
        with path.open("w", newline="", encoding="latin-1") as fh:
            out = csv.writer(fh)
            out.writerow(TEMPLATE_COLUMNS)
            out.writerows([[r[c] for c in TEMPLATE_COLUMNS] for r in rows])
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["Flow counts, March"])
            out.writerow([])
            out.writerow(TEMPLATE_COLUMNS)
            out.writerows([[r[c] for c in TEMPLATE_COLUMNS] for r in rows])
    monkeypatch.setattr(importer, "FAST_MIN_ROWS", 0)
    job = run(job_create(kind="flows.counts", source=path, profile={"operation": operation.pk}))
    assert job.status == "succeeded", (job.error, errors_of(job))
    assert job.created == 50
    assert job.summary["reader"] == "row by row"
    if change == "multi-line cell":
        assert FlowCount.objects.get(record_id=rows[10]["record_id"]).from_admin2 == "Moamba\nsede"
    if change == "latin-1":
        assert FlowCount.objects.get(record_id=rows[4]["record_id"]).to_admin2 == "Mocímboa da Praia"


def test_small_files_take_the_row_path(tmp_path, operation, fmps):
    path = write_csv(tmp_path / "small.csv", generated(10))
    assert importer.fast_file(path, min_rows=importer.FAST_MIN_ROWS) is None
    assert importer.fast_file(path, min_rows=0) is not None


# --- counts_write, the shared writer --------------------------------------------------------------


def test_counts_write_counts_created_updated_unchanged(operation, fmps):
    ids = {code: fmp.pk for code, fmp in fmps.items()}
    first = [count_parse(r, row=i + 2, fmps=ids)[0] for i, r in enumerate(generated(50))]
    assert all(first)
    with transaction.atomic():
        counts = counts_write(operation=operation, rows=first)
    assert (counts.created, counts.updated, counts.unchanged) == (50, 0, 0)
    changed = [dict(v) for v in first]
    changed[0]["individuals"] += 1
    changed[1]["date"] = dt.date(2023, 12, 1)
    changed[2]["transport"] = "boat"
    extra = count_parse(row(record_id="EXTRA"), row=99, fmps=ids)[0]
    with transaction.atomic():
        counts = counts_write(operation=operation, rows=[*changed, extra, {**extra, "individuals": 3}])
    assert (counts.created, counts.updated, counts.unchanged) == (1, 3, 47)
    assert FlowCount.objects.count() == 51
    assert FlowCount.objects.get(record_id="EXTRA").individuals == 3  # the later row wins
    assert counts.summary["date_from"] == "2023-12-01"
    assert_summaries_match_counts(operation)
    assert connection.vendor in ("sqlite", "postgresql")


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, FlowCount._meta.db_table))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the bulk load drops SQLite indexes only")
def test_a_large_first_load_builds_the_indexes_after_and_gives_them_back_on_failure(
    tmp_path, monkeypatch, operation, fmps
):
    monkeypatch.setattr(flow_counts.CountWriter, "BULK_MIN_ROWS", 100)
    before = _indexes()
    path = write_csv(tmp_path / "big.csv", generated(300))

    def broken(self):
        raise RuntimeError("stopped between dropping and building the indexes")

    monkeypatch.setattr(flow_counts.CountWriter, "_bulk_end", broken)
    job = do_import(path, operation)
    assert job.status == "failed"
    assert FlowCount.objects.count() == 0
    assert _indexes() == before

    monkeypatch.undo()
    monkeypatch.setattr(flow_counts.CountWriter, "BULK_MIN_ROWS", 100)
    job = do_import(path, operation)
    assert job.status == "succeeded", job.error
    assert "indexes" in job.summary["seconds"]
    assert _indexes() == before
    assert FlowCount.objects.count() == 300
    assert_summaries_match_counts(operation)
    again = do_import(path, operation)  # the unique index is back: the upsert works
    assert (again.created, again.updated, again.unchanged) == (0, 0, 300)


def test_a_failure_while_batches_stream_stores_nothing_and_the_next_import_works(
    tmp_path, monkeypatch, operation, fmps
):
    """On PostgreSQL the column-wise path keeps one COPY open across batches: a failure in the middle
    must end it with the error (not leave the connection mid-COPY) and roll everything back."""
    monkeypatch.setattr(importer, "WRITE_ROWS", 40)
    path = write_csv(tmp_path / "counts.csv", generated(300))
    real = flow_counts.frame_sums
    calls = []

    def failing(frame, operation_id):
        calls.append(frame.height)
        if len(calls) == 3:
            raise RuntimeError("stopped while the counts stream")
        return real(frame, operation_id)

    monkeypatch.setattr(flow_counts, "frame_sums", failing)
    job = do_import(path, operation, fast=True, monkeypatch=monkeypatch)
    assert job.status == "failed" and len(calls) == 3
    assert FlowCount.objects.count() == 0 and FlowDaily.objects.count() == 0

    monkeypatch.setattr(flow_counts, "frame_sums", real)
    job = do_import(path, operation, fast=True, monkeypatch=monkeypatch)
    assert job.status == "succeeded", job.error
    assert (job.created, FlowCount.objects.count()) == (300, 300)
    assert_summaries_match_counts(operation)
