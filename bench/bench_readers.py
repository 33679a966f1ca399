"""Table reading rows/s: core.tables.read_table on a 200k-row XLSX and CSV, beside openpyxl read-only and csv.reader.

Run: .venv/bin/python bench/bench_readers.py   (the issue asks the XLSX reader for ~10x openpyxl read-only)
Files are generated in a temp dir; nothing touches the user's database.
"""

from __future__ import annotations

import atexit
import csv
import os
import random
import shutil
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
os.environ.setdefault("MOBILITY_MAX_UPLOAD_MB", "1024")

import django  # noqa: E402

django.setup()

from mobility.core.tables import read_table  # noqa: E402

ROWS = 200_000
HEADER = [
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "site_name",
    "idp_households",
    "idp_individuals",
    "date",
]
NAMES = ["Cabo Delgado", "Nampula", "Zambézia", "Sofala", "Niassa", "Tete", "Manica", "Gaza"]


def rows():
    rng = random.Random(7)
    for i in range(ROWS):
        a1 = rng.randrange(1, 9)
        yield [
            f"MZ{a1:02d}",
            NAMES[a1 - 1],
            f"MZ{a1:02d}{rng.randrange(1, 20):02d}",
            f"Distrito {rng.randrange(99)}",
            f"Site {i}",
            rng.randrange(500),
            rng.randrange(3000),
            "2024-03-01",
        ]


def write_files() -> tuple[Path, Path]:
    from openpyxl import Workbook

    xlsx, csv_path = TMP / "sites.xlsx", TMP / "sites.csv"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("sites")
    sheet.append(HEADER)
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for row in rows():
            sheet.append(row)
            writer.writerow(row)
    workbook.save(xlsx)
    return xlsx, csv_path


def timed(label: str, fn) -> float:
    started = time.perf_counter()
    n = fn()
    seconds = time.perf_counter() - started
    assert n == ROWS, (label, n)
    rate = n / seconds
    print(f"  {label:<38} {rate:>12,.0f} rows/s  ({seconds:.2f} s)")
    return rate


def main() -> None:
    print(f"generating {ROWS:,} rows as XLSX and CSV in {TMP} ...")
    xlsx, csv_path = write_files()
    print(f"XLSX ({xlsx.stat().st_size / 2**20:.1f} MB)")

    def ours_xlsx():
        return sum(1 for _ in read_table(xlsx))

    def openpyxl_ro():
        from openpyxl import load_workbook

        workbook = load_workbook(xlsx, read_only=True, data_only=True)
        n = sum(1 for _ in workbook.active.iter_rows(min_row=2, values_only=True))
        workbook.close()
        return n

    ours = timed("core.tables.read_table (calamine)", ours_xlsx)
    peer = timed("openpyxl read-only", openpyxl_ro)
    print(f"  -> {ours / peer:.1f}x openpyxl read-only (target ~10x)")

    print(f"CSV ({csv_path.stat().st_size / 2**20:.1f} MB)")

    def ours_csv():
        return sum(1 for _ in read_table(csv_path))

    def csv_reader():
        with csv_path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            return sum(1 for _ in reader)

    def dict_reader():
        with csv_path.open(encoding="utf-8", newline="") as fh:
            return sum(1 for _ in csv.DictReader(fh))

    ours = timed("core.tables.read_table", ours_csv)
    peer = timed("csv.reader (no dicts, no checks)", csv_reader)
    timed("csv.DictReader", dict_reader)
    print(f"  -> {ours / peer:.2f}x csv.reader")


if __name__ == "__main__":
    main()
