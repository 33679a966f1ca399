"""Deduplication accuracy on FEBRL 1, 2 and 3: Mobility's engine beside plain Splink and recordlinkage.

Run:  nice .venv/bin/python bench/bench_dedup_accuracy.py [--sets febrl1,febrl2,febrl3] [--data DIR]

Each method reads the same file (values trimmed, blanks as missing) and is scored the same way:

- engine: `mobility.registration.dedup.engine` (the code the app and `mobility registration dedup`
  run) with its own training and its default threshold (engine.DEFAULT_THRESHOLD).
- splink: plain Splink 5 on DuckDB with the settings of Splink's own FEBRL3 example (name, date of
  birth, soc_sec_id, street number and postcode comparisons; blocking on each of soc_sec_id,
  given_name, surname, date_of_birth, postcode; prior from deterministic rules at recall 0.9;
  u by random sampling; m by EM on date of birth then postcode), clustered at the same threshold.
- recordlinkage: the same five blocks, nine features (Jaro-Winkler >= 0.85 on the names,
  Levenshtein >= 0.85 on date of birth, soc_sec_id and address_1, exact street number, suburb,
  postcode, state) and the unsupervised ECM classifier (Fellegi-Sunter by EM, as Splink).

Pairs: every pair inside a predicted cluster (connected components of the links) against the
true links. Recall lost is split into true pairs that blocking never proposed ("blocking") and
true pairs proposed but left apart by the model or threshold ("model"). A perfect row reads
P = R = F1 = 1 with nothing lost.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from mobility.registration.dedup import engine  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "linkage"
SETS = ("febrl1", "febrl2", "febrl3")
THRESHOLD = engine.DEFAULT_THRESHOLD

# How FEBRL's columns map onto the engine's fields (address = number, street and building).
FEBRL_MAPPING = {
    "given_name": "given_name",
    "family_name": "surname",
    "date_of_birth": "date_of_birth",
    "document_number": "soc_sec_id",
    "address": "address",
    "postcode": "postcode",
    "locality": "suburb",
    "location": "state",
}


def febrl_read(path: Path) -> pl.DataFrame:
    """A FEBRL file as text columns: names trimmed, values trimmed, blanks as null, an address column."""
    raw = pl.read_csv(path, infer_schema=False)
    raw = raw.rename({c: c.strip() for c in raw.columns})
    raw = raw.with_columns(pl.all().str.strip_chars()).with_columns(
        pl.when(pl.all().str.len_chars() > 0).then(pl.all()).otherwise(None).name.keep()
    )
    return raw.with_columns(
        pl.concat_str(["street_number", "address_1", "address_2"], separator=" ", ignore_nulls=True).alias(
            "address"
        )
    )


def febrl_truth(path: Path) -> set[tuple[str, str]]:
    links = pl.read_csv(path, infer_schema=False)
    return {_pair(a.strip(), b.strip()) for a, b in zip(links["rec_id_1"], links["rec_id_2"], strict=True)}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def cluster_pairs(ids: list[str], links) -> set[tuple[str, str]]:
    """Every pair inside the connected components of `links` (union-find)."""
    parent = {i: i for i in ids}

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    out = set()
    for members in groups.values():
        members.sort()
        out |= {(a, b) for n, a in enumerate(members) for b in members[n + 1 :]}
    return out


def scores(predicted: set, candidates: set, truth: set) -> dict:
    """Pairwise precision, recall, F1, and the true pairs lost to blocking and to the model."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = truth - predicted
    lost_blocking = len(missed - candidates)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs": len(predicted),
        "true": len(truth),
        "lost_blocking": lost_blocking,
        "lost_model": len(missed) - lost_blocking,
    }


# --- the three methods ---------------------------------------------------------------------------------


def run_engine(raw: pl.DataFrame, threshold: float = THRESHOLD):
    table = engine.prepare(raw, FEBRL_MAPPING, id_column="rec_id")
    model = engine.train(table)
    scored = engine.predict(table, model, threshold=None)
    links = scored.filter(pl.col("match_probability") >= threshold)
    candidates = {_pair(a, b) for a, b in zip(scored["unique_id_l"], scored["unique_id_r"], strict=True)}
    return list(zip(links["unique_id_l"], links["unique_id_r"], strict=True)), candidates


def run_splink(raw: pl.DataFrame, threshold: float = THRESHOLD):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    blocking = [
        block_on("soc_sec_id"),
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
    )
    api = DuckDBAPI()
    linker = Linker(api.register(raw.drop("address").to_arrow()), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
        ],
        recall=0.9,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    scored = linker.inference.predict(warning_mode="never")
    rows = api.duckdb_con.sql(
        f"select rec_id_l, rec_id_r, match_probability from {scored.physical_name}"  # noqa: S608
    ).fetchall()
    candidates = {_pair(a, b) for a, b, _p in rows}
    return [(a, b) for a, b, p in rows if p >= threshold], candidates


def run_recordlinkage(raw: pl.DataFrame, threshold: float = THRESHOLD):
    import recordlinkage

    frame = raw.drop("address").to_pandas().set_index("rec_id")
    index = recordlinkage.Index()
    for column in ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode"):
        index.block(column)
    candidates_index = index.index(frame)
    compare = recordlinkage.Compare(n_jobs=1)
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.string("date_of_birth", "date_of_birth", method="levenshtein", threshold=0.85, label="dob")
    compare.string("soc_sec_id", "soc_sec_id", method="levenshtein", threshold=0.85, label="soc_sec_id")
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85, label="address_1")
    for column in ("street_number", "suburb", "postcode", "state"):
        compare.exact(column, column, label=column)
    features = compare.compute(candidates_index, frame)
    links = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    candidates = {_pair(a, b) for a, b in candidates_index}
    return list(links), candidates


METHODS = {"engine": run_engine, "splink": run_splink, "recordlinkage": run_recordlinkage}


def evaluate(name: str, data: Path = DATA, methods=METHODS, threshold: float = THRESHOLD) -> list[dict]:
    """Scores of each method on one FEBRL set."""
    raw = febrl_read(data / f"{name}.csv")
    truth = febrl_truth(data / f"{name}_true_links.csv")
    ids = raw["rec_id"].to_list()
    rows = []
    for method, run in methods.items():
        start = time.perf_counter()
        links, candidates = run(raw, threshold)
        predicted = cluster_pairs(ids, links)
        seconds = time.perf_counter() - start
        rows.append(
            {"set": name, "method": method, **scores(predicted, candidates, truth), "seconds": seconds}
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args()
    data = Path(args.data)
    header = (
        f"{'set':8} {'method':14} {'precision':>9} {'recall':>7} {'F1':>7} {'pairs':>6} {'true':>6} "
        f"{'lost: blocking':>15} {'model':>6} {'seconds':>8}"
    )
    print(f"threshold {args.threshold} (engine default {engine.DEFAULT_THRESHOLD})")
    print(header)
    for name in args.sets.split(","):
        for r in evaluate(name.strip(), data, threshold=args.threshold):
            print(
                f"{r['set']:8} {r['method']:14} {r['precision']:9.4f} {r['recall']:7.4f} {r['f1']:7.4f} "
                f"{r['pairs']:6d} {r['true']:6d} {r['lost_blocking']:15d} {r['lost_model']:6d} {r['seconds']:8.1f}"
            )


if __name__ == "__main__":
    main()
