"""Flow count import rows/s and memory: the ``flows.counts`` importer beside raw sqlite3 executemany and raw COPY.

Run:  .venv/bin/python bench/bench_flows_import.py [--rows 1000000] [--pg URL | --no-pg] [--no-sqlite]
                                                    [--skip-changed] [--profile]
Full run (the issue's scale, 1.2 GB of CSV; about an hour on SQLite, most of it summaries):
      .venv/bin/python bench/bench_flows_import.py --rows 10000000 --no-pg --skip-changed --flat-only

Rows come from the shared generator ``bench/flows_synth.py`` (200 FMPs in 7 countries, three years,
60 nationalities, skewed volumes, sex/age on 85 % of rows), written to a template CSV with a fixed
seed. Everything happens in a throw-away folder and databases; the user's data is never touched.

Two references per database, on the same file, each in one transaction:
- "flat": the rows into a table of the template's columns with no index (what the issue's ~200k
  rows/s for sqlite3 executemany and ~600k rows/s for COPY measure);
- "same table": into a copy of flows_flowcount with its columns and indexes (no foreign keys);
  on PostgreSQL also with the indexes built after the COPY (what a load that may lock the registry
  could do).
SQLite references read the file with csv.reader (FMP code → id, empty numbers → NULL) and call
``executemany``; PostgreSQL references ``COPY`` the file as it is (FMP code kept as text).

The importer runs through ``core.imports.job_create`` + ``run`` (every check, the duplicate search,
the write, the summaries kept as rows go in), into FMPs that hold nothing yet; then the same file again (every
row unchanged) and, unless ``--skip-changed``, the file with 1 % of rows changed (the upsert path).
Each line gives where the time went (the importer keeps it in the job's summary: read, write,
indexes, summaries: adding new rows to FlowDaily/FlowBreakdown/FlowBreakdownTotal and rebuilding
the cells of changed rows; "other" is mostly the commit) and the rate without the summaries. Peak RSS of each import is measured
alone (``/proc/self/clear_refs`` resets the high-water mark; the issue's limit is 1 GiB).

PostgreSQL (when a server is reachable; ``--pg`` names one, default the local server as user
postgres): a database ``mobility_bench_<pid>`` is created and dropped; the importer runs in a
subprocess whose DATABASE_URL points at it.
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
WIDTH = 44


# --- measuring -------------------------------------------------------------------------------------


def peak_reset() -> None:
    """Reset the process's peak RSS (Linux); ru_maxrss cannot be reset, so /proc is read instead."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    try:
        for row in Path("/proc/self/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def header(references: tuple[str, str]) -> None:
    print(
        f"{'':<{WIDTH}} {'rows':>11} {'seconds':>8} {'rows/s':>9}  {'vs ' + references[0]:>10} "
        f"{'vs ' + references[1]:>13}  (aim: ≥ 33.3 % of flat; peak RSS < 1024 MB)",
        flush=True,
    )


def line(
    label: str, rows: int, seconds: float, refs: tuple[float, float] | None = None, extra: str = ""
) -> None:
    rate = rows / seconds
    ratios = f"{'':>10} {'':>13}"
    if refs:
        same = f"{rate / refs[1]:>13.1%}" if refs[1] == refs[1] else f"{'-':>13}"  # NaN: not measured
        ratios = f"{rate / refs[0]:>10.1%} {same}"
    print(f"{label:<{WIDTH}} {rows:>11,} {seconds:>8.1f} {rate:>9,.0f}  {ratios}  {extra}", flush=True)


def phases(job, seconds: float) -> str:
    """Where the time went, and the rate without the summary rebuild."""
    spent = dict(job.summary.get("seconds", {}))
    other = seconds - sum(spent.values())
    parts = [f"{name} {value:.1f}" for name, value in spent.items()] + [f"other {other:.1f}"]
    without = job.rows_read / max(seconds - spent.get("summaries", 0), 1e-9)
    return f"[{', '.join(parts)} s; {without:,.0f} rows/s without summaries]"


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


def changed_copy(path: Path) -> Path:
    """The same file with one row in CHANGED_SHARE given one more person (and a male 60+ if it has bands)."""
    import polars as pl

    out = TMP / "counts-changed.csv"
    frame = pl.scan_csv(path, infer_schema=False).with_row_index("_i")
    bump = pl.col("_i") % CHANGED_SHARE == 0
    individuals, older = pl.col("individuals").cast(pl.Int64), pl.col("males_60").cast(pl.Int64)
    frame = frame.with_columns(
        pl.when(bump).then(individuals + 1).otherwise(individuals).alias("individuals"),
        pl.when(bump & older.is_not_null()).then(older + 1).otherwise(older).alias("males_60"),
    ).drop("_i")
    frame.sink_csv(out)
    return out


# --- the importer ----------------------------------------------------------------------------------


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


def imports(path: Path, operation, refs: tuple[float, float], *, profile: bool, skip_changed: bool) -> None:
    """The imports (fresh, unchanged, 1 % changed) with their figures."""
    from mobility.flows.models import FlowBreakdown, FlowBreakdownTotal, FlowCount, FlowDaily

    profilers = {}

    def profiler(name):
        if profile:
            profilers[name] = cProfile.Profile()
            return profilers[name]
        return None

    job, seconds, peak = timed_import(path, operation, profiler("first import"))
    assert job.created == job.rows_read, (job.created, job.rows_read)
    line(
        f"importer, into empty FMPs ({job.summary['reader']})",
        job.rows_read,
        seconds,
        refs,
        f"{peak:,.0f} MB",
    )
    print(f"{'':<{WIDTH}} {phases(job, seconds)}")
    print(
        f"{'':<{WIDTH}} [summaries: {FlowDaily.objects.count():,} daily and "
        f"{FlowBreakdown.objects.count():,} breakdown and {FlowBreakdownTotal.objects.count():,} "
        f"operation-wide breakdown rows; cells written {job.summary.get('summary_cells')}]",
        flush=True,
    )
    job, seconds, peak = timed_import(path, operation, profiler("re-import"))
    assert (job.created, job.updated, job.unchanged) == (0, 0, job.rows_read), (job.created, job.updated)
    line("importer, same file again (all unchanged)", job.rows_read, seconds, refs, f"{peak:,.0f} MB")
    print(f"{'':<{WIDTH}} {phases(job, seconds)}", flush=True)
    if not skip_changed:
        changed = changed_copy(path)
        job, seconds, peak = timed_import(changed, operation, profiler("changed"))
        expected = (job.rows_read + CHANGED_SHARE - 1) // CHANGED_SHARE
        assert (job.created, job.updated) == (0, expected), (job.created, job.updated, expected)
        line(f"importer, {job.updated:,} rows changed", job.rows_read, seconds, refs, f"{peak:,.0f} MB")
        print(f"{'':<{WIDTH}} {phases(job, seconds)}", flush=True)
    assert FlowCount.objects.count() == job.rows_read
    for name, prof in profilers.items():
        print(f"\n--- cProfile: {name} (top 25 by own time)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


# --- SQLite ----------------------------------------------------------------------------------------


def raw_sqlite(path: Path, fmps: dict[str, int], operation_id: int, *, same_table: bool) -> tuple[int, float]:
    """Reference: csv.reader + executemany into a flat table, or into a copy of flows_flowcount."""
    from mobility.flows.models import FlowCount
    from mobility.flows.template import TEMPLATE_COLUMNS

    table = FlowCount._meta.db_table
    target = TMP / "raw.sqlite3"
    target.unlink(missing_ok=True)
    db = sqlite3.connect(target)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    columns = ["operation_id", "fmp_id", *TEMPLATE_COLUMNS[1:]]
    if same_table:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT type, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table]
            )
            for _kind, sql in sorted(cur.fetchall(), key=lambda d: d[0] != "table"):
                db.execute(sql)
    else:
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    assert TEMPLATE_COLUMNS.index("households") == 17 and TEMPLATE_COLUMNS.index("females_60") == 25
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == TEMPLATE_COLUMNS
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
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return count, seconds


