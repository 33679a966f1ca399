"""Tracking import rows/s: a 1M-row template CSV and a 20k-record DTM API v3 JSON, beside raw sqlite3 executemany.

Run:  .venv/bin/python bench/bench_tracking_import.py [--rows 1000000] [--dtm-rows 20000] [--profile] [--row-path]

A throw-away SQLite database (migrated by Django; the user's database is never touched) gets the
shipped PAK gazetteer (577 tehsils) through the real gazetteer importer. Then, generated with a fixed
seed:

- a template CSV (kind ``tracking.template``, the project's vocabulary) of one baseline sub-area
  round: every tehsil × villages × population group × displacement reason, with p-codes at admin 1-3
  (one tehsil in 20 written by name only, so the name matcher runs), households, sex totals, sex and
  age parts on IDP rows, origin and shelter;
- a DTM API v3 JSON response of PAK admin-2 records, as bench_tracking_api.py makes it.

Each goes through ``core.imports.job_create`` + ``run`` (validation, p-codes, summing, idempotent
write, analytics refresh), then again unchanged. The reference is raw sqlite3 ``executemany`` of the
same rows into one flat table in a fresh database file: for the CSV it parses the file with
csv.reader too (the importer reads it as well); for the JSON it starts from the parsed records.
Aim (issue 4): the importer at least a third of the raw rate. Peak RSS of the process is printed.
The template CSV goes through the column-wise reader (template_fast); ``--row-path`` raises
settings.TRACKING_FAST_IMPORT_ROWS so that it is read row by row, for comparison.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import csv
import datetime as dt
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
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
os.environ.setdefault("MOBILITY_MAX_UPLOAD_MB", "1000")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

GAZETTEER = REPO / "mobility" / "gazetteer" / "data" / "pak_adm0-3_pcodes_ocha.csv"
GROUPS = ["IDP", "RET-IDP", "RET-ABR", "MIG", "REF", "HOST"]
REASONS = ["conflict", "natural_disaster", "Insecurity; banditry", "economic", "other"]
SHELTERS = ["host_family", "rented", "camp", "own_house", "spontaneous_site"]
DTM_REASONS = [
    "Conflict",
    "Natural disaster",
    "Insecurity",
    "Other reason",
    "No reason for displacement reported",
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup():
    """Migrate, import the PAK gazetteer through core.imports, create the operation and a round."""
    import mobility.gazetteer.importers  # noqa: F401
    from mobility.core.imports import job_create, run
    from mobility.core.models import Round
    from mobility.core.services import operation_create
    from mobility.gazetteer.models import AdminArea

    call_command("migrate", verbosity=0)
    job = run(job_create(kind="gazetteer.cod", source=GAZETTEER))
    assert job.status == "succeeded", job.error
    operation = operation_create(name="Pakistan — import bench", country_iso3="PAK")
    Round.objects.create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )
    by_pcode = {
        a["pcode"]: a
        for a in AdminArea.objects.filter(version__is_current=True, country_iso3="PAK").values(
            "pcode", "level", "parent__pcode", "name"
        )
    }
    tehsils = []
    for a in by_pcode.values():
        if a["level"] != 3:
            continue
        district = by_pcode[a["parent__pcode"]]
        province = by_pcode[district["parent__pcode"]]
        tehsils.append(
            (province["pcode"], province["name"], district["pcode"], district["name"], a["pcode"], a["name"])
        )
    tehsils.sort()
    return operation, tehsils


def template_file(tehsils, rows: int) -> Path:
    """A template CSV of about ``rows`` rows (deterministic)."""
    from mobility.core.sadd import AgeBands
    from mobility.tracking.importers.template import template_columns

    rng = random.Random(7)
    columns = template_columns()
    labels = AgeBands.default().labels()
    per_tehsil = len(GROUPS) * len(REASONS)
    villages = max(1, round(rows / (len(tehsils) * per_tehsil)))
    districts = sorted({t[2] for t in tehsils})
    path = TMP / "template-bench.csv"
    written = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for t_index, (a1, n1, a2, n2, a3, n3) in enumerate(tehsils):
            by_name = t_index % 20 == 0
            for v in range(villages):
                site = f"{a3}-V{v:04d}"
                for group in GROUPS:
                    for reason in REASONS:
                        if written >= rows:
                            break
                        ind = rng.randint(0, 4000)
                        females = ind // 2
                        row = dict.fromkeys(columns, "")
                        row.update(
                            location_code="PAK",
                            admin1_code="" if by_name else a1,
                            admin1_name=n1,
                            admin2_code="" if by_name else a2,
                            admin2_name=n2,
                            admin3_code="" if by_name else a3,
                            admin3_name=n3,
                            site_code=site,
                            site_name=f"Village {v}",
                            population_group=group,
                            households=str(ind // 6),
                            individuals=str(ind),
                            males=str(ind - females),
                            females=str(females),
                            displacement_reason=reason,
                            origin_admin1_code=a1,
                            origin_admin2_code=rng.choice(districts),
                            shelter_type=rng.choice(SHELTERS),
                            reporting_date="2026-01-20",
                            assessment_type="BSA",
                            key_informants=str(rng.randint(1, 6)),
                        )
                        if group == "IDP":
                            # Sex and age parts that add up to the sex totals.
                            for sex, total in (("female", females), ("male", ind - females)):
                                share, left = total // len(labels), total
                                for label in labels[:-1]:
                                    row[f"{sex}_{label}"] = str(share)
                                    left -= share
                                row[f"{sex}_{labels[-1]}"] = str(left)
                        out.writerow(row.values())
                        written += 1
    return path


def dtm_file(tehsils, rows: int) -> tuple[Path, list[dict]]:
    rng = random.Random(5)
    districts = sorted({(t[0], t[1], t[2], t[3]) for t in tehsils})
    records, n, round_number = [], 0, 1
    while len(records) < rows:
        date = (dt.date(2030, 1, 1) + dt.timedelta(days=30 * round_number)).isoformat()
        for a1, n1, a2, n2 in districts:
            for atype in ("BA", "SA"):
                for text in DTM_REASONS:
                    n += 1
                    records.append(
                        {
                            "id": 5_000_000 + n,
                            "operation": "Pakistan — DTM import bench",
                            "admin0Name": "Pakistan",
                            "admin0Pcode": "PAK",
                            "admin1Name": n1,
                            "admin1Pcode": a1,
                            "admin2Name": n2,
                            "admin2Pcode": a2,
                            "numPresentIdpInd": rng.randint(0, 9000),
                            "reportingDate": f"{date}T00:00:00",
                            "yearReportingDate": int(date[:4]),
                            "monthReportingDate": int(date[5:7]),
                            "roundNumber": round_number,
                            "displacementReason": text,
                            "numberMales": None,
                            "numberFemales": None,
                            "idpOriginAdmin1Name": "Not available",
                            "idpOriginAdmin1Pcode": "Not available",
                            "assessmentType": atype,
                        }
                    )
        round_number += 1
    records = records[:rows]
    path = TMP / "dtm-bench.json"
    envelope = {"result": records, "statusCode": 200, "isSuccess": True, "errorMessages": []}
    path.write_text(json.dumps({**envelope, "totalRecordsCount": len(records)}))
    return path, records


def raw_csv(path: Path) -> tuple[int, float]:
    """Reference: csv.reader over the file + executemany into one flat table, one transaction."""
    target = TMP / "raw-template.sqlite3"
    target.unlink(missing_ok=True)
    db = sqlite3.connect(target)
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        db.execute(f"CREATE TABLE t ({', '.join(f'c{i} TEXT' for i in range(len(header)))})")
        cursor = db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(header))})", reader)
    db.commit()
    seconds = time.perf_counter() - started
    rows = cursor.rowcount
    db.close()
    return rows, seconds


def raw_records(records: list[dict]) -> float:
    target = TMP / "raw-dtm.sqlite3"
    target.unlink(missing_ok=True)
    db = sqlite3.connect(target)
    columns = list(records[0])
    db.execute(f"CREATE TABLE dtm ({', '.join(columns)})")
    started = time.perf_counter()
    db.executemany(
        f"INSERT INTO dtm VALUES ({', '.join('?' * len(columns))})", [tuple(r.values()) for r in records]
    )
    db.commit()
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def timed_import(kind: str, path: Path, profile: dict | None = None, profiler=None):
    from mobility.core.imports import job_create, run

    started = time.perf_counter()
    if profiler:
        profiler.enable()
    job = run(job_create(kind=kind, source=path, profile=profile))
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    assert job.status == "succeeded", (job.error, list(job.row_errors.all()[:5]))
    return job, seconds


def line(label: str, rows: int, seconds: float, raw_rate: float | None, extra: str = "") -> None:
    rate = rows / seconds
    ratio = f"{rate / raw_rate:>7.1%}" if raw_rate else f"{'':>7}"
    reference = f"{raw_rate:>12,.0f}" if raw_rate else f"{'':>12}"
    print(f"{label:<34} {rows:>10,} {seconds:>8.2f} {rate:>10,.0f} {reference} {ratio}  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="template CSV rows")
    parser.add_argument("--dtm-rows", type=int, default=20_000, help="DTM JSON records")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of each import")
    parser.add_argument(
        "--row-path", action="store_true", help="template: the row-by-row reader only (no column-wise reader)"
    )
    args = parser.parse_args()
    if args.row_path:
        from django.conf import settings

        settings.TRACKING_FAST_IMPORT_ROWS = 10**12

    operation, tehsils = setup()
    import mobility.tracking.importers  # noqa: F401
    from mobility.tracking.models import Assessment, FigureBreakdown, PopulationFigure

    profilers = {}

    def profiler(name):
        if args.profile:
            profilers[name] = cProfile.Profile()
            return profilers[name]
        return None

    print(f"(temp database {DB}; peak RSS after setup {peak_rss_mb():,.0f} MB)")
    print(
        f"{'import':<34} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'raw rows/s':>12} {'ratio':>7}"
        "  (aim: ratio ≥ 33.3%)"
    )
    if args.dtm_rows:
        path, records = dtm_file(tehsils, args.dtm_rows)
        raw_seconds = raw_records(records)
        raw_rate = len(records) / raw_seconds
        job, seconds = timed_import("tracking.dtm-api-v3", path, profiler=profiler("dtm"))
        line("DTM API v3 JSON", len(records), seconds, raw_rate, f"{job.created:,} assessments")
        job2, seconds = timed_import("tracking.dtm-api-v3", path, profiler=profiler("dtm again"))
        assert (job2.created, job2.updated) == (0, 0), (job2.created, job2.updated)
        line("DTM API v3 JSON, re-import", len(records), seconds, raw_rate, f"{job2.unchanged:,} unchanged")
        del records

    if args.rows:
        started = time.perf_counter()
        path = template_file(tehsils, args.rows)
        print(
            f"(template CSV: {path.stat().st_size / 2**20:,.0f} MB written in {time.perf_counter() - started:.1f} s)"
        )
        raw_rows, raw_seconds = raw_csv(path)
        raw_rate = raw_rows / raw_seconds
        profile = {"operation": operation.pk, "round": 1}
        job, seconds = timed_import("tracking.template", path, profile, profiler=profiler("template"))
        counts = (
            f"{Assessment.objects.count():,} assessments, {PopulationFigure.objects.count():,} figures, "
            f"{FigureBreakdown.objects.count():,} parts"
        )
        line("template CSV", job.rows_read, seconds, raw_rate, counts)
        job2, seconds = timed_import("tracking.template", path, profile, profiler=profiler("template again"))
        assert (job2.created, job2.updated) == (0, 0), (job2.created, job2.updated)
        line("template CSV, re-import", job2.rows_read, seconds, raw_rate, f"{job2.unchanged:,} unchanged")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    for name, prof in profilers.items():
        print(f"\n--- cProfile: {name} (top 25 by cumulative time)")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        print(f"--- cProfile: {name} (top 25 by own time)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
