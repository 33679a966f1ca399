"""Flow count import rows/s and memory: the ``flows.counts`` importer beside raw sqlite3 executemany and raw COPY.

Run:  .venv/bin/python bench/bench_flows_import.py [--rows 1000000] [--pg URL | --no-pg] [--profile]
Full run (the issue's scale, ~1.5 GB of CSV, about 15 minutes): ``--rows 10000000``.

Rows come from the shared generator ``bench/flows_synth.py`` (200 FMPs in 7 countries, three years,
60 nationalities, skewed volumes, sex/age on 85 % of rows), written to a template CSV with a fixed
seed. Everything happens in a throw-away folder and databases; the user's data is never touched.

SQLite (a fresh file, migrated by Django):
- reference: raw sqlite3 ``executemany`` of the same file's rows (csv.reader, FMP code → id, empty
  cells → NULL) into a copy of the FlowCount table with the same columns and indexes, one
  transaction;
- the importer through ``core.imports.job_create`` + ``run`` (all checks, duplicate search, write,
  summaries), into FMPs that hold nothing yet; then the same file again (every row unchanged) and a
  file with 1 % of its rows changed (upsert path). Peak RSS of each import is measured alone
  (``/proc/self/clear_refs`` resets the high-water mark; the issue's limit is 1 GiB).

PostgreSQL (when a server is reachable; ``--pg`` names one, default the local server as user
postgres): a database ``mobility_bench_<pid>`` is created and dropped; reference: ``COPY`` of the
file into a table of the same columns and indexes; then the importer, as above, in a subprocess.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import csv
import os
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
TMP = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="mobility-bench-"))
if "BENCH_TMP" not in os.environ:
    atexit.register(shutil.rmtree, TMP, ignore_errors=True)
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}")
os.environ["MOBILITY_PLAIN_STATIC"] = "1"
os.environ["MOBILITY_MAX_UPLOAD_MB"] = "100000"

import django  # noqa: E402

django.setup()

import flows_synth  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

SEED = 7
CHANGED_SHARE = 100  # one row in 100 changed for the upsert run
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- measuring -------------------------------------------------------------------------------------


def peak_reset() -> None:
    """Reset the process's peak RSS (Linux); ru_maxrss cannot be reset, so /proc is read instead."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def line(label: str, rows: int, seconds: float, reference: float | None, extra: str = "") -> None:
    rate = rows / seconds
    ratio = f"{rate / reference:>7.1%}" if reference else f"{'':>7}"
    ref = f"{reference:>13,.0f}" if reference else f"{'':>13}"
    print(f"{label:<40} {rows:>11,} {seconds:>8.1f} {rate:>10,.0f} {ref} {ratio}  {extra}", flush=True)


def header(reference: str) -> None:
    print(
        f"{'':<40} {'rows':>11} {'seconds':>8} {'rows/s':>10} {reference:>13} {'ratio':>7}  "
        "(aim: ratio ≥ 33.3 %, peak RSS < 1024 MB)",
        flush=True,
    )


# --- data ------------------------------------------------------------------------------------------


def setup_operation():
    """Migrate, then one operation with the generator's 200 FMPs."""
    from mobility.core.services import operation_create
    from mobility.flows.models import FlowMonitoringPoint

    call_command("migrate", verbosity=0)
    operation = operation_create(name="Eastern Route — import bench", country_iso3="ETH")
    FlowMonitoringPoint.objects.bulk_create(
        FlowMonitoringPoint(operation=operation, **fmp) for fmp in flows_synth.fmp_rows(200, seed=SEED)
    )
    return operation


def fmp_ids(operation) -> dict[str, int]:
    from mobility.flows.models import FlowMonitoringPoint

    return dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "id"))


def changed_copy(path: Path) -> Path:
    """The same file with one row in CHANGED_SHARE given one more person (and a male 60+ band)."""
    import polars as pl

    out = TMP / "counts-changed.csv"
    frame = pl.scan_csv(path, infer_schema=False).with_row_index("_i")
    bump = pl.col("_i") % CHANGED_SHARE == 0
    frame = frame.with_columns(
        pl.when(bump)
        .then(pl.col("individuals").cast(pl.Int64) + 1)
        .otherwise(pl.col("individuals").cast(pl.Int64)),
        pl.when(bump & pl.col("males_60").is_not_null())
        .then(pl.col("males_60").cast(pl.Int64) + 1)
        .otherwise(pl.col("males_60").cast(pl.Int64)),
    ).drop("_i")
    frame.sink_csv(out)
    return out


