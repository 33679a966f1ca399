"""The flow-count analytics mirror: DuckDB over Parquet gives the SQL answers, and only when fresh.

Run on SQLite and PostgreSQL (the export paths differ: raw sqlite3 cursor vs COPY TO STDOUT).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from mobility.flows import analytics
from mobility.flows.models import FlowCount, FlowMonitoringPoint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import flows_synth  # noqa: E402

pytestmark = pytest.mark.django_db

N_FMPS, N_ROWS = 8, 3000


@pytest.fixture(autouse=True)
def mirror_root(settings, tmp_path):
    settings.FLOWS_ANALYTICS_DIR = str(tmp_path / "analytics")
    return tmp_path / "analytics"


def _load(operation, n_rows=N_ROWS, seed=1, prefix=""):
    """Synthetic counts (bench/flows_synth) stored through the ORM; returns {code: fmp}."""
    fmps = {}
    for row in flows_synth.fmp_rows(N_FMPS, seed=seed):
        fmps[row["code"]] = FlowMonitoringPoint.objects.create(operation=operation, **row)
    cols = flows_synth.TEMPLATE_COLUMNS
    counts = []
    for values in flows_synth.iter_rows(n_rows, seed=seed, fmps=flows_synth.fmp_rows(N_FMPS, seed=seed)):
        row = dict(zip(cols, values, strict=True))
        fmp = fmps[row.pop("fmp_code")]
        row["record_id"] = prefix + row["record_id"]
        counts.append(FlowCount(operation=operation, fmp=fmp, **row))
    FlowCount.objects.bulk_create(counts, batch_size=1000)
    return fmps


def _both(**kw):
    return analytics.od_matrix(engine="mirror", **kw), analytics.od_matrix(engine="sql", **kw)


def test_mirror_answers_like_sql(operation, other_operation, mirror_root):
    fmps = _load(operation)
    _load(other_operation, n_rows=500, seed=2)  # must not leak into the first operation's mirror
    built = analytics.mirror_refresh(operation.pk)
    assert built["rows"] == N_ROWS and built["months"] > 30
    assert (mirror_root / f"op-{operation.pk}" / "2023-06.parquet").exists()
    some = [fmps["FMP-001"].pk, fmps["FMP-003"].pk]
    cases = [
        {},
        {"level": "admin1"},
        {"date_from": dt.date(2023, 2, 10), "date_to": dt.date(2023, 8, 3)},
        {"direction": "in", "level": "admin1", "fmp_ids": some},
        {"date_from": dt.date(2024, 1, 1), "direction": "out"},
        {
            "periods": [
                (dt.date(2022, 3, 1), dt.date(2022, 3, 31)),
                (dt.date(2024, 7, 5), dt.date(2024, 9, 1)),
            ]
        },
        {"fmp_ids": []},
    ]
    for kw in cases:
        mirror, sql = _both(operation_id=operation.pk, **kw)
        assert mirror == sql, kw
    everything = analytics.od_matrix(operation_id=operation.pk)
    assert sum(r["records"] for r in everything) == N_ROWS
    assert sum(r["individuals"] for r in everything) == sum(
        FlowCount.objects.filter(operation=operation).values_list("individuals", flat=True)
    )
    assert everything[0]["individuals"] >= everything[-1]["individuals"]
    assert {"origin", "destination", "records", "individuals"} == set(everything[0])
    with pytest.raises(ValueError):
        analytics.od_matrix(operation_id=operation.pk, level="admin3")


def test_auto_uses_the_mirror_only_when_fresh(operation, monkeypatch):
    _load(operation, n_rows=800)
    calls = []
    real_sql = analytics._sql_od
    monkeypatch.setattr(analytics, "_sql_od", lambda *a: calls.append(a) or real_sql(*a))

    analytics.od_matrix(operation_id=operation.pk)  # never built: SQL
    assert len(calls) == 1
    with pytest.raises(LookupError):
        analytics.od_matrix(operation_id=operation.pk, engine="mirror")

    analytics.mirror_refresh(operation.pk)
    before = analytics.od_matrix(operation_id=operation.pk)
    assert len(calls) == 1  # answered by the mirror

    # Rows added behind the mirror's back (no touch) are seen through the id watermark.
    fmp = FlowMonitoringPoint.objects.filter(operation=operation).first()
    FlowCount.objects.create(
        operation=operation,
        fmp=fmp,
        record_id="late-1",
        date=dt.date(2023, 5, 17),
        direction="in",
        from_country="ZZZ",
        to_country="MOZ",
        individuals=41,
    )
    after = analytics.od_matrix(operation_id=operation.pk)
    assert len(calls) == 2 and after != before
    assert {"origin": "ZZZ", "destination": "MOZ", "records": 1, "individuals": 41} in after
    # ...but a query on other months still reads the mirror.
    analytics.od_matrix(operation_id=operation.pk, date_from=dt.date(2024, 1, 1))
    assert len(calls) == 2

    analytics.mirror_refresh(operation.pk, {(2023, 5)})
    assert analytics.od_matrix(operation_id=operation.pk) == after
    assert len(calls) == 2


def test_touch_update_delete_and_refresh(operation, mirror_root):
    _load(operation, n_rows=800)
    analytics.mirror_refresh(operation.pk)
    op = operation.pk

    # An in-place update is invisible to the watermark: the writer touches the month.
    row = FlowCount.objects.filter(operation=operation, date__year=2022, date__month=4).first()
    FlowCount.objects.filter(pk=row.pk).update(from_country="QQQ")
    analytics.mirror_touch(op, {(2022, 4)})
    fresh, _ = analytics.mirror_status(op)
    assert not fresh
    assert not analytics.mirror_status(op, dt.date(2022, 4, 1), dt.date(2022, 4, 30))[0]
    assert analytics.mirror_status(op, dt.date(2022, 5, 1), dt.date(2022, 12, 31))[0]
    sql = analytics.od_matrix(operation_id=op)
    assert any(r["origin"] == "QQQ" for r in sql)
    analytics.mirror_refresh(op, {(2022, 4)})
    assert analytics.od_matrix(operation_id=op, engine="mirror") == sql

    # Every count of a month deleted: its file goes, the answer stays right.
    FlowCount.objects.filter(operation=operation, date__year=2022, date__month=6).delete()
    analytics.mirror_touch(op, {(2022, 6)})
    analytics.mirror_refresh(op, {(2022, 6)})
    assert not (mirror_root / f"op-{op}" / "2022-06.parquet").exists()
    assert analytics.od_matrix(operation_id=op, engine="mirror") == analytics.od_matrix(
        operation_id=op, engine="sql"
    )
    manifest = json.loads((mirror_root / f"op-{op}" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["months"]["2022-06"]["rows"] == 0

    # Touching everything (None) forces a full rebuild before the mirror is used again.
    analytics.mirror_touch(op, None)
    assert not analytics.mirror_status(op)[0]
    analytics.mirror_refresh(op, {(2022, 1)})  # on an incomplete mirror: a full build
    assert analytics.mirror_status(op)[0]


def test_refresh_keeps_later_touches(operation, monkeypatch):
    """A touch arriving while a month is exported keeps the month stale after that refresh."""
    _load(operation, n_rows=400)
    analytics.mirror_refresh(operation.pk)
    real = analytics._compact

    def compact_and_touch(parts, target):
        analytics.mirror_touch(operation.pk, {(2023, 3)})
        return real(parts, target)

    monkeypatch.setattr(analytics, "_compact", compact_and_touch)
    analytics.mirror_refresh(operation.pk, {(2023, 3)})
    monkeypatch.setattr(analytics, "_compact", real)
    assert not analytics.mirror_status(operation.pk, dt.date(2023, 3, 1), dt.date(2023, 3, 31))[0]
    analytics.mirror_refresh(operation.pk, {(2023, 3)})
    assert analytics.mirror_status(operation.pk, dt.date(2023, 3, 1), dt.date(2023, 3, 31))[0]


def test_other_operations_rows_do_not_stale_the_mirror(operation, other_operation):
    _load(operation, n_rows=300)
    analytics.mirror_refresh(operation.pk)
    _load(other_operation, n_rows=300, seed=5)
    assert analytics.mirror_status(operation.pk)[0]
    manifest = analytics._read_manifest(operation.pk)
    assert manifest["watermark"] == FlowCount.objects.order_by("-id").values_list("id", flat=True)[0]


def test_on_commit_touches_then_refreshes(operation, django_capture_on_commit_callbacks):
    _load(operation, n_rows=300)
    analytics.mirror_refresh(operation.pk)
    fmp = FlowMonitoringPoint.objects.filter(operation=operation).first()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        FlowCount.objects.create(
            operation=operation,
            fmp=fmp,
            record_id="x-1",
            date=dt.date(2024, 2, 2),
            direction="out",
            from_country="MOZ",
            to_country="YYY",
            individuals=5,
        )
        analytics.mirror_on_commit(
            operation.pk, analytics.months_between(dt.date(2024, 2, 2), dt.date(2024, 2, 2))
        )
        assert not analytics.mirror_status(operation.pk)[0]  # stale from the moment of writing
    assert len(callbacks) == 1
    assert analytics.mirror_status(operation.pk)[0]
    assert {"origin": "MOZ", "destination": "YYY", "records": 1, "individuals": 5} in analytics.od_matrix(
        operation_id=operation.pk, engine="mirror"
    )


def test_months_between():
    assert analytics.months_between(dt.date(2023, 11, 30), dt.date(2024, 2, 1)) == {
        (2023, 11),
        (2023, 12),
        (2024, 1),
        (2024, 2),
    }


def test_a_failed_refresh_never_fails_the_write(operation, monkeypatch, django_capture_on_commit_callbacks):
    _load(operation, n_rows=200)
    analytics.mirror_refresh(operation.pk)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(analytics, "mirror_refresh", broken)
    with django_capture_on_commit_callbacks(execute=True):
        analytics.mirror_on_commit(operation.pk, {(2022, 2)})
    # The month stays stale, so queries keep reading the database.
    assert not analytics.mirror_status(operation.pk, dt.date(2022, 2, 1), dt.date(2022, 2, 28))[0]
    assert analytics.mirror_status(operation.pk, dt.date(2022, 3, 1), dt.date(2022, 3, 31))[0]