def sqlite_bench(path: Path, *, profile: bool, skip_changed: bool, flat_only: bool) -> None:
    from mobility.flows.models import FlowMonitoringPoint

    operation = setup_operation()
    fmps = dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "id"))
    print(f"\nSQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})")
    header(("flat", "same table"))
    flat_rows, flat_seconds = raw_sqlite(path, fmps, operation.pk, same_table=False)
    line("raw executemany, flat table", flat_rows, flat_seconds)
    refs = (flat_rows / flat_seconds, float("nan"))
    if not flat_only:
        same_rows, same_seconds = raw_sqlite(path, fmps, operation.pk, same_table=True)
        line("raw executemany, same table and indexes", same_rows, same_seconds)
        refs = (refs[0], same_rows / same_seconds)
    imports(path, operation, refs, profile=profile, skip_changed=skip_changed)


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_server(url: str) -> str | None:
    """The URL of a fresh database on the server of ``url``, or None when no server answers."""
    import psycopg

    name = f"mobility_bench_{os.getpid()}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
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


def raw_pg(path: Path, *, same_table: bool, indexes_after: bool = False) -> tuple[int, float]:
    """Reference: COPY of the file into a flat table, or into one typed and indexed like flows_flowcount
    (its primary key, unique key and three indexes; no foreign key), or the same with the indexes
    built after the COPY (``indexes_after``: the time includes building them)."""
    from mobility.flows.template import TEMPLATE_COLUMNS

    texts = {"fmp_code", "record_id", "direction", "from_country", "from_admin1", "from_admin2", "to_country"}
    texts |= {"to_admin1", "to_admin2", "nationality", "transport", "reason", "intended_duration"}
    types = {
        c: "varchar(64)" if c in texts else "date" if c == "date" else "integer" for c in TEMPLATE_COLUMNS
    }
    indexes = [
        "ALTER TABLE raw_counts ADD PRIMARY KEY (id)",
        "CREATE UNIQUE INDEX ON raw_counts (fmp_code, record_id)",
        "CREATE INDEX ON raw_counts (operation_id, date)",
        "CREATE INDEX ON raw_counts (fmp_code, date)",
        "CREATE INDEX ON raw_counts (job_id)",
    ]
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS raw_counts")
        if same_table:
            cur.execute(
                "CREATE TABLE raw_counts (id bigint GENERATED BY DEFAULT AS IDENTITY, "
                "operation_id bigint, job_id bigint, " + ", ".join(f"{c} {t}" for c, t in types.items()) + ")"
            )
            if not indexes_after:
                for statement in indexes:
                    cur.execute(statement)
        else:
            cur.execute("CREATE TABLE raw_counts (" + ", ".join(f"{c} {t}" for c, t in types.items()) + ")")
    started = time.perf_counter()
    with connection.cursor() as cur:
        with cur.copy(
            f"COPY raw_counts ({', '.join(TEMPLATE_COLUMNS)}) FROM STDIN (FORMAT csv, HEADER)"
        ) as copy:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        if indexes_after:
            for statement in indexes:
                cur.execute(statement)
        seconds = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM raw_counts")
        rows = cur.fetchone()[0]
        cur.execute("DROP TABLE raw_counts")
    return rows, seconds


