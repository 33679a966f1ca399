"""Deduplication at scale: 1M synthetic registrations, plain Splink beside Mobility's engine and app path.

Run:  nice .venv/bin/python bench/bench_dedup_scale.py [--rows 1000000] [--seed 0] [--data FILE.parquet]
                                                      [--skip-plain] [--skip-engine] [--skip-app]
                                                      [--new 1000] [--threads N] [--db FILE.sqlite3]

Data: ``bench/dedup_synth.py`` (households; Portuguese/Mozambican and Arabic-origin names, some in
Arabic script; 10 % of rows are injected duplicates with typos, accents dropped, transliterations,
day/month swapped, year-only dates, missing fields), written once to a Parquet file in a throw-away
folder (``--data`` reuses a file; it is generated there when absent). True clusters are known, so
each run prints pairwise precision / recall / F1 of the clusters it made.

What runs, in one process, one after the other, each timed alone with its peak RSS (the high-water
mark is reset through ``/proc/self/clear_refs`` before each step; the issue's limit is 8 GiB):

- **plain Splink** (the reference; DuckDB backend): the data read and cleaned in SQL as a careful
  user would (lower case, accents stripped, empty → NULL, digits of phones, day-precision dates),
  Jaro-Winkler name comparisons with term frequencies, DateOfBirthComparison, exact phone /
  document / locality / sex, six blocking rules, u by random sampling (1e7 pairs, seeded), m by EM
  blocked on the date of birth, then on phone and given name; predict, connected components at 0.9.
- **engine**: ``mobility.registration.dedup.engine`` on the same file: prepare (normalise,
  transliterate), train, predict, cluster — what the file tool and the app call.
- **app**: the same records registered in a throw-away SQLite database (households and
  individuals with encrypted fields, bulk-inserted; not timed), then
  ``dedup_app.dedup_run`` (decrypt in memory → engine → MatchPairs and DedupClusters written) and
  ``dedup_app.dedup_incremental`` for a new batch of ``--new`` registrations scored against the
  stored ones with the saved model (aim < 5 s).
- **new batch (engine)**: ``engine.match_new`` for the same ``--new`` records against the rest.
- **plain Splink again** at the end: the machine is shared, so the reference is taken before and
  after, and the ratios are given against both.

``--db FILE.sqlite3`` keeps the loaded registry (a copy of the SQLite file taken before
``dedup_run``, with its keys beside it as ``FILE.sqlite3.keys/``): the next run with the same
``--db`` (and the same ``--data`` and ``--new``) copies it back instead of loading for ~3 minutes.

The app's incremental step runs twice: right after ``dedup_run`` in the same process (the prepared
registry is kept in memory, only the records changed since are read: what a job worker does after
its first batch) and "cold", after ``dedup_app.registry_forget()`` (every record read and prepared
again: a worker's first batch).

The machine is shared (2 cores, other work running): every line says so, and the load average is
printed beside the figures.
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
TMP = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="mobility-dedup-bench-"))
TMP.mkdir(parents=True, exist_ok=True)
if "BENCH_TMP" not in os.environ:
    atexit.register(shutil.rmtree, TMP, ignore_errors=True)
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = str(TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'bench.sqlite3'}"
os.environ["MOBILITY_PLAIN_STATIC"] = "1"
os.environ.setdefault("SYNC_JOBS", "1")

THRESHOLD = 0.9  # RegistrationPolicy.match_threshold's default
GIB = 1024**3

# --- measuring -------------------------------------------------------------------------------


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss() -> int:
    """Peak resident set size since the last reset, in bytes (VmHWM; ru_maxrss if /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


RESULTS: list[dict] = []


@contextmanager
def step(name: str):
    """Time one step and its peak RSS; the caller may add figures to the yielded dict."""
    _reset_peak()
    out: dict = {"step": name, "load_before": _load()}
    start = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - start
    out["peak_rss"] = _peak_rss()
    out["load_after"] = _load()
    RESULTS.append(out)
    extra = "  ".join(f"{k}={v}" for k, v in out.items() if k in ("pairs", "clusters", "note"))
    print(
        f"  {name:<34} {out['seconds']:8.1f} s   peak RSS {out['peak_rss'] / GIB:5.2f} GiB"
        f"   load {out['load_before']}→{out['load_after']}  {extra}",
        flush=True,
    )


# --- accuracy --------------------------------------------------------------------------------


def cluster_scores(con, truth: str, predicted: str) -> dict:
    """Pairwise precision / recall / F1 of predicted clusters against true ones.

    ``truth``: a relation (unique_id, cluster_id); ``predicted``: (unique_id, cluster_id) for the
    records the run clustered (records missing are singletons). Counted with C(n, 2) sums, never by
    listing pairs.
    """
    row = con.execute(
        f"""
        with t as (select unique_id, cluster_id as tc from {truth}),
             p as (select unique_id, cluster_id as pc from {predicted}),
             j as (select t.unique_id, t.tc, coalesce(p.pc::varchar, 'u' || t.unique_id) as pc
                   from t left join p using (unique_id)),
             both_ as (select count(*) n from j group by tc, pc),
             pred as (select count(*) n from j group by pc),
             tru as (select count(*) n from j group by tc)
        select (select sum(n * (n - 1) / 2) from both_),
               (select sum(n * (n - 1) / 2) from pred),
               (select sum(n * (n - 1) / 2) from tru)
        """
    ).fetchone()
    tp, predicted_pairs, true_pairs = (int(x or 0) for x in row)
    precision = tp / predicted_pairs if predicted_pairs else 0.0
    recall = tp / true_pairs if true_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": true_pairs,
        "found_pairs": predicted_pairs,
    }


