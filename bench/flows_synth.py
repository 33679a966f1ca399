"""A deterministic, streaming generator of realistic flow counts in Mobility's template columns.

Why: benchmarks and scale tests need millions of flow counts shaped like a real regional flow
monitoring operation (the Horn of Africa / Eastern Route), not uniform noise — realistic
cardinalities decide index choice, summary sizes and query plans. Nothing here is real data.

Shape of what it makes
- ``fmp_rows(n)``: n FMPs "FMP-001"… in 7 host countries; ~45 % are border crossings grouped on
  14 borders (several crossings per border), the rest transit centres, bus stations, ports…;
  24-hour posts and daylight (06–18) posts; some counted Monday–Friday only.
- ``iter_rows`` / ``write_csv`` / ``frames``: counts over three years (2022-01-01 to 2024-12-31),
  in date order (then hour and FMP) as a team's export comes,
  with weekday and annual seasonality and a slow upward trend, hour-of-day peaks at ~08 and ~15
  (within each FMP's observed hours and days), FMP volumes skewed (log-normal), 60 nationalities
  with Zipf-like shares (region first), origin/destination following the FMP's border and the
  direction, admin1/admin2 p-codes (ISO2 + digits, e.g. "ET04", "ET0403") drawn from ~370
  plausible codes in 11 countries, transport/reason/intended duration from the model's choice
  values, individuals per record skewed 1–60 by transport (on foot 1–5, bus 20–60),
  sex/age bands that sum to at most ``individuals`` (≈15 % of rows leave them empty),
  vulnerability figures within their bands, ``record_id`` unique per FMP.

Determinism: rows are made in chunks of ``CHUNK`` rows, chunk k from
``numpy.random.default_rng([seed, k])``, so the same (n_rows, seed) gives the same rows however
they are consumed (``iter_rows``, ``frames`` or ``write_csv``) and on any machine.

Run as a script to write a CSV:  .venv/bin/python bench/flows_synth.py out.csv 10000000 [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent

CHUNK = 250_000
START = dt.date(2022, 1, 1)
DAYS = (dt.date(2024, 12, 31) - START).days + 1  # 1096 days, three years
_EPOCH_OFFSET = (START - dt.date(1970, 1, 1)).days

# Host countries of FMPs, with a rough centre (lat, lon) and extent for coordinates.
HOSTS = {
    "ETH": (9.0, 39.5, 4.0),
    "SOM": (5.5, 46.0, 4.0),
    "DJI": (11.6, 42.6, 0.5),
    "KEN": (0.5, 37.9, 3.0),
    "SSD": (7.3, 30.5, 3.0),
    "SDN": (14.5, 31.0, 4.0),
    "YEM": (15.5, 47.5, 2.5),
}
HOST_WEIGHTS = {"ETH": 45, "SOM": 40, "DJI": 20, "KEN": 30, "SSD": 25, "SDN": 20, "YEM": 20}
# Borders FMPs sit on (host, other side); several crossings per border.
BORDERS = [
    ("ETH", "SOM"),
    ("ETH", "DJI"),
    ("ETH", "KEN"),
    ("ETH", "SSD"),
    ("ETH", "SDN"),
    ("ETH", "ERI"),
    ("SOM", "KEN"),
    ("SOM", "ETH"),
    ("DJI", "ETH"),
    ("DJI", "SOM"),
    ("KEN", "UGA"),
    ("SSD", "UGA"),
    ("SSD", "SDN"),
    ("YEM", "DJI"),
]
# Countries with p-codes: ISO2 prefix and number of admin1 areas (admin2: 2–6 each).
PCODE_COUNTRIES = {
    "ETH": ("ET", 13),
    "SOM": ("SO", 18),
    "DJI": ("DJ", 6),
    "KEN": ("KE", 14),
    "SSD": ("SS", 10),
    "SDN": ("SD", 18),
    "YEM": ("YE", 12),
    "UGA": ("UG", 8),
    "ERI": ("ER", 6),
    "SAU": ("SA", 9),
    "OMN": ("OM", 6),
}
# The 60 nationalities: the region first (the Zipf head), then others from the gazetteer list.
REGION_NATIONALITIES = ["ETH", "SOM", "SSD", "SDN", "YEM", "KEN", "ERI", "DJI", "UGA", "SAU", "OMN"]
N_NATIONALITIES = 60

TRANSPORT = ["foot", "bus", "car", "motorbike", "animal", "boat", "train", "air", "other", "unknown"]
TRANSPORT_P = [0.30, 0.30, 0.14, 0.10, 0.05, 0.03, 0.02, 0.01, 0.02, 0.03]
# log-normal (mu, sigma) of individuals per record by transport mode, clipped to 1–60.
TRANSPORT_SIZE = [
    (0.6, 0.6),
    (3.3, 0.35),
    (1.3, 0.4),
    (0.4, 0.4),
    (1.4, 0.5),
    (2.8, 0.5),
    (2.5, 0.8),
    (0.8, 0.5),
    (1.2, 0.8),
    (1.0, 0.9),
]
REASON = [
    "economic",
    "conflict",
    "natural_disaster",
    "food",
    "family",
    "services",
    "return",
    "seasonal",
    "tourism",
    "other",
    "unknown",
]
REASON_P = [0.38, 0.12, 0.07, 0.06, 0.12, 0.05, 0.06, 0.05, 0.02, 0.03, 0.04]
DURATION = ["lt_1w", "1w_1m", "1m_6m", "gt_6m", "permanent", "unknown"]
DURATION_P = [0.30, 0.20, 0.18, 0.12, 0.08, 0.12]
FMP_TYPES = ["transit_centre", "bus_station", "train_station", "port", "airport", "roadside", "other"]
FMP_TYPES_P = [0.30, 0.30, 0.05, 0.07, 0.03, 0.20, 0.05]
# Sex/age band shares, in SADD_FIELDS order.
SADD_P = [0.07, 0.07, 0.11, 0.10, 0.33, 0.24, 0.04, 0.04]
SADD_COLUMNS = [
    "males_0_4",
    "females_0_4",
    "males_5_17",
    "females_5_17",
    "males_18_59",
    "females_18_59",
    "males_60",
    "females_60",
]
# mobility.flows.template.TEMPLATE_COLUMNS, repeated so that the generator runs without Django
# set up (importing the template imports the models); tests/flows/test_synth.py keeps them equal.
TEMPLATE_COLUMNS = [
    "fmp_code",
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
    "individuals",
    "households",
    *SADD_COLUMNS,
    "unaccompanied_children",
    "pregnant_women",
    "elderly",
    "disabilities",
]
INT_COLUMNS = [
    "hour_start",
    "period_hours",
    "individuals",
    "households",
    *SADD_COLUMNS,
    "unaccompanied_children",
    "pregnant_women",
    "elderly",
    "disabilities",
]


def _countries() -> list[str]:
    path = REPO / "mobility" / "gazetteer" / "data" / "countries.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return [row["iso3"] for row in csv.DictReader(fh)]


def nationalities() -> list[str]:
    """The 60 nationality codes, most frequent first (the region, then a fixed spread of others)."""
    others = [c for c in _countries() if c not in REGION_NATIONALITIES]
    step = len(others) / (N_NATIONALITIES - len(REGION_NATIONALITIES))
    picked = [others[int(i * step)] for i in range(N_NATIONALITIES - len(REGION_NATIONALITIES))]
    return REGION_NATIONALITIES + picked


def pcodes() -> dict[str, list[tuple[str, list[str]]]]:
    """Plausible admin1 → admin2 p-codes per country: {"ETH": [("ET01", ["ET0101", …]), …]}."""
    rng = np.random.default_rng(12345)
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for iso3, (iso2, n1) in PCODE_COUNTRIES.items():
        areas = []
        for i in range(1, n1 + 1):
            a1 = f"{iso2}{i:02d}"
            areas.append((a1, [f"{a1}{j:02d}" for j in range(1, int(rng.integers(2, 7)) + 1)]))
        out[iso3] = areas
    return out


def fmp_rows(n: int = 200, seed: int = 0) -> list[dict]:
    """The n FMPs the counts refer to, as FlowMonitoringPoint field values (codes "FMP-001"…)."""
    rng = np.random.default_rng([seed, 10_000_019])
    hosts = list(HOST_WEIGHTS)
    host_p = np.array(list(HOST_WEIGHTS.values()), dtype=float)
    host_p /= host_p.sum()
    rows = []
    border_counter: dict[tuple[str, str], int] = {}
    for i in range(1, n + 1):
        if rng.random() < 0.45:
            host, other = BORDERS[int(rng.integers(len(BORDERS)))]
            k = border_counter[(host, other)] = border_counter.get((host, other), 0) + 1
            ftype, name = "border_crossing", f"{host}–{other} crossing {k}"
        else:
            host, other = hosts[int(rng.choice(len(hosts), p=host_p))], ""
            ftype = FMP_TYPES[int(rng.choice(len(FMP_TYPES), p=FMP_TYPES_P))]
            name = f"{ftype.replace('_', ' ').capitalize()} {host} {i}"
        lat, lon, ext = HOSTS[host]
        if rng.random() < 0.35:
            hours = list(range(24))
        else:
            hours = list(range(6, 19))
        days = list(range(5)) if rng.random() < 0.15 else list(range(7))
        rows.append(
            {
                "code": f"FMP-{i:03d}",
                "name": name,
                "type": ftype,
                "country_iso3": host,
                "border_country_iso3": other,
                "latitude": round(float(lat + rng.uniform(-ext, ext)), 5),
                "longitude": round(float(lon + rng.uniform(-ext, ext)), 5),
                "observed_days": days,
                "observed_hours": hours,
            }
        )
    return rows


class _Tables:
    """Lookup arrays shared by every chunk (derived from the FMPs; built once per run)."""

    def __init__(self, fmps: list[dict], seed: int, n_rows: int):
        rng = np.random.default_rng([seed, 20_000_003])
        self.fmps = fmps
        self.codes = pl.Series([f["code"] for f in fmps], dtype=pl.String)
        self.nat = nationalities()
        self.nat_series = pl.Series([*self.nat, ""], dtype=pl.String)
        ranks = np.arange(1, len(self.nat) + 1, dtype=float)
        zipf = ranks**-1.15
        self.nat_cdf = np.cumsum(zipf / zipf.sum())
        self.nat_index = {c: i for i, c in enumerate(self.nat)}
        # FMP volume: log-normal weights (a few busy crossings, a long tail of quiet posts).
        vol = rng.lognormal(0.0, 0.9, len(fmps))
        self.fmp_cdf = np.cumsum(vol / vol.sum())
        self.host = np.array([self.nat_index[f["country_iso3"]] for f in fmps])
        self.other = np.array(
            [self.nat_index[f["border_country_iso3"]] if f["border_country_iso3"] else -1 for f in fmps]
        )
        self.p_in = np.clip(rng.normal(0.52, 0.08, len(fmps)), 0.2, 0.8)
        self.daylight = np.array([len(f["observed_hours"]) < 24 for f in fmps])
        self.weekdays_only = np.array([len(f["observed_days"]) < 7 for f in fmps])
        # Admin p-codes: for each nationality index, a slice of a flat admin1 list (+ admin2).
        codes = pcodes()
        a1_list: list[str] = []
        a2_list: list[str] = []
        a2_start: list[int] = []
        a2_count: list[int] = []
        self.a1_start = np.full(len(self.nat), -1)
        self.a1_count = np.zeros(len(self.nat), dtype=np.int64)
        for iso3, areas in codes.items():
            idx = self.nat_index[iso3]
            self.a1_start[idx] = len(a1_list)
            self.a1_count[idx] = len(areas)
            for a1, a2s in areas:
                a1_list.append(a1)
                a2_start.append(len(a2_list))
                a2_count.append(len(a2s))
                a2_list.extend(a2s)
        self.a1_series = pl.Series([*a1_list, ""], dtype=pl.String)
        self.a2_series = pl.Series([*a2_list, ""], dtype=pl.String)
        self.a2_start = np.array(a2_start)
        self.a2_count = np.array(a2_count)
        # Dates: weekday × annual season × trend.
        days = np.arange(DAYS)
        weekday = (START.weekday() + days) % 7
        wk = np.array([1.10, 1.05, 1.0, 1.0, 1.15, 0.85, 0.70])[weekday]
        season = 1.0 + 0.25 * np.sin(2 * np.pi * (days - 60) / 365.25)
        trend = 1.0 + 0.3 * days / DAYS
        w = wk * season * trend
        self.day_cdf = np.cumsum(w / w.sum())
        # Rows per day for the whole run, so that rows come in date order chunk after chunk.
        self.day_end = np.cumsum(np.random.default_rng([seed, 30_000_001]).multinomial(n_rows, w / w.sum()))
        self.weekday_of = weekday
        # Hours: peaks around 08 and 15; a daylight variant restricted to 06–18.
        h = np.arange(24)
        hw = 0.15 + np.exp(-((h - 8) ** 2) / 6) + 0.8 * np.exp(-((h - 15) ** 2) / 8)
        self.hour_cdf = np.cumsum(hw / hw.sum())
        hd = np.where((h >= 6) & (h <= 18), hw, 0.0)
        self.day_hour_cdf = np.cumsum(hd / hd.sum())
        self.size = np.array(TRANSPORT_SIZE)


_DIRECTIONS = pl.Series(["out", "in"], dtype=pl.String)


def _pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _choice(rng: np.random.Generator, n: int, p: list[float]) -> np.ndarray:
    return _pick(np.cumsum(np.array(p) / sum(p)), rng.random(n))


def _admin(rng: np.random.Generator, t: _Tables, country: np.ndarray, known: float):
    """Admin1/admin2 indexes (into t.a1_series/t.a2_series; the last entry is "") for countries."""
    n = len(country)
    has = (country >= 0) & (rng.random(n) < known)
    cidx = np.where(country >= 0, country, 0)
    count = t.a1_count[cidx]
    has &= count > 0
    # Skew within a country: low-numbered areas (the capital region, border provinces) busier.
    a1_local = np.floor(count * rng.random(n) ** 1.6).astype(np.int64)
    a1 = np.where(has, t.a1_start[cidx] + a1_local, len(t.a1_series) - 1)
    a1c = np.where(has, a1, 0)
    has2 = has & (rng.random(n) < 0.8)
    a2 = np.where(
        has2,
        t.a2_start[a1c] + np.floor(t.a2_count[a1c] * rng.random(n)).astype(np.int64),
        len(t.a2_series) - 1,
    )
    return a1, a2


def _chunk(t: _Tables, seed: int, k: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng([seed, k])
    fmp = _pick(t.fmp_cdf, rng.random(n))
    start = k * CHUNK
    day = np.searchsorted(t.day_end, np.arange(start, start + n), side="right")
    # Weekday-only posts: move a weekend count to the Friday before (Sat) or Monday after (Sun).
    wd = t.weekday_of[day]
    shift = np.where(wd == 5, -1, np.where(wd == 6, 1, 0)) * t.weekdays_only[fmp]
    day = np.clip(day + shift, 0, DAYS - 1)
    day = np.where(t.weekdays_only[fmp] & (t.weekday_of[day] >= 5), day - 2, day)
    day = np.clip(day, 0, DAYS - 1)
    hour = np.where(t.daylight[fmp], _pick(t.day_hour_cdf, rng.random(n)), _pick(t.hour_cdf, rng.random(n)))
    inbound = rng.random(n) < t.p_in[fmp]
    host = t.host[fmp]
    other = t.other[fmp]
    border = other >= 0
    # The far side: the FMP's border country, else (internal posts) another country 25 % of the time.
    far_random = _pick(t.nat_cdf, rng.random(n))
    far = np.where(border, other, np.where(rng.random(n) < 0.25, far_random, host))
    # 10 % of travellers come from / go to a third country beyond the border.
    far = np.where(rng.random(n) < 0.10, far_random, far)
    origin = np.where(inbound, far, host)
    dest = np.where(inbound, host, far)
    unknown_place = rng.random(n) < 0.03
    origin = np.where(unknown_place, -1, origin)
    nat = np.where(rng.random(n) < 0.55, np.where(inbound, origin, host), _pick(t.nat_cdf, rng.random(n)))
    nat = np.where(nat < 0, len(t.nat), nat)  # "" (unknown)
    from_a1, from_a2 = _admin(rng, t, origin, 0.85)
    to_a1, to_a2 = _admin(rng, t, dest, 0.80)
    transport = _choice(rng, n, TRANSPORT_P)
    reason = _choice(rng, n, REASON_P)
    duration = _choice(rng, n, DURATION_P)
    mu, sigma = t.size[transport, 0], t.size[transport, 1]
    individuals = np.clip(np.rint(rng.lognormal(mu, sigma)), 1, 60).astype(np.int64)
    households = np.maximum(1, np.rint(individuals / rng.uniform(3.5, 6.5, n))).astype(np.int64)
    households_null = rng.random(n) < 0.3
    # Sex/age: 85 % of rows give bands covering all or nearly all of the individuals.
    covered = individuals - rng.binomial(individuals, 0.03)
    bands = rng.multinomial(covered, SADD_P)
    sadd_null = rng.random(n) < 0.15
    children = bands[:, 0:4].sum(axis=1)
    older = bands[:, 6] + bands[:, 7]
    unaccompanied = np.where(sadd_null, rng.binomial(individuals, 0.005), rng.binomial(children, 0.02))
    pregnant = np.where(sadd_null, rng.binomial(individuals, 0.01), rng.binomial(bands[:, 5], 0.04))
    elderly = np.where(sadd_null, rng.binomial(individuals, 0.03), rng.binomial(older, 0.6))
    disabilities = rng.binomial(individuals, 0.01)
    cols: dict[str, pl.Series] = {
        "fmp_code": t.codes.gather(fmp),
        "date": pl.Series((day + _EPOCH_OFFSET).astype(np.int32)).cast(pl.Date),
        "hour_start": pl.Series(hour.astype(np.int64)),
        "period_hours": pl.Series(np.ones(n, dtype=np.int64)),
        "direction": _DIRECTIONS.gather(inbound.astype(np.int64)),
        "from_country": t.nat_series.gather(np.where(origin < 0, len(t.nat), origin)),
        "from_admin1": t.a1_series.gather(from_a1),
        "from_admin2": t.a2_series.gather(from_a2),
        "to_country": t.nat_series.gather(dest),
        "to_admin1": t.a1_series.gather(to_a1),
        "to_admin2": t.a2_series.gather(to_a2),
        "nationality": t.nat_series.gather(nat),
        "transport": pl.Series(TRANSPORT, dtype=pl.String).gather(transport),
        "reason": pl.Series(REASON, dtype=pl.String).gather(reason),
        "intended_duration": pl.Series(DURATION, dtype=pl.String).gather(duration),
        "individuals": pl.Series(individuals),
        "households": pl.Series(households).scatter(np.flatnonzero(households_null), None),
    }
    null_rows = np.flatnonzero(sadd_null)
    for i, name in enumerate(SADD_COLUMNS):
        cols[name] = pl.Series(bands[:, i].astype(np.int64)).scatter(null_rows, None)
    cols["unaccompanied_children"] = pl.Series(unaccompanied.astype(np.int64))
    cols["pregnant_women"] = pl.Series(pregnant.astype(np.int64))
    cols["elderly"] = pl.Series(elderly.astype(np.int64))
    cols["disabilities"] = pl.Series(disabilities.astype(np.int64))
    df = pl.DataFrame({name: s.alias(name) for name, s in cols.items()})
    # A team's export: in date order, then hour and FMP. The record number runs across the whole
    # run (so it is unique per FMP); the FMP's code keeps it readable.
    df = df.sort("date", "hour_start", "fmp_code").with_columns(
        (
            pl.col("fmp_code") + "-" + pl.int_range(start + 1, start + n + 1).cast(pl.String).str.zfill(9)
        ).alias("record_id")
    )
    return df.select(TEMPLATE_COLUMNS)


def frames(n_rows: int, seed: int = 0, fmps: list[dict] | None = None) -> Iterator[pl.DataFrame]:
    """The rows as polars DataFrames of up to ``CHUNK`` rows, columns in TEMPLATE_COLUMNS order.

    Types: strings (String), ``date`` (Date), integers (Int64, null where the template allows an
    empty cell: households and the sex/age bands).
    """
    tables = _Tables(fmps if fmps is not None else fmp_rows(seed=seed), seed, n_rows)
    for k in range((n_rows + CHUNK - 1) // CHUNK):
        yield _chunk(tables, seed, k, min(CHUNK, n_rows - k * CHUNK))


def iter_rows(n_rows: int, seed: int = 0, fmps: list[dict] | None = None) -> Iterator[tuple]:
    """Rows as tuples in TEMPLATE_COLUMNS order, of Python values.

    ``str`` for codes and choice values ("" when unknown), ``datetime.date`` for ``date``, ``int``
    for the figures and ``None`` for an empty households or sex/age cell.
    """
    for df in frames(n_rows, seed, fmps):
        # Column lists zipped: ~1.5× faster than DataFrame.iter_rows().
        yield from zip(*(s.to_list() for s in df.iter_columns()), strict=True)


def write_csv(path, n_rows: int, seed: int = 0, fmps: list[dict] | None = None) -> Path:
    """Write n_rows counts to a CSV in the template's layout (header = TEMPLATE_COLUMNS), streaming.

    Empty cells for unknown values; dates as YYYY-MM-DD.
    """
    path = Path(path)
    with path.open("wb") as fh:
        first = True
        for df in frames(n_rows, seed, fmps):
            # No value contains a comma or quote; "never" writes "" as an empty cell, not `""`.
            df.write_csv(fh, include_header=first, quote_style="never")
            first = False
        if first:  # n_rows == 0: still a header
            pl.DataFrame(schema={c: pl.String for c in TEMPLATE_COLUMNS}).write_csv(fh)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("rows", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    out = write_csv(args.path, args.rows, seed=args.seed)
    took = time.perf_counter() - t0
    size = out.stat().st_size / 1e6
    print(f"{args.rows:,} rows → {out} ({size:,.0f} MB) in {took:.1f} s")


if __name__ == "__main__":
    main()
