"""Public read APIs on ~1M published cells: HAPI-compatible and DTM API v3-compatible p50/p95.

Run:  .venv/bin/python bench/bench_tracking_api.py [--rounds 90] [--requests 200]

Fills a throw-away SQLite database (migrated by Django; the user's database is never touched) with
the PAK gazetteer, one operation and N rounds of synthetic, real-shaped data, bulk-inserted with
sqlite3 executemany: per round, tehsil × assessment type (BA, SA) assessments with one figure per
population group (6), and a current release whose PublishedCell rows are the totals of every area
(country, provinces, districts, tehsils) × type × group plus the displacement-reason parts (5
reasons) of IDP figures at admin 0-2 — ~1M cells with the default 90 rounds. Then it times ~200
requests with varied filters per API with Django's test Client (anonymous, published data only).
Target (issue 4): p95 < 50 ms. Import speed (DTM JSON, template CSV) is bench/bench_tracking_import.py.
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
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ["MOBILITY_PLAIN_STATIC"] = "1"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

GROUPS = ["IDP", "RET-IDP", "RET-ABR", "MIG", "REF", "HOST"]
TYPES = ["BA", "SA"]
REASONS = [
    ("conflict", "Conflict"),
    ("natural_disaster", "Natural disaster"),
    ("generalised_violence", "Insecurity"),
    ("other", "Other reason"),
    ("unknown", "No reason for displacement reported"),
]
OPERATION = "Pakistan — bench"


def setup(rounds: int):
    from mobility.core.models import Operation, Round
    from mobility.core.services import operation_create
    from mobility.gazetteer.models import AdminArea
    from mobility.publishing.models import Release
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    call_command("migrate", verbosity=0)
    load_gazetteer("PAK")
    operation = operation_create(name=OPERATION, country_iso3="PAK")
    start = dt.date(2016, 1, 1)
    Round.objects.bulk_create(
        Round(
            operation=operation,
            number=n,
            start_date=start + dt.timedelta(days=30 * (n - 1)),
            end_date=start + dt.timedelta(days=30 * (n - 1)),
            status=Round.Status.PUBLISHED,
        )
        for n in range(1, rounds + 1)
    )
    round_ids = dict(Round.objects.filter(operation=operation).values_list("number", "id"))
    Release.objects.bulk_create(
        Release(operation=operation, round_id=round_ids[n], reporting_round=n) for n in range(1, rounds + 1)
    )
    release_ids = dict(Release.objects.filter(operation=operation).values_list("reporting_round", "id"))
    by_id = {
        a["id"]: a
        for a in AdminArea.objects.filter(version__is_current=True, country_iso3="PAK").values(
            "id", "pcode", "level", "parent_id", "name"
        )
    }
    areas = []
    for a in by_id.values():
        codes, names, node = {}, {}, a
        while node is not None:
            codes[node["level"]], names[node["level"]] = node["pcode"], node["name"]
            node = by_id.get(node["parent_id"])
        areas.append((a["level"], codes, names))
    connection.close()
    assert Operation.objects.count() == 1
    return operation, round_ids, release_ids, areas


def fill(operation, round_ids, release_ids, areas, rounds: int) -> tuple[int, int, int, float]:
    rng = random.Random(11)
    started = time.perf_counter()
    db = sqlite3.connect(DB)
    now = "2024-01-01 00:00:00"
    tehsils = [a for a in areas if a[0] == 3]
    # Assessments and figures (tehsil level).
    assessments = []
    for n in range(1, rounds + 1):
        date = (dt.date(2016, 1, 1) + dt.timedelta(days=30 * (n - 1))).isoformat()
        for atype in TYPES:
            for _level, codes, names in tehsils:
                assessments.append(
                    (
                        now,
                        now,
                        operation.pk,
                        round_ids[n],
                        atype,
                        codes[3],
                        "PAK",
                        3,
                        codes[1],
                        codes[2],
                        codes[3],
                        names[1],
                        names[2],
                        names[3],
                        date,
                        "bench",
                    )
                )
    db.executemany(
        "INSERT INTO tracking_assessment (created_at, updated_at, operation_id, round_id, assessment_type, place_key,"
        " country_iso3, admin_level, admin1_code, admin2_code, admin3_code, provider_admin1_name,"
        " provider_admin2_name, provider_admin3_name, reporting_date, source, provider_location_name,"
        " site_profile, top_needs, source_ref)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, '', '{}', '[]', '')",
        assessments,
    )
    ids = [r[0] for r in db.execute("SELECT id FROM tracking_assessment ORDER BY id")]
    figures = [(aid, group, rng.randint(0, 20_000), None, None) for aid in ids for group in GROUPS]
    db.executemany(
        "INSERT INTO tracking_populationfigure (assessment_id, population_group, individuals, males, females,"
        " sadd, shelter) VALUES (?,?,?,?,?, '{}', '{}')",
        figures,
    )
    # Published cells: totals of every area, reason parts of IDP figures at admin 0-2.
    cells = []
    for n in range(1, rounds + 1):
        date = (dt.date(2016, 1, 1) + dt.timedelta(days=30 * (n - 1))).isoformat()
        for atype in TYPES:
            for level, codes, names in areas:
                for group in GROUPS:
                    value = rng.randint(0, 20_000) * (4 - level)
                    small = value < 5
                    cells.append(
                        (
                            release_ids[n],
                            atype,
                            group,
                            "PAK",
                            "Pakistan",
                            level,
                            codes.get(1, ""),
                            names.get(1, ""),
                            codes.get(2, ""),
                            names.get(2, ""),
                            codes.get(3, ""),
                            names.get(3, ""),
                            names.get(1, ""),
                            names.get(2, ""),
                            "",
                            None if small else value,
                            small,
                            "primary" if small else "",
                            "",
                            "",
                            "",
                            "",
                            date,
                            date,
                            date,
                            "",
                        )
                    )
                if level <= 2:
                    for i, (reason, text) in enumerate(REASONS):
                        value = rng.randint(0, 5_000)
                        cells.append(
                            (
                                release_ids[n],
                                atype,
                                "IDP",
                                "PAK",
                                "Pakistan",
                                level,
                                codes.get(1, ""),
                                names.get(1, ""),
                                codes.get(2, ""),
                                names.get(2, ""),
                                "",
                                "",
                                names.get(1, ""),
                                names.get(2, ""),
                                "reason",
                                value,
                                False,
                                "",
                                reason,
                                text,
                                codes.get(1, "") if i == 0 else "",
                                names.get(1, "Not available") if i == 0 else "",
                                date,
                                date,
                                date,
                                str(1_000_000 + len(cells)),
                            )
                        )
    db.executemany(
        "INSERT INTO publishing_publishedcell (release_id, assessment_type, population_group, country_iso3,"
        " location_name, admin_level, admin1_code, admin1_name, admin2_code, admin2_name, admin3_code, admin3_name,"
        " provider_admin1_name, provider_admin2_name, breakdown, individuals, suppressed, suppression,"
        " displacement_reason, provider_reason, origin_admin1_code, origin_admin1_name, reporting_date,"
        " reference_period_start, reference_period_end, source_ref, location_code, band)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, '', '')",
        cells,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return len(assessments), len(figures), len(cells), time.perf_counter() - started


def timed(client, urls: list[str]) -> tuple[float, float, float]:
    client.get(urls[0])
    times, by_url = [], []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        by_url.append((times[-1], url))
        assert response.status_code == 200, (url, response.status_code, response.content[:200])
    times.sort()
    if os.environ.get("BENCH_SLOWEST"):
        for ms, url in sorted(by_url)[-4:]:
            print(f"    slow: {ms:.0f} ms {url}")
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=90)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    operation, round_ids, release_ids, areas = setup(args.rounds)
    n_assessments, n_figures, n_cells, seconds = fill(operation, round_ids, release_ids, areas, args.rounds)
    print(
        f"{n_assessments:,} assessments, {n_figures:,} population figures, {n_cells:,} published cells "
        f"({len(areas)} PAK areas, {args.rounds} rounds) inserted in {seconds:.1f} s"
    )

    from django.test import Client

    rng = random.Random(3)
    admin1 = [c[1] for lvl, c, _n in areas if lvl == 1]
    admin2 = [(c[1], c[2], n[2]) for lvl, c, n in areas if lvl == 2]
    hapi = "/api/v1/affected-people/idps"
    hapi_urls = []
    for i in range(args.requests):
        r = rng.randint(1, args.rounds)
        a1 = rng.choice(admin1)
        _p, a2, _name = rng.choice(admin2)
        hapi_urls.append(
            [
                f"{hapi}?location_code=PAK&admin_level=2&reporting_round={r}",
                f"{hapi}?admin1_code={a1}&reporting_round={r}&assessment_type=BA",
                f"{hapi}?admin2_code={a2}",
                f"{hapi}?location_code=PAK&admin_level=3&reporting_round={r}&population_min=10000",
                f"{hapi}?admin1_code={a1}&admin_level=3&limit=1000&offset={rng.randint(0, 3) * 100}",
                f"{hapi}?location_code=PAK&admin_level=1&output_format=csv",
                f"/api/v1/affected-people/returnees?admin1_code={a1}&reporting_round={r}",
            ][i % 7]
        )
    dtm = "/api/dtm/v3/displacement"
    dtm_urls = []
    for i in range(args.requests):
        r = rng.randint(1, args.rounds)
        a1 = rng.choice(admin1)
        p, a2, name = rng.choice(admin2)
        dtm_urls.append(
            [
                f"{dtm}/admin2?Admin0Pcode=PAK&Admin1Pcode={a1}&FromRoundNumber={r}&ToRoundNumber={r}",
                f"{dtm}/admin2?CountryName=Pakistan&Admin2Pcode={a2}",
                f"{dtm}/admin2?Operation={OPERATION}&Admin2Name={name}&FromRoundNumber={max(1, r - 5)}",
                f"{dtm}/admin1?CountryName=Pakistan&FromRoundNumber={r}&ToRoundNumber={r}",
                f"{dtm}/admin1?Admin0Pcode=PAK&Admin1Pcode={a1}",
                f"{dtm}/admin0?Admin0Pcode=PAK",
                f"{dtm}/country-list",
            ][i % 7]
        )
    client = Client()
    print(
        f"\n{'API':<34} {'p50':>8} {'p95':>8} {'max':>8}  (ms, {args.requests} requests, target p95 < 50 ms)"
    )
    for label, urls in (
        ("HAPI-compatible (varied filters)", hapi_urls),
        ("DTM v3-compatible (varied)", dtm_urls),
    ):
        p50, p95, worst = timed(client, urls)
        print(f"{label:<34} {p50:>8.1f} {p95:>8.1f} {worst:>8.1f}  {'OK' if p95 < 50 else 'over target'}")
    # What a DTM client asking for a whole country at admin 2 costs (DTM's API does not page).
    p50, p95, worst = timed(client, [f"{dtm}/admin2?Admin0Pcode=PAK&FromRoundNumber=1"] * 5)
    count = client.get(f"{dtm}/admin2?Admin0Pcode=PAK").json()["totalRecordsCount"]
    print(
        f"{'DTM admin2, whole country':<34} {p50:>8.1f} {p95:>8.1f} {worst:>8.1f}  ({count:,} records, 5 requests)"
    )

    if os.environ.get("BENCH_EXPLAIN"):
        from mobility.publishing.api_dtm import DisplacementFilter
        from mobility.publishing.models import PublishedCell

        name = admin2[0][2]
        print(f"\nEXPLAIN Admin2Name={name}:")
        print(
            PublishedCell.objects.filter(
                DisplacementFilter(Admin2Name=name).q(), breakdown="reason"
            ).explain()
        )

    print("(DTM JSON import speed: bench/bench_tracking_import.py)")


if __name__ == "__main__":
    main()