def _fmt_scores(s: dict) -> str:
    return f"P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  (pairs: {s['found_pairs']:,} found, {s['true_pairs']:,} true)"


# --- plain Splink ----------------------------------------------------------------------------


def plain_splink(data: Path, threads: int | None) -> dict:
    """The reference: Splink 5 on DuckDB with a careful user's cleaning, settings and training."""
    import duckdb
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    out: dict = {}
    with step("plain Splink: total") as total:
        con = duckdb.connect()
        if threads:
            con.execute(f"set threads = {threads}")
        t = time.perf_counter()
        con.execute(
            f"""
            create table recs as select unique_id,
              nullif(lower(strip_accents(trim(given_name))), '') as given_name,
              nullif(lower(strip_accents(trim(family_name))), '') as family_name,
              nullif(sex, 'u') as sex,
              case when length(date_of_birth) = 10 then date_of_birth end as dob,
              birth_year,
              nullif(upper(regexp_replace(document_number, '[^A-Za-z0-9]', '', 'g')), '') as document_number,
              nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') as phone,
              nullif(location_pcode, '') as location_pcode
            from read_parquet('{data}')
            """
        )
        out["read_clean"] = time.perf_counter() - t
        db_api = DuckDBAPI(con)
        df = db_api.register("recs")
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison("dob", input_is_string=True),
                cl.ExactMatch("sex"),
                cl.ExactMatch("phone"),
                cl.ExactMatch("document_number"),
                cl.ExactMatch("location_pcode"),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("document_number"),
                block_on("phone", "birth_year"),
                block_on("family_name", "dob"),
                block_on("given_name", "dob"),
                block_on("given_name", "family_name", "birth_year"),
                block_on("substr(given_name, 1, 3)", "substr(family_name, 1, 3)", "location_pcode"),
            ],
            retain_intermediate_calculation_columns=False,
            retain_matching_columns=False,
        )
        linker = Linker(df, settings, log_level=None)
        t = time.perf_counter()
        linker.training.estimate_probability_two_random_records_match(
            [block_on("document_number"), block_on("given_name", "family_name", "dob")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        # EM blocked on the date of birth (names, phone, document, place, sex), then on phone and given
        # name (the date of birth). Blocking EM on names instead lets namesakes born the same year
        # pass for matches (the date's m collapses): this is the pair of rules that trains sensibly here.
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("dob"), max_pairs=2e6, estimate_without_term_frequencies=True
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("phone", "given_name"), estimate_without_term_frequencies=True
        )
        out["train"] = time.perf_counter() - t
        t = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        out["predict"] = time.perf_counter() - t
        t = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=THRESHOLD
        )
        out["cluster"] = time.perf_counter() - t
        total["pairs"] = f"{con.execute(f'select count(*) from {predictions.physical_name}').fetchone()[0]:,}"
        con.execute(
            f"create table plain_clusters as select unique_id, cluster_id from {clusters.physical_name}"
        )
    out.update(total)
    con.execute(f"create view truth as select unique_id, cluster_id from read_parquet('{data}')")
    out["scores"] = cluster_scores(con, "truth", "plain_clusters")
    print(
        f"    read+clean {out['read_clean']:.1f} s, train {out['train']:.1f} s, predict {out['predict']:.1f} s,"
        f" cluster {out['cluster']:.1f} s;  {_fmt_scores(out['scores'])}",
        flush=True,
    )
    con.close()
    return out


