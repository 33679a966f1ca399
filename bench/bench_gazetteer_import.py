"""Gazetteer import rows/s (MOZ, PAK COD tables and the 33k-row global list) beside raw sqlite3 executemany.

Run: .venv/bin/python bench/bench_gazetteer_import.py
It migrates a throw-away SQLite database in a temp dir; the user's database is never touched.
"""

from __future__ import annotations

import atexit
import csv
import os
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
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'bench.sqlite3'}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

DATA = REPO / "mobility" / "gazetteer" / "data"
GLOBAL = REPO.parent / "shared" / "data" / "pcodes" / "download-global-pcodes-adm-1-2.csv"


def raw_sqlite(path: Path, skip: int = 1) -> float:
    """Reference: parse the CSV and executemany the rows into a bare SQLite table (no checks, no tree)."""
    started = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))[skip:]
    db = sqlite3.connect(TMP / "raw.sqlite3")
    width = len(rows[0])
    db.execute("DROP TABLE IF EXISTS t")
    db.execute(f"CREATE TABLE t ({', '.join(f'c{i} TEXT' for i in range(width))})")
    db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * width)})", rows)
    db.commit()
    db.close()
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    call_command("migrate", verbosity=0)
    import mobility.gazetteer.importers  # noqa: F401
    from mobility.core.imports import job_create, run

    cases = [
        ("MOZ COD (411 rows)", DATA / "moz_adm0-3_pcodes_ocha_2019.csv", "gazetteer.cod", 1),
        ("PAK COD (577 rows)", DATA / "pak_adm0-3_pcodes_ocha.csv", "gazetteer.cod", 1),
    ]
    if GLOBAL.exists():
        cases.append(("global list (33k rows)", GLOBAL, "gazetteer.global-pcodes", 2))
    else:
        print(f"(skipping the global list: {GLOBAL} is absent)")
    print(
        f"{'file':<24} {'import rows/s':>14} {'seconds':>8} {'areas':>7}   {'sqlite3 executemany rows/s':>26}"
    )
    for label, path, kind, skip in cases:
        started = time.perf_counter()
        job = run(job_create(kind=kind, source=path))
        seconds = time.perf_counter() - started
        assert job.status == "succeeded", job.error
        reference = raw_sqlite(path, skip)
        print(
            f"{label:<24} {job.rows_read / seconds:>14,.0f} {seconds:>8.2f} {job.created:>7}   {reference:>26,.0f}"
        )
    started = time.perf_counter()
    job = run(job_create(kind="gazetteer.cod", source=DATA / "pak_adm0-3_pcodes_ocha.csv"))
    seconds = time.perf_counter() - started
    print(
        f"{'PAK re-import (no-op)':<24} {job.rows_read / seconds:>14,.0f} {seconds:>8.2f} {job.unchanged:>7} unchanged"
    )


if __name__ == "__main__":
    main()
