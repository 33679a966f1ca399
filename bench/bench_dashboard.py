"""Tracking dashboard on ~1M analytics cells: page and JSON endpoint times (p50/p95 over 50 requests).

Run:  .venv/bin/python bench/bench_dashboard.py [--rounds 97] [--requests 50]

Fills a throw-away SQLite database (migrated by Django, the user's database is never touched) with
the MOZ gazetteer, one operation, N rounds and, per round, one AreaFigure cell per assessment type
(3) × population group (6) × admin area (every MOZ area, admin 0 to 3): ~1M cells with the default
97 rounds — what ~1M PopulationFigure rows summarise to — plus a current release of PublishedCell
totals for every round but the last (another ~1M rows), bulk-inserted with sqlite3 executemany.
Then it times the dashboard, its JSON endpoints, the CSV, the round comparison and an area page
with the Django test Client, as a data manager (AreaFigure, drafts) and anonymously (PublishedCell).
Reference: the page-time budget of DESIGN.md's field-office target (a page well under a second).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TMP = Path(tempfile.mkdtemp(prefix="mobility-bench-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
DB = TMP / "bench.sqlite3"
(TMP / "staticfiles").mkdir()
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ["MOBILITY_PLAIN_STATIC"] = "1"  # no collectstatic manifest for a throw-away run

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

GROUPS = ["IDP", "RET-IDP", "RET-ABR", "MIG", "REF", "HOST"]
TYPES = ["BA", "BSA", "SA"]


def setup(rounds: int) -> tuple:
    from django.contrib.auth import get_user_model

    from mobility.core.models import Round
    from mobility.core.services import operation_create
    from mobility.gazetteer.models import AdminArea
    from mobility.publishing.models import Release
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    call_command("migrate", verbosity=0)
    load_gazetteer("MOZ")
    operation = operation_create(name="Mozambique — bench", country_iso3="MOZ")
    admin = get_user_model().objects.create_user(username="bench", password="x" * 20, is_superuser=True)
    start = dt.date(2015, 1, 1)
    round_rows = []
    for n in range(1, rounds + 1):
        begin = start + dt.timedelta(days=30 * (n - 1))
        round_rows.append(
            Round(
                operation=operation,
                number=n,
                start_date=begin,
                end_date=begin + dt.timedelta(days=27),
                status=Round.Status.PUBLISHED if n < rounds else Round.Status.VALIDATING,
            )
        )
    Round.objects.bulk_create(round_rows)
    round_ids = dict(Round.objects.filter(operation=operation).values_list("number", "id"))
    Release.objects.bulk_create(
        [Release(operation=operation, round_id=round_ids[n], reporting_round=n) for n in range(1, rounds)]
    )
    release_ids = dict(Release.objects.filter(operation=operation).values_list("reporting_round", "id"))
    areas = []
    by_id = {}
    for a in AdminArea.objects.filter(version__is_current=True, country_iso3="MOZ").values(
        "id", "pcode", "level", "parent_id"
    ):
        by_id[a["id"]] = a
    for a in by_id.values():
        codes, node = {}, a
        while node is not None:
            codes[node["level"]] = node["pcode"]
            node = by_id.get(node["parent_id"])
        areas.append((a["level"], codes.get(1, ""), codes.get(2, ""), codes.get(3, ""), a["pcode"]))
    connection.close()
    return operation, admin, round_ids, release_ids, areas


def fill(operation, round_ids, release_ids, areas, rounds: int) -> tuple[int, int, float]:
    rng = random.Random(7)
    started = time.perf_counter()
    db = sqlite3.connect(DB)
    af, pc = [], []
    for n in range(1, rounds + 1):
        for atype in TYPES:
            for group in GROUPS:
                for level, a1, a2, a3, pcode in areas:
                    value = rng.randint(0, 50_000) * (4 - level)
                    af.append(
                        (
                            operation.pk,
                            round_ids[n],
                            atype,
                            group,
                            "MOZ",
                            level,
                            a1,
                            a2,
                            a3,
                            pcode,
                            value,
                            value // 5,
                            1,
                        )
                    )
                    if n in release_ids:
                        suppressed = value < 5
                        pc.append(
                            (
                                release_ids[n],
                                atype,
                                group,
                                "MOZ",
                                level,
                                a1,
                                a2,
                                a3,
                                None if suppressed else value,
                                suppressed,
                                "primary" if suppressed else "",
                                "2020-01-01",
                                "2020-01-01",
                                "2020-01-28",
                            )
                        )
    db.executemany(
        "INSERT INTO tracking_areafigure (operation_id, round_id, assessment_type, population_group, country_iso3,"
        " admin_level, admin1_code, admin2_code, admin3_code, pcode, individuals, households, assessments)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        af,
    )
    blank = ", ".join(["''"] * 14)
    db.executemany(
        "INSERT INTO publishing_publishedcell (release_id, assessment_type, population_group, country_iso3,"
        " admin_level, admin1_code, admin2_code, admin3_code, individuals, suppressed, suppression, reporting_date,"
        " reference_period_start, reference_period_end, location_name, admin1_name, admin2_name, admin3_name,"
        " provider_admin1_name, provider_admin2_name, location_code, breakdown, band, displacement_reason,"
        " provider_reason, origin_admin1_code, origin_admin1_name, source_ref)"
        f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?, {blank})",
        pc,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return len(af), len(pc), time.perf_counter() - started


def timed(client, url: str, n: int) -> tuple[float, float, int]:
    response = client.get(url)  # warm-up (and a check)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=97)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    operation, admin, round_ids, release_ids, areas = setup(args.rounds)
    cells, public_cells, seconds = fill(operation, round_ids, release_ids, areas, args.rounds)
    print(
        f"{cells:,} AreaFigure cells + {public_cells:,} PublishedCell rows ({len(areas)} areas, {args.rounds} rounds)"
        f" inserted in {seconds:.1f} s"
    )

    from django.test import Client

    op = operation.slug
    pages = [
        ("dashboard (admin 2)", f"/tracking/{op}/"),
        ("dashboard (admin 3)", f"/tracking/{op}/?admin_level=3"),
        ("map JSON (admin 2)", f"/tracking/{op}/data/map.json"),
        ("map JSON (admin 3)", f"/tracking/{op}/data/map.json?admin_level=3"),
        ("trend JSON", f"/tracking/{op}/data/trend.json"),
        ("CSV (admin 3)", f"/tracking/{op}/?admin_level=3&format=csv"),
        ("compare (admin 2)", f"/tracking/{op}/compare/"),
        ("compare JSON (admin 3)", f"/tracking/{op}/compare/data.json?admin_level=3"),
        ("area page (admin 1)", f"/tracking/{op}/areas/MZ01/"),
    ]
    staff = Client()
    staff.force_login(admin)
    public = Client()
    print(
        f"\n{'endpoint':<26} {'staff p50':>10} {'p95':>8} {'public p50':>11} {'p95':>8}  (ms, {args.requests} requests)"
    )
    for label, url in pages:
        s50, s95, _ = timed(staff, url, args.requests)
        p50, p95, _ = timed(public, url, args.requests)
        print(f"{label:<26} {s50:>10.1f} {s95:>8.1f} {p50:>11.1f} {p95:>8.1f}")
    print("\nreference: a field-office page should answer well under 1 s; these read summary cells only")


if __name__ == "__main__":
    main()