# --- Mobility's engine ------------------------------------------------------------------------

MAPPING = {
    "given_name": "given_name",
    "family_name": "family_name",
    "date_of_birth": "date_of_birth",
    "sex": "sex",
    "document_number": "document_number",
    "phone": "phone",
    "location": "location_pcode",
}


def _new_ids(data: Path, n: int, seed: int) -> list[int]:
    """The records that play 'new registrations' (a seeded sample), scored against all the others."""
    import duckdb

    total = duckdb.sql(f"select count(*) from read_parquet('{data}')").fetchall()[0][0]
    import random

    return sorted(random.Random(seed).sample(range(total), n))


def engine_run(data: Path, new_ids: list[int]) -> dict:
    """The engine end to end on the file (prepare, train, predict, cluster), then a new batch scored."""
    import duckdb
    import polars as pl

    from mobility.registration.dedup import engine

    out: dict = {}
    stages: dict[str, float] = {}
    clock = [time.perf_counter(), None]

    def progress(stage: str) -> None:
        now = time.perf_counter()
        if clock[1] is not None:
            stages[clock[1]] = stages.get(clock[1], 0) + now - clock[0]
        clock[0], clock[1] = now, stage

    with step("engine: total") as total:
        frame = pl.read_parquet(data, columns=["unique_id", *MAPPING.values()])
        table = engine.prepare(frame, MAPPING, id_column="unique_id", progress=progress)
        del frame
        model = engine.train(table, progress=progress)
        pairs = engine.predict(table, model, threshold=0.5, progress=progress)
        clusters = engine.cluster_frame(table, pairs, THRESHOLD, progress=progress)
        progress("end")
        total["pairs"] = f"{pairs.height:,}"
    out.update(total)
    out["stages"] = stages
    con = duckdb.connect()
    con.register(
        "engine_clusters", clusters.select(pl.col("unique_id").cast(pl.Int64), "cluster_id").to_arrow()
    )
    con.execute(f"create view truth as select unique_id, cluster_id from read_parquet('{data}')")
    out["scores"] = cluster_scores(con, "truth", "engine_clusters")
    print(
        "    " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()) + f";  {_fmt_scores(out['scores'])}",
        flush=True,
    )
    del pairs, clusters

    # (c) a new batch scored against the rest with the saved model: no training, no full run
    is_new = pl.col("unique_id").cast(pl.Int64).is_in(new_ids)
    existing = table.filter(~is_new)
    frame = pl.read_parquet(data, columns=["unique_id", "cluster_id", *MAPPING.values()])
    new_frame = frame.filter(pl.col("unique_id").is_in(new_ids))
    truth_new = new_frame.select("unique_id", "cluster_id")
    truth_all = frame.select("unique_id", "cluster_id")
    del frame
    with step(f"engine: {len(new_ids):,} new vs {existing.height:,}") as batch:
        new_table = engine.prepare(new_frame.drop("cluster_id"), MAPPING, id_column="unique_id")
        new_pairs = engine.match_new(new_table, existing, model, threshold=0.5)
        batch["pairs"] = f"{new_pairs.height:,}"
    out["new_batch"] = batch
    out["new_batch_recall"] = _new_batch_recall(new_pairs, truth_new, truth_all)
    print(
        f"    new records with a true duplicate found at ≥ {THRESHOLD}: {out['new_batch_recall']}", flush=True
    )
    con.close()
    return out