# --- SQLite ----------------------------------------------------------------------------------------


def raw_sqlite(path: Path, fmps: dict[str, int], operation_id: int) -> tuple[int, float]:
    """Reference: csv.reader + executemany into a copy of flows_flowcount (same columns and indexes)."""
    from mobility.flows.models import FlowCount
    from mobility.flows.template import TEMPLATE_COLUMNS

    table = FlowCount._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT type, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table])
        ddl = cur.fetchall()
    target = TMP / "raw.sqlite3"
    target.unlink(missing_ok=True)
    db = sqlite3.connect(target)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for _kind, sql in sorted(ddl, key=lambda d: d[0] != "table"):
        db.execute(sql)
    columns = ["operation_id", "fmp_id", *TEMPLATE_COLUMNS[1:]]
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == TEMPLATE_COLUMNS
        assert TEMPLATE_COLUMNS.index("households") == 17 and TEMPLATE_COLUMNS.index("females_60") == 25
        # Empty hour, households and sex/age cells are NULL; empty texts stay "" (as FlowCount stores them).
        rows = (
            [
                operation_id,
                fmps[r[0]],
                r[1],
                r[2],
                r[3] or None,
                *r[4:17],
                *(c or None for c in r[17:26]),
                *r[26:],
            ]
            for r in reader
        )
        db.execute("BEGIN")
        cursor = db.executemany(insert, rows)
        db.commit()
    seconds = time.perf_counter() - started
    count = cursor.rowcount
    db.close()
    target.unlink()
    return count, seconds


def timed_import(path: Path, operation, profiler=None):
    from mobility.core.imports import job_create, run

    peak_reset()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    job = run(job_create(kind="flows.counts", source=path, profile={"operation": operation.pk}))
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    assert job.status == "succeeded", (job.error, [e.text for e in job.row_errors.all()[:5]])
    return job, seconds, peak_mb()


def phases(job) -> str:
    """Where the time went (the importer keeps it in the job's summary)."""
    spent = job.summary.get("seconds", {})
    return "; ".join(
        f"{name} {spent[name]:.1f} s" for name in ("read", "write", "summaries") if name in spent
    )