def pg_bench(path: Path, *, profile: bool, skip_changed: bool, flat_only: bool) -> None:
    """Run in a subprocess whose DATABASE_URL is the throw-away PostgreSQL database."""
    operation = setup_operation()
    print(f"\nPostgreSQL {connection.pg_version // 10000} (database {connection.settings_dict['NAME']})")
    header(("flat", "same table"))
    flat_rows, flat_seconds = raw_pg(path, same_table=False)
    line("raw COPY, flat table", flat_rows, flat_seconds)
    refs = (flat_rows / flat_seconds, float("nan"))
    if not flat_only:
        same_rows, same_seconds = raw_pg(path, same_table=True)
        line("raw COPY, same table and indexes", same_rows, same_seconds, refs)
        refs = (refs[0], same_rows / same_seconds)
        late_rows, late_seconds = raw_pg(path, same_table=True, indexes_after=True)
        line("raw COPY, same table, indexes built after", late_rows, late_seconds, refs)
    imports(path, operation, refs, profile=profile, skip_changed=skip_changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="flow counts (full run: 10000000)")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help="a PostgreSQL server URL"
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--skip-changed", action="store_true", help="no run with 1 %% of rows changed")
    parser.add_argument("--flat-only", action="store_true", help="no same-table reference (slow at 10M rows)")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of each import")
    parser.add_argument("--csv", help=argparse.SUPPRESS)  # the PostgreSQL subprocess reuses the file
    args = parser.parse_args()

    if args.csv:  # inside the PostgreSQL subprocess
        pg_bench(
            Path(args.csv), profile=args.profile, skip_changed=args.skip_changed, flat_only=args.flat_only
        )
        return
    started = time.perf_counter()
    path = flows_synth.write_csv(TMP / "counts.csv", args.rows, seed=SEED)
    print(
        f"(template CSV: {args.rows:,} rows, {path.stat().st_size / 2**20:,.0f} MB, written in "
        f"{time.perf_counter() - started:.0f} s by bench/flows_synth.py; temp folder {TMP})",
        flush=True,
    )
    if not args.no_sqlite:
        sqlite_bench(path, profile=args.profile, skip_changed=args.skip_changed, flat_only=args.flat_only)
    if not args.no_pg and (url := pg_server(args.pg)):
        env = {**os.environ, "DATABASE_URL": url, "BENCH_TMP": str(TMP / "pg")}
        (TMP / "pg").mkdir(exist_ok=True)
        command = [sys.executable, __file__, "--csv", str(path)]
        command += (
            ["--profile"] * args.profile
            + ["--skip-changed"] * args.skip_changed
            + ["--flat-only"] * args.flat_only
        )
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