def _new_batch_recall(pairs, truth_new, truth_all) -> str:
    """Of the new records that have a true duplicate anywhere, how many got a pair ≥ THRESHOLD with one."""
    import polars as pl

    new_ids = set(truth_new["unique_id"].to_list())
    label = dict(zip(truth_all["unique_id"].to_list(), truth_all["cluster_id"].to_list(), strict=True))
    sizes = truth_all.group_by("cluster_id").len()
    multi = set(sizes.filter(pl.col("len") > 1)["cluster_id"].to_list())
    having = {i for i in new_ids if label[i] in multi}
    found = set()
    false = 0
    for left, right, p in pairs.select("unique_id_l", "unique_id_r", "match_probability").iter_rows():
        if p < THRESHOLD:
            continue
        left, right = int(left), int(right)
        if label[left] == label[right]:
            found.update(x for x in (left, right) if x in new_ids)
        else:
            false += 1
    return f"{len(found)}/{len(having)} (false pairs ≥ {THRESHOLD}: {false})"


# --- the app path ----------------------------------------------------------------------------


def _django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _load_registry(
    data: Path, operation, skip: set[int] | None = None, only: set[int] | None = None
) -> list[int]:
    """Households, individuals and documents of the file into the database (encrypted), in bulk."""
    import datetime as dt

    import pyarrow.parquet as pq

    from mobility.registration.crypto import keyed_hash
    from mobility.registration.models import Household, IdentityDocument, Individual

    created: list[int] = []
    households: dict[str, int] = {
        ref: pk for ref, pk in Household.objects.filter(operation=operation).values_list("reference", "pk")
    }
    parquet = pq.ParquetFile(data)
    for batch in parquet.iter_batches(batch_size=50_000):
        rows = batch.to_pylist()
        if skip:
            rows = [r for r in rows if r["unique_id"] not in skip]
        if only is not None:
            rows = [r for r in rows if r["unique_id"] in only]
        fresh: dict[str, Household] = {}
        for r in rows:
            if r["household_id"] not in households and r["household_id"] not in fresh:
                fresh[r["household_id"]] = Household(
                    operation=operation,
                    reference=r["household_id"],
                    size=1,
                    location_pcode=r["location_pcode"] or "",
                    phone=r["phone"] or "",
                    phone_hash=keyed_hash(r["phone"], "phone") if r["phone"] else "",
                    registered_on=dt.date(2026, 10, 1),
                )
        for h in Household.objects.bulk_create(list(fresh.values()), batch_size=5000):
            households[h.reference] = h.pk
        people = []
        for r in rows:
            dob = r["date_of_birth"] or ""
            estimated = len(dob) == 4
            people.append(
                Individual(
                    operation=operation,
                    household_id=households[r["household_id"]],
                    reference=r["individual_id"],
                    given_name=r["given_name"] or "",
                    family_name=r["family_name"] or "",
                    name_hash=keyed_hash(f"{r['given_name']} {r['family_name']}", "name"),
                    sex=r["sex"] or "u",
                    date_of_birth=f"{dob}-07-01" if estimated else dob,
                    dob_estimated=estimated,
                    birth_year=r["birth_year"],
                    relationship=r["relationship"],
                )
            )
        made = Individual.objects.bulk_create(people, batch_size=5000)
        documents = [
            IdentityDocument(
                individual_id=person.pk,
                doc_type=r["document_type"],
                number=r["document_number"],
                number_hash=keyed_hash(r["document_number"], f"document:{r['document_type']}"),
            )
            for person, r in zip(made, rows, strict=True)
            if r["document_number"]
        ]
        IdentityDocument.objects.bulk_create(documents, batch_size=5000)
        created += [p.pk for p in made]
    return created


