"""Point-in-polygon speed: 100,000 random GPS points in Pakistan's bounding box against its 577 tehsils.

Run:  .venv/bin/python bench/bench_pip.py [--points 100000]

Prints points/s for AreaLocator.locate_many (shapely 2 STRtree, vectorised) beside a naive loop of
shapely `contains` over every polygon, timed on a 2,000-point sample and scaled.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = tempfile.mkdtemp(prefix="mobility-bench-")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from django.core.management import call_command  # noqa: E402

from mobility.gazetteer.geo import AreaLocator  # noqa: E402
from tests.gazetteer.gazetteer_fixtures import load_gazetteer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    load_gazetteer("PAK")

    started = time.perf_counter()
    locator = AreaLocator("PAK")
    build = time.perf_counter() - started
    _, _, geoms, pcodes = locator._trees[0]
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(args.seed)
    lons = rng.uniform(minx, maxx, args.points)
    lats = rng.uniform(miny, maxy, args.points)

    started = time.perf_counter()
    placed = locator.locate_many(lons, lats)
    fast = time.perf_counter() - started
    started = time.perf_counter()
    locator.locate_pcodes(lons, lats)
    fast_codes = time.perf_counter() - started
    inside = sum(1 for p in placed if p["admin3_code"])

    # The naive way: test every polygon for every point (unprepared shapely objects).
    polygons = [shapely.from_geojson(shapely.to_geojson(g)) for g in geoms]
    sample = min(args.naive_sample, args.points)
    started = time.perf_counter()
    naive = []
    for x, y in zip(lons[:sample], lats[:sample], strict=True):
        point = shapely.Point(x, y)
        naive.append(next((pcodes[i] for i, poly in enumerate(polygons) if poly.contains(point)), ""))
    slow = time.perf_counter() - started
    fast_sample = locator.locate_pcodes(lons[:sample], lats[:sample])
    # The locator also places points within NEAR_EDGE_DEGREES of a boundary; count only strict disagreements.
    disagree = sum(1 for a, b in zip(naive, fast_sample, strict=True) if a and a != b)

    print(f"{len(geoms)} PAK tehsil polygons; locator built in {build:.2f} s (incl. parsing GeoJSON)")
    print(
        f"{args.points:,} random points in Pakistan's bbox, {inside:,} placed in a tehsil ({inside / args.points:.0%})"
    )
    print(
        f"AreaLocator.locate_many (dicts of admin1..3):  {args.points / fast:>12,.0f} points/s  ({fast:.2f} s)"
    )
    print(
        f"AreaLocator.locate_pcodes (numpy array):       {args.points / fast_codes:>12,.0f} points/s  ({fast_codes:.2f} s)"
    )
    print(
        f"naive loop of shapely contains, {sample:,} points: {sample / slow:>12,.0f} points/s  "
        f"(→ {args.points * slow / sample:,.0f} s for {args.points:,})"
    )
    print(
        f"speed-up {(args.points / fast) / (sample / slow):,.0f}x; disagreements with the naive loop on the sample: {disagree}"
    )


if __name__ == "__main__":
    main()
