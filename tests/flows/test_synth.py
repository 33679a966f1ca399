"""The synthetic flow-count generator (bench/flows_synth.py): shape, cardinalities and invariants.

Benchmarks and scale tests rely on it producing valid, realistic rows that the importer accepts;
these checks run on one chunk so they stay fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import pytest

from mobility.flows.models import (
    SADD_FIELDS,
    Direction,
    FmpType,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from mobility.flows.template import TEMPLATE_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import flows_synth  # noqa: E402

N = 60_000


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return pl.concat(list(flows_synth.frames(N, seed=3)))


def test_columns_are_the_template(frame):
    assert flows_synth.TEMPLATE_COLUMNS == TEMPLATE_COLUMNS
    assert frame.columns == TEMPLATE_COLUMNS
    assert frame.height == N


def test_fmps():
    fmps = flows_synth.fmp_rows(200, seed=0)
    assert [f["code"] for f in fmps][:3] == ["FMP-001", "FMP-002", "FMP-003"]
    assert len({f["code"] for f in fmps}) == 200
    assert {f["type"] for f in fmps} <= set(FmpType.values)
    borders = [f for f in fmps if f["type"] == "border_crossing"]
    assert 60 <= len(borders) <= 120 and all(f["border_country_iso3"] for f in borders)
    # Crossings are grouped: several FMPs share a border.
    pairs = {(f["country_iso3"], f["border_country_iso3"]) for f in borders}
    assert len(pairs) < len(borders) / 3
    assert all(-90 <= f["latitude"] <= 90 and -180 <= f["longitude"] <= 180 for f in fmps)
    assert all(set(f["observed_hours"]) <= set(range(24)) and f["observed_days"] for f in fmps)
    assert flows_synth.fmp_rows(200, seed=0) == fmps


def test_cardinalities_and_choices(frame):
    assert frame["fmp_code"].n_unique() == 200
    assert frame["nationality"].filter(frame["nationality"] != "").n_unique() == 60
    assert frame["date"].min() >= dt.date(2022, 1, 1) and frame["date"].max() <= dt.date(2024, 12, 31)
    assert frame["date"].n_unique() > 1000
    assert set(frame["direction"]) == set(Direction.values)
    assert set(frame["transport"]) == set(TransportMode.values)
    assert set(frame["reason"]) == set(MovementReason.values)
    assert set(frame["intended_duration"]) == set(IntendedDuration.values)
    admin2 = pl.concat([frame["from_admin2"], frame["to_admin2"]])
    assert 200 <= admin2.filter(admin2 != "").n_unique() <= 600
    # Zipf-like nationalities: the most common far ahead of the median one.
    shares = frame["nationality"].value_counts(sort=True)["count"]
    assert shares[0] > 10 * shares[30]
    # Hour-of-day seasonality: the morning peak is busier than the night.
    hours = frame["hour_start"].value_counts().sort("hour_start")["count"].to_list()
    assert hours[8] > 3 * hours[2]
    assert frame["individuals"].min() >= 1 and frame["individuals"].max() <= 60


def test_sadd_and_vulnerability_within_individuals(frame):
    bands = frame.select(pl.sum_horizontal(SADD_FIELDS).alias("s"), "individuals", *SADD_FIELDS)
    known = bands.filter(pl.col("males_0_4").is_not_null())
    assert 0.7 < known.height / N < 0.95
    assert (known["s"] <= known["individuals"]).all()
    for name in ["unaccompanied_children", "pregnant_women", "elderly", "disabilities"]:
        assert (frame[name] <= frame["individuals"]).all()


def test_record_ids_unique_per_fmp_and_deterministic(frame):
    assert frame.select(pl.struct("fmp_code", "record_id").n_unique()).item() == N
    assert frame.equals(pl.concat(list(flows_synth.frames(N, seed=3))))
    assert not frame.equals(pl.concat(list(flows_synth.frames(N, seed=4))))
    first = next(flows_synth.iter_rows(N, seed=3))
    assert first[0].startswith("FMP-") and isinstance(first[2], dt.date)


def test_write_csv(tmp_path):
    path = flows_synth.write_csv(tmp_path / "flows.csv", 1000, seed=3)
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns == TEMPLATE_COLUMNS and back.height == 1000
    rows = list(flows_synth.iter_rows(1000, seed=3))
    assert back["record_id"].to_list() == [r[1] for r in rows]
    assert back["individuals"].cast(int).to_list() == [r[16] for r in rows]
    head = path.read_text().splitlines()[1]
    assert '""' not in head