KEY_FILES = ("field_keys", "hash_key", "secret_key")


def _snapshot_restore(snapshot: Path | None) -> bool:
    """Copy a kept registry (``--db``) and its keys into the throw-away folder; False if none."""
    if snapshot is None or not snapshot.exists():
        return False
    keys = Path(f"{snapshot}.keys")
    for name in KEY_FILES:
        if (keys / name).exists():
            shutil.copy2(keys / name, TMP / name)
    shutil.copyfile(snapshot, TMP / "bench.sqlite3")
    return True


def _snapshot_keep(snapshot: Path) -> None:
    """Keep the loaded registry (before dedup_run) and its keys for the next run with ``--db``."""
    from django.db import connection

    connection.close()  # everything committed: the file is complete
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TMP / "bench.sqlite3", snapshot)
    keys = Path(f"{snapshot}.keys")
    keys.mkdir(exist_ok=True)
    for name in KEY_FILES:
        if (TMP / name).exists():
            shutil.copy2(TMP / name, keys / name)


def app_run(data: Path, new_ids: list[int], snapshot: Path | None = None) -> dict:
    """Records in the database → dedup_run (train, score, write pairs and clusters) → dedup_incremental."""
    restored = _snapshot_restore(snapshot)
    _django()
    from mobility.core.models import Operation
    from mobility.core.services import operation_create
    from mobility.registration import dedup_app
    from mobility.registration.models import DedupCluster, MatchPair

    new = set(new_ids)
    name = "Bench — dedup at scale"
    if restored:
        operation = Operation.objects.get(name=name)
        print(f"  registry copied from {snapshot} (not timed)", flush=True)
    else:
        operation = operation_create(name=name, country_iso3="MOZ")
        start = time.perf_counter()
        _load_registry(data, operation, skip=new)
        print(
            f"  loaded the registry into SQLite (not timed): {time.perf_counter() - start:.0f} s", flush=True
        )
        if snapshot is not None:
            _snapshot_keep(snapshot)
    out: dict = {}
    stages: dict[str, float] = {}
    clock = [time.perf_counter(), None]

    def progress(stage: str) -> None:
        now = time.perf_counter()
        if clock[1] is not None:
            stages[clock[1]] = stages.get(clock[1], 0) + now - clock[0]
        clock[0], clock[1] = now, stage

    with step("app: dedup_run") as total:
        result = dedup_app.dedup_run(operation=operation, progress=progress)
        progress("end")
        total["pairs"] = f"{result.pairs_found:,}"
        total["clusters"] = f"{result.clusters:,}"
    out.update(total)
    out["result"] = result.as_dict()
    print(
        f"    records {result.records:,}; stages: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
        + f"; pending {result.pending:,}, auto {result.auto:,}, clusters {result.clusters:,}",
        flush=True,
    )
    out["scores"] = _app_scores(data, operation)
    print(f"    {_fmt_scores(out['scores'])}", flush=True)

    new_pks = _load_registry(data, operation, only=new)
    with step(f"app: dedup_incremental {len(new_pks):,} new") as batch:
        incremental = dedup_app.dedup_incremental(operation=operation, individual_ids=new_pks)
        batch["pairs"] = f"{incremental.pairs_found:,}"
    out["incremental"] = {**batch, "result": incremental.as_dict()}
    print(
        f"    read {incremental.seconds.get('read', 0):.1f} s, score {incremental.seconds.get('score', 0):.1f} s;"
        f" auto {incremental.auto}, pending {incremental.pending}, joined clusters {incremental.clustered_records}",
        flush=True,
    )
    # The same batch again in a process that has not kept the registry (a fresh job worker): it
    # reads and prepares every record once. (The pairs exist now: they are updated, not added.)
    dedup_app.registry_forget()
    with step(f"app: dedup_incremental {len(new_pks):,}, cold") as cold:
        again = dedup_app.dedup_incremental(operation=operation, individual_ids=new_pks)
        cold["pairs"] = f"{again.pairs_found:,}"
    out["incremental_cold"] = cold
    del MatchPair, DedupCluster
    return out


