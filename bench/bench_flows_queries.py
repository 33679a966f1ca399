"""Flow monitoring at scale: summary rebuild, dashboard queries and the ad-hoc origin–destination query.

Run:  .venv/bin/python bench/bench_flows_queries.py [--rows 1000000] [--requests 200] [--seed 0]
Full run (docs/benchmarks.md):  .venv/bin/python bench/bench_flows_queries.py --rows 10000000

Generates N flow counts with bench/flows_synth.py (200 FMPs, 3 years, 60 nationalities), loads
them into a throw-away SQLite database migrated by Django (the user's database is never touched)
with raw sqlite3 ``executemany`` (the importer has its own benchmark), then times:

1. ``services.summaries_rebuild`` over the whole operation;
2. dashboard-style queries through the ORM on the summary tables, p50/p95 over ``--requests``
   randomised requests each: one FMP's daily in/out series over 90 days, a corridor's daily in/out
   balance over 90 days, the operation-wide nationality / reason / transport top 10 of a month and
   origin-country totals of a quarter (from ``FlowBreakdownTotal``, what ``selectors.breakdown``
   reads without an FMP filter; the nationality top 10 also from every FMP's ``FlowBreakdown`` rows,
   the way it was read before, with fewer requests) (aim: p95 < 50 ms);
3. the analytics mirror build (``analytics.mirror_refresh``: time, size);
4. the ad-hoc origin–destination query over the raw rows, ``analytics.od_matrix`` through the
   mirror, beside the reference — DuckDB querying a native DuckDB table loaded from the same CSV —
   and beside plain SQL on SQLite (aim: mirror within 2× of the reference).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
# --workdir DIR keeps the database there and, when it is already loaded, reuses it (for trying an
# index or a setting without loading and rebuilding again); by default a temp dir, removed at exit.
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--workdir")
WORKDIR = _early.parse_known_args()[0].workdir
if WORKDIR:
    TMP = Path(WORKDIR).resolve()
    TMP.mkdir(parents=True, exist_ok=True)
else:
    TMP = Path(tempfile.mkdtemp(prefix="mobility-bench-"))
    atexit.register(shutil.rmtree, TMP, ignore_errors=True)
DB = TMP / "bench.sqlite3"
(TMP / "staticfiles").mkdir(exist_ok=True)
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ["MOBILITY_PLAIN_STATIC"] = "1"

import django  # noqa: E402

django.setup()

import duckdb  # noqa: E402
import flows_synth  # noqa: E402
import polars as pl  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

START, END = dt.date(2022, 1, 1), dt.date(2024, 12, 31)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup() -> tuple:
    """Migrate; create the operation, corridors (one per border) and the 200 FMPs."""
    from mobility.core.services import operation_create
    from mobility.flows.models import Corridor, FlowMonitoringPoint

    call_command("migrate", verbosity=0)
    operation = operation_create(name="Eastern Route — bench", country_iso3="ETH")
    fmps = flows_synth.fmp_rows(200)
    corridors = {}
    for row in fmps:
        if row["border_country_iso3"]:
            pair = tuple(sorted((row["country_iso3"], row["border_country_iso3"])))
            if pair not in corridors:
                corridors[pair] = Corridor.objects.create(
                    operation=operation,
                    slug=f"{pair[0]}-{pair[1]}".lower(),
                    name=f"{pair[0]}–{pair[1]} border",
                )
    FlowMonitoringPoint.objects.bulk_create(
        FlowMonitoringPoint(
            operation=operation,
            corridor=corridors.get(tuple(sorted((r["country_iso3"], r["border_country_iso3"])))),
            **r,
        )
        for r in fmps
    )
    ids = dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "id"))
    return operation, fmps, ids, list(corridors.values())


def reuse() -> tuple:
    from mobility.core.models import Operation
    from mobility.flows.models import Corridor, FlowMonitoringPoint

    operation = Operation.objects.get(name="Eastern Route — bench")
    ids = dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "id"))
    return operation, ids, list(Corridor.objects.filter(operation=operation))


def load(operation, fmps, ids: dict, rows: int, seed: int, csv_path: Path) -> tuple[float, float, float]:
    """Raw executemany of the generated rows (and the same rows to a CSV for DuckDB).

    The usual bulk load: FlowCount's indexes are dropped first and built again after (timed apart).
    Returns (executemany seconds, index build seconds, total seconds).
    """
    from mobility.flows.models import FlowCount

    cols = flows_synth.TEMPLATE_COLUMNS
    fields = ["operation_id", "fmp_id", *cols[1:]]
    sql = f"INSERT INTO {FlowCount._meta.db_table} ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})"
    connection.close()
    raw = sqlite3.connect(DB)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("PRAGMA cache_size=-262144")  # 256 MB for the bulk load only
    table = FlowCount._meta.db_table
    indexes = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        [table],
    ).fetchall()
    for name, _ in indexes:
        raw.execute(f'DROP INDEX "{name}"')
    code_ids = pl.DataFrame({"fmp_code": list(ids), "fmp_id": list(ids.values())})
    insert_s = 0.0
    t_all = time.perf_counter()
    with csv_path.open("wb") as csv_out:
        for n, frame in enumerate(flows_synth.frames(rows, seed=seed, fmps=fmps)):
            frame.write_csv(csv_out, include_header=n == 0, quote_style="never")
            batch = (
                frame.join(code_ids, on="fmp_code", how="left")
                .with_columns(pl.lit(operation.pk).alias("operation_id"), pl.col("date").cast(pl.String))
                .select(fields)
            )
            t0 = time.perf_counter()
            raw.executemany(sql, zip(*(s.to_list() for s in batch.iter_columns()), strict=True))
            raw.commit()
            insert_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    for _, create in indexes:
        raw.execute(create)
    raw.commit()
    index_s = time.perf_counter() - t0
    raw.close()
    return insert_s, index_s, time.perf_counter() - t_all


def timed(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def dashboard(operation, ids: dict, corridors: list, requests: int) -> list[tuple[str, float, float]]:
    from django.contrib.auth.models import User
    from django.db.models import Case, IntegerField, Sum, When

    from mobility.flows import selectors
    from mobility.flows.models import FlowBreakdown, FlowBreakdownTotal, FlowDaily

    rng = random.Random(11)
    fmp_ids = list(ids.values())
    days = (END - START).days

    def a_day(span: int) -> tuple[dt.date, dt.date]:
        first = START + dt.timedelta(days=rng.randrange(days - span))
        return first, first + dt.timedelta(days=span - 1)

    def fmp_series():
        first, last = a_day(90)
        return list(
            FlowDaily.objects.filter(fmp_id=rng.choice(fmp_ids), date__range=(first, last))
            .order_by("date", "direction")
            .values_list("date", "direction", "individuals")
        )

    def corridor_balance():
        first, last = a_day(90)
        return list(
            FlowDaily.objects.filter(fmp__corridor=rng.choice(corridors), date__range=(first, last))
            .values("date")
            .annotate(
                entering=Sum(
                    Case(When(direction="in", then="individuals"), default=0, output_field=IntegerField())
                ),
                leaving=Sum(
                    Case(When(direction="out", then="individuals"), default=0, output_field=IntegerField())
                ),
            )
            .order_by("date")
        )

    def month() -> tuple[dt.date, dt.date]:
        year, m = rng.choice([2022, 2023, 2024]), rng.randint(1, 12)
        nxt = dt.date(year + (m == 12), m % 12 + 1, 1)
        return dt.date(year, m, 1), nxt - dt.timedelta(days=1)

    def top10(dimension: str, model=FlowBreakdownTotal):
        field = "month" if model is FlowBreakdown else "date"

        def run():
            first, last = month()
            return list(
                model.objects.filter(
                    operation=operation, dimension=dimension, **{f"{field}__range": (first, last)}
                )
                .values("value")
                .annotate(total=Sum("individuals"))
                .order_by("-total")[:10]
            )

        return run

    def quarter_countries():
        year, q = rng.choice([2022, 2023, 2024]), rng.randint(0, 3)
        first = dt.date(year, 3 * q + 1, 1)
        last = dt.date(year + (q == 3), (3 * q + 3) % 12 + 1, 1) - dt.timedelta(days=1)
        return list(
            FlowBreakdownTotal.objects.filter(
                operation=operation, dimension="from_country", date__range=(first, last)
            )
            .values("value", "direction")
            .annotate(total=Sum("individuals"))
            .order_by("-total")
        )

    def quarter_fmp_countries():
        year, q = rng.choice([2022, 2023, 2024]), rng.randint(0, 3)
        first = dt.date(year, 3 * q + 1, 1)
        last = dt.date(year + (q == 3), (3 * q + 3) % 12 + 1, 1) - dt.timedelta(days=1)
        return list(
            FlowDaily.objects.filter(operation=operation, date__range=(first, last))
            .values("fmp__country_iso3", "direction")
            .annotate(total=Sum("individuals"))
            .order_by("fmp__country_iso3", "direction")
        )

    def points_list(user):
        # The points page: every FMP with its last count date and totals (selectors.fmp_list).
        return lambda: selectors.fmp_list(operation=operation, user=user)

    queries = [
        ("points list (every FMP's totals)", points_list(User(username="bench", is_superuser=True))),
        ("FMP daily in/out, 90 days", fmp_series),
        ("corridor daily balance, 90 days", corridor_balance),
        ("nationality top 10, a month", top10("nationality")),
        ("reason top 10, a month", top10("reason")),
        ("transport top 10, a month", top10("transport")),
        ("FMP-country in/out totals, a quarter", quarter_fmp_countries),
        ("origin-country totals, a quarter", quarter_countries),
        ("nationality top 10, every FMP's monthly rows", top10("nationality", FlowBreakdown)),
    ]
    out = []
    for name, fn in queries:
        fn()  # warm the page cache once
        n = requests if "every FMP" not in name else max(5, requests // 10)
        p50, p95 = timed(fn, n)
        out.append((name, p50, p95))
    return out


def od_cases(ids: dict) -> list[tuple[str, dict, str]]:
    """(label, od_matrix kwargs, the same question in DuckDB SQL over the native table ``flows``)."""
    some = sorted(ids)[10:30]
    in_list = ", ".join(f"'{c}'" for c in some)
    return [
        (
            "country × country, 3 years",
            {},
            "SELECT from_country, to_country, COUNT(*), SUM(individuals) FROM flows GROUP BY 1, 2",
        ),
        (
            "admin1 × admin1, one quarter",
            {"level": "admin1", "date_from": dt.date(2023, 4, 1), "date_to": dt.date(2023, 6, 30)},
            "SELECT from_admin1, to_admin1, COUNT(*), SUM(individuals) FROM flows "
            "WHERE date BETWEEN DATE '2023-04-01' AND DATE '2023-06-30' GROUP BY 1, 2",
        ),
        (
            "admin1, entering, 20 FMPs, one year",
            {
                "level": "admin1",
                "direction": "in",
                "fmp_ids": [ids[c] for c in some],
                "date_from": dt.date(2024, 1, 1),
                "date_to": dt.date(2024, 12, 31),
            },
            "SELECT from_admin1, to_admin1, COUNT(*), SUM(individuals) FROM flows WHERE direction = 'in' "
            f"AND fmp_code IN ({in_list}) AND date BETWEEN DATE '2024-01-01' AND DATE '2024-12-31' GROUP BY 1, 2",
        ),
    ]


def best_of(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    from mobility.flows import analytics
    from mobility.flows.services import summaries_rebuild

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each OD query (median)")
    parser.add_argument("--workdir", help="keep (and reuse) the loaded database in this folder")
    parser.add_argument(
        "--cache-mb", type=int, default=0, help="PRAGMA cache_size for the queries (0: default)"
    )
    args = parser.parse_args()

    csv_path = TMP / "flows.csv"
    done = TMP / "loaded.txt"
    if done.exists():
        operation, ids, corridors = reuse()
        print(f"(reusing {DB}: {done.read_text().strip()})")
    else:
        operation, fmps, ids, corridors = setup()
        insert_s, index_s, load_s = load(operation, fmps, ids, args.rows, args.seed, csv_path)
        print(f"{args.rows:,} flow counts, 200 FMPs, 3 years (seed {args.seed})")
        print(
            f"  generate + CSV + load: {load_s:.1f} s (executemany {insert_s:.1f} s, "
            f"{args.rows / insert_s:,.0f} rows/s; FlowCount indexes {index_s:.1f} s); "
            f"CSV {csv_path.stat().st_size / 1e6:,.0f} MB"
        )
        t0 = time.perf_counter()
        written = summaries_rebuild(operation_id=operation.pk)
        rebuild_s = time.perf_counter() - t0
        print(
            f"  summaries_rebuild: {rebuild_s:.1f} s → {written['daily']:,} FlowDaily, "
            f"{written['breakdown']:,} FlowBreakdown, {written['totals']:,} FlowBreakdownTotal rows"
        )
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        if WORKDIR:
            done.write_text(f"{args.rows:,} rows, seed {args.seed}\n")
    if args.cache_mb:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA cache_size=-{args.cache_mb * 1024}")

    print(f"\nDashboard queries on the summary tables (ORM, {args.requests} randomised requests each)")
    print(f"  {'query':36} {'p50 ms':>8} {'p95 ms':>8}")
    for name, p50, p95 in dashboard(operation, ids, corridors, args.requests):
        flag = "" if p95 < 50 else "  (over the 50 ms aim)"
        print(f"  {name:36} {p50:8.1f} {p95:8.1f}{flag}")

    t0 = time.perf_counter()
    built = analytics.mirror_refresh(operation.pk)
    mirror_s = time.perf_counter() - t0
    print(
        f"\nAnalytics mirror: {built['rows']:,} rows in {built['months']} monthly Parquet files, "
        f"{built['bytes'] / 1e6:,.0f} MB, built in {mirror_s:.1f} s ({built['rows'] / mirror_s:,.0f} rows/s)"
    )

    (TMP / "reference.duckdb").unlink(missing_ok=True)
    ddb = duckdb.connect(str(TMP / "reference.duckdb"))
    t0 = time.perf_counter()
    ddb.execute(f"CREATE TABLE flows AS SELECT * FROM read_csv('{csv_path}', header = true)")
    print(f"  reference: DuckDB native table loaded from the CSV in {time.perf_counter() - t0:.1f} s")

    print(f"\nAd-hoc origin–destination query over the raw rows (median of {args.repeat} runs, ms)")
    print(f"  {'question':38} {'od_matrix':>10} {'DuckDB ref':>11} {'ratio':>6} {'SQLite SQL':>11}")
    for label, kw, ref_sql in od_cases(ids):
        mirror = analytics.od_matrix(operation_id=operation.pk, engine="mirror", **kw)
        sql = analytics.od_matrix(operation_id=operation.pk, engine="sql", **kw)
        ref = ddb.execute(ref_sql).fetchall()
        assert mirror == sql, label
        # The CSV's empty cells are NULL in DuckDB, "" in the database.
        assert sorted((o or "", d or "", int(r), int(i)) for o, d, r, i in ref) == sorted(
            (r["origin"], r["destination"], r["records"], r["individuals"]) for r in mirror
        ), label
        t_auto = best_of(lambda kw=kw: analytics.od_matrix(operation_id=operation.pk, **kw), args.repeat)
        t_ref = best_of(lambda q=ref_sql: ddb.execute(q).fetchall(), args.repeat)
        t_sql = best_of(
            lambda kw=kw: analytics.od_matrix(operation_id=operation.pk, engine="sql", **kw),
            max(1, min(args.repeat, 3)),
        )
        print(f"  {label:38} {t_auto:10.1f} {t_ref:11.1f} {t_auto / t_ref:5.1f}× {t_sql:11.1f}")
    ddb.close()
    print(f"\n(temp database {DB}; peak RSS {peak_rss_mb():,.0f} MB)")


if __name__ == "__main__":
    main()