def imports(path: Path, operation, reference: float, profile: bool) -> dict:
    """The three imports (fresh, unchanged, 1 % changed) with their figures."""
    from mobility.flows.models import FlowBreakdown, FlowCount, FlowDaily

    profilers = {}

    def profiler(name):
        if profile:
            profilers[name] = cProfile.Profile()
            return profilers[name]
        return None

    figures = {}
    job, seconds, peak = timed_import(path, operation, profiler("first import"))
    assert job.created == job.rows_read, (job.created, job.rows_read)
    figures["first"] = (job.rows_read, seconds, peak)
    line(
        f"importer, into empty FMPs ({job.summary['reader']})",
        job.rows_read,
        seconds,
        reference,
        f"peak RSS {peak:,.0f} MB; {phases(job)}",
    )
    print(
        f"{'':<40} (summaries: {FlowDaily.objects.count():,} daily + {FlowBreakdown.objects.count():,} breakdown rows)"
    )
    job, seconds, peak = timed_import(path, operation, profiler("re-import"))
    assert (job.created, job.updated, job.unchanged) == (0, 0, job.rows_read), (job.created, job.updated)
    figures["again"] = (job.rows_read, seconds, peak)
    line(
        "importer, same file again (unchanged)", job.rows_read, seconds, reference, f"peak RSS {peak:,.0f} MB"
    )
    changed = changed_copy(path)
    job, seconds, peak = timed_import(changed, operation, profiler("changed"))
    expected = (job.rows_read + CHANGED_SHARE - 1) // CHANGED_SHARE
    assert (job.created, job.updated) == (0, expected), (job.created, job.updated, expected)
    figures["changed"] = (job.rows_read, seconds, peak)
    line(
        f"importer, {100 / CHANGED_SHARE:.0f} % of rows changed",
        job.rows_read,
        seconds,
        reference,
        f"{job.updated:,} updated; peak RSS {peak:,.0f} MB; {phases(job)}",
    )
    assert FlowCount.objects.count() == job.rows_read
    for name, prof in profilers.items():
        print(f"\n--- cProfile: {name} (top 25 by own time)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return figures


def sqlite_bench(path: Path, profile: bool) -> None:
    operation = setup_operation()
    rows, seconds = raw_sqlite(path, fmp_ids(operation), operation.pk)
    print(f"\nSQLite ({connection.settings_dict['NAME']})")
    header("raw rows/s")
    reference = rows / seconds
    line("raw sqlite3 executemany (reference)", rows, seconds, None)
    imports(path, operation, reference, profile)


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_server(url: str) -> str | None:
    """The URL of a fresh database on the server of ``url``, or None when no server answers."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            name = f"mobility_bench_{os.getpid()}"
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"\nPostgreSQL: not reachable at {url.rsplit('@', 1)[-1]} ({type(exc).__name__}); skipped")
        return None

    def drop():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    return url.rsplit("/", 1)[0] + "/" + name


def raw_pg(path: Path) -> tuple[int, float]:
    """Reference: COPY of the file into a table of its columns, typed and indexed like flows_flowcount."""
    from mobility.flows.template import TEMPLATE_COLUMNS

    texts = {"fmp_code", "record_id", "direction", "from_country", "from_admin1", "from_admin2", "to_country"}
    texts |= {"to_admin1", "to_admin2", "nationality", "transport", "reason", "intended_duration"}
    types = {
        c: "varchar(64)" if c in texts else "date" if c == "date" else "integer" for c in TEMPLATE_COLUMNS
    }
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE raw_counts (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, operation_id bigint, "
            + ", ".join(f"{c} {t}" for c, t in types.items())
            + ")"
        )
        cur.execute("CREATE UNIQUE INDEX ON raw_counts (fmp_code, record_id)")
        cur.execute("CREATE INDEX ON raw_counts (operation_id, date)")
        cur.execute("CREATE INDEX ON raw_counts (fmp_code)")
        cur.execute("CREATE INDEX ON raw_counts (operation_id)")
    connection.commit() if not connection.get_autocommit() else None
    started = time.perf_counter()
    with connection.cursor() as cur:
        with cur.copy(
            f"COPY raw_counts ({', '.join(TEMPLATE_COLUMNS)}) FROM STDIN (FORMAT csv, HEADER)"
        ) as copy:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        cur.execute("SELECT count(*) FROM raw_counts")
        rows = cur.fetchone()[0]
        cur.execute("DROP TABLE raw_counts")
    return rows, time.perf_counter() - started


def pg_bench(path: Path, profile: bool) -> None:
    """Run in a subprocess whose DATABASE_URL is the throw-away PostgreSQL database."""
    operation = setup_operation()
    rows, seconds = raw_pg(path)
    print(f"\nPostgreSQL {connection.pg_version // 10000} (database {connection.settings_dict['NAME']})")
    header("COPY rows/s")
    reference = rows / seconds
    line("raw COPY of the file (reference)", rows, seconds, None)
    imports(path, operation, reference, profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="flow counts (full run: 10000000)")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help="a PostgreSQL server URL"
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of each import")
    parser.add_argument("--csv", help=argparse.SUPPRESS)  # the PostgreSQL subprocess reuses the file
    args = parser.parse_args()

    if args.csv:  # inside the PostgreSQL subprocess
        pg_bench(Path(args.csv), args.profile)
        return
    started = time.perf_counter()
    path = flows_synth.write_csv(TMP / "counts.csv", args.rows, seed=SEED)
    print(
        f"(template CSV: {args.rows:,} rows, {path.stat().st_size / 2**20:,.0f} MB, written in "
        f"{time.perf_counter() - started:.0f} s by bench/flows_synth.py; temp folder {TMP})",
        flush=True,
    )
    if not args.no_sqlite:
        sqlite_bench(path, args.profile)
    if not args.no_pg and (url := pg_server(args.pg)):
        env = {**os.environ, "DATABASE_URL": url, "BENCH_TMP": str(TMP / "pg")}
        (TMP / "pg").mkdir(exist_ok=True)
        command = [sys.executable, __file__, "--csv", str(path)] + (["--profile"] if args.profile else [])
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