def _app_scores(data: Path, operation) -> dict:
    import duckdb
    import polars as pl

    from mobility.registration.models import Individual

    rows = Individual.objects.filter(operation=operation).values_list("reference", "cluster_id")
    frame = pl.DataFrame(list(rows), schema=["individual_id", "cluster"], orient="row")
    con = duckdb.connect()
    con.register("app_rows", frame.to_arrow())
    con.execute(
        f"""create view truth as select unique_id, cluster_id from read_parquet('{data}')
            where individual_id in (select individual_id from app_rows)"""
    )
    con.execute(
        f"""create view predicted as select t.unique_id, a.cluster as cluster_id
            from read_parquet('{data}') t join app_rows a using (individual_id) where a.cluster is not null"""
    )
    return cluster_scores(con, "truth", "predicted")


# --- main ------------------------------------------------------------------------------------


def _data(path: Path | None, rows: int, seed: int) -> Path:
    import dedup_synth

    path = path or TMP / f"synth_{rows}_{seed}.parquet"
    if not path.exists():
        start = time.perf_counter()
        dedup_synth.write(path, rows, seed)
        print(f"  generated {rows:,} rows → {path} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="a dedup_synth Parquet file (made if absent)")
    parser.add_argument("--new", type=int, default=1000, help="records in the new batch scored incrementally")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-app", action="store_true")
    parser.add_argument(
        "--db", type=Path, default=None, help="keep the loaded SQLite registry here and reuse it next time"
    )
    args = parser.parse_args(argv)
    print(
        f"Deduplication at scale — {args.rows:,} registrations, seed {args.seed}; "
        f"{os.cpu_count()} cores SHARED with other work (load average {_load()}), figures are upper bounds",
        flush=True,
    )
    data = _data(args.data, args.rows, args.seed)
    runs: dict[str, dict] = {}
    if not args.skip_plain:
        print("plain Splink (reference):", flush=True)
        runs["plain"] = plain_splink(data, args.threads)
    new_ids = _new_ids(data, args.new, args.seed)
    if not args.skip_engine:
        print("Mobility engine (file → clusters; then a new batch with the saved model):", flush=True)
        runs["engine"] = engine_run(data, new_ids)
    if not args.skip_app:
        print("Mobility app path (SQLite registry → dedup_run → dedup_incremental):", flush=True)
        runs["app"] = app_run(data, new_ids, args.db)
    if not args.skip_plain and len(runs) > 1:
        # the machine is shared: a second reference after the others shows how much the load moved
        print("plain Splink again (the reference, after the others):", flush=True)
        runs["plain_after"] = plain_splink(data, args.threads)
    _summary(runs)


def _summary(runs: dict) -> None:
    print("\nsummary (the machine is shared: see the load beside each step):")
    for name, r in runs.items():
        print(
            f"  {name:<12} {r['seconds']:7.1f} s  peak RSS {r['peak_rss'] / GIB:5.2f} GiB  "
            f"load {r['load_before']}→{r['load_after']}  {_fmt_scores(r['scores'])}"
        )
    references = [runs[k]["seconds"] for k in ("plain", "plain_after") if k in runs]
    if references:
        low, high = min(references), max(references)
        for name in ("engine", "app"):
            if name in runs:
                seconds = runs[name]["seconds"]
                print(
                    f"  {name} / plain Splink: {seconds / high:.2f}x–{seconds / low:.2f}x "
                    f"(against the slower and the faster reference run; aim ≤ 1.5x)"
                )
    if "engine" in runs:
        b = runs["engine"]["new_batch"]
        print(f"  engine new batch: {b['seconds']:.2f} s, peak RSS {b['peak_rss'] / GIB:.2f} GiB (aim < 5 s)")
    if "app" in runs:
        b = runs["app"]["incremental"]
        print(f"  app incremental:  {b['seconds']:.2f} s, peak RSS {b['peak_rss'] / GIB:.2f} GiB (aim < 5 s)")


if __name__ == "__main__":
    main()
