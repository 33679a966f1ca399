"""The deduplication engine: Splink on DuckDB (default) or Spark, with Mobility's normalisation and settings.

No Django here: the app (`registration.dedup_app`), the file tool (`mobility registration dedup`) and
the benchmarks (`bench/bench_dedup_accuracy.py`) call exactly these functions.

    table = prepare(frame, {"given_name": "first", "family_name": "last", "date_of_birth": "dob"},
                    id_column="id")
    model = train(table)                                  # JSON-able dict: keep it to score later
    pairs = predict(table, model, threshold=0.5)          # scored pairs, no personal values
    clusters = cluster(table, pairs, threshold=DEFAULT_THRESHOLD)   # {unique_id: cluster_id}
    new_pairs = match_new(new_table, table, model, threshold=0.5)   # a new batch, no retraining
    explain(pairs.row(0, named=True), model)              # {comparison: {level, weight, agrees}}

The prepared table has one row per record: `unique_id` (text) and the derived, normalised columns
of `PREPARED_COLUMNS` (null when not mapped or unreadable). Only the backend-specific part (how
a table is registered and read back) differs between DuckDB and Spark: see `Backend`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl

from . import normalise
from .settings import FIELDS, BlockingPlan, blocking_for, settings_for  # noqa: F401 - part of the API

# --- the public vocabulary --------------------------------------------------------------------------

# FIELDS (what a caller can map) come from .settings, as do settings_for() and blocking_for().
NAME_FIELDS = ("given_name", "family_name")

# Columns of a prepared table (besides unique_id). Derived from the mapped fields.
PREPARED_COLUMNS = {
    "given_name": pl.Utf8,  # name_clean()
    "family_name": pl.Utf8,
    "given_key": pl.Utf8,  # name_key(): transliterated consonant skeleton
    "family_key": pl.Utf8,
    "dob": pl.Utf8,  # YYYY-MM-DD
    "dob_swapped": pl.Utf8,  # YYYY-DD-MM when that differs and is a date
    "birth_year": pl.Int32,
    "dob_days": pl.Int32,  # days since 1970-01-01
    "sex": pl.Utf8,  # "f" / "m"
    "document": pl.Utf8,
    "phone": pl.Utf8,  # last 9 digits
    "email": pl.Utf8,  # lower case
    "address": pl.Utf8,
    "postcode": pl.Utf8,
    "locality": pl.Utf8,
    "location": pl.Utf8,
}
# The derived columns each field feeds (a field is "present" when one of them has a value).
FIELD_COLUMNS = {
    "given_name": ("given_name", "given_key"),
    "family_name": ("family_name", "family_key"),
    "date_of_birth": ("dob", "dob_swapped", "birth_year", "dob_days"),
    "birth_year": ("birth_year",),
    "sex": ("sex",),
    "document_number": ("document",),
    "phone": ("phone",),
    "email": ("email",),
    "address": ("address",),
    "postcode": ("postcode",),
    "locality": ("locality",),
    "location": ("location",),
}

DEFAULT_THRESHOLD = 0.9  # a pair at or above this probability is the same person
REVIEW_THRESHOLD = 0.5  # the app's review band starts here (RegistrationPolicy may override both)

# Stages reported to the progress callback, in order (a call reports the stages it runs).
STAGE_PREPARE = "prepare"
STAGE_PRIOR = "train: share of duplicates"
STAGE_U = "train: u by random sampling"
STAGE_M = "train: m by expectation maximisation"
STAGE_PREDICT = "score pairs"
STAGE_CLUSTER = "cluster"
STAGES = (STAGE_PREPARE, STAGE_PRIOR, STAGE_U, STAGE_M, STAGE_PREDICT, STAGE_CLUSTER)

Progress = Callable[[str], None]  # called with a stage name when the stage starts

# Error messages (they never quote a value from the data).
FIELD_UNKNOWN = "Unknown field {field!r}; the fields are: {fields}."
COLUMN_MISSING = "Column {column!r} (mapped to {field}) is not in the file; its columns are: {columns}."
ID_COLUMN_MISSING = "The id column {column!r} is not in the file; its columns are: {columns}."
ID_EMPTY = "Row {row}: the id column {column!r} is empty."
ID_REPEATED = "{count} ids appear on more than one row (first at row {row}); ids must be unique."
NO_NAME = "Map given_name or family_name: deduplication compares names."
MODEL_BACKEND = "This model was trained on {trained}; score with the same backend (not {backend})."

SPARK_MISSING = "pyspark is not installed: pip install pyspark to use the Spark backend."

log = logging.getLogger(__name__)


class DedupInputError(ValueError):
    """The frame or mapping cannot be deduplicated (a missing column, an empty or repeated id...)."""


# --- backends -----------------------------------------------------------------------------------------


class Backend:
    """Where Splink runs. The only backend-specific code: a database API, registering and reading tables."""

    name = "duckdb"

    def api(self):
        """A fresh Splink database API."""
        from splink import DuckDBAPI

        return DuckDBAPI()

    def register(self, api, table: pl.DataFrame):
        """Register a polars table with the API; returns the SplinkDataFrame."""
        return api.register(table.to_arrow())

    def to_polars(self, api, sdf, columns: list[str] | None = None) -> pl.DataFrame:
        """A SplinkDataFrame (optionally some of its columns) as polars."""
        selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return api.duckdb_con.sql(f"select {selected} from {sdf.physical_name}").pl()  # noqa: S608


class SparkBackend(Backend):
    """Splink's Spark backend (local mode or a cluster); needs pyspark and a SparkSession."""

    name = "spark"

    def __init__(self, spark=None):
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise DedupInputError(SPARK_MISSING) from exc
        import tempfile

        logging.getLogger("py4j").setLevel(logging.WARNING)  # its INFO lines would mix with the progress bar
        # Tables are handed to Spark as parquet (and Splink checkpoints there): removed with the backend.
        self._folder = tempfile.TemporaryDirectory(prefix="mobility-dedup-spark-")
        self._files = 0
        if spark is None:
            # Our own local session, with Splink's similarity functions (Jaro-Winkler, Damerau-Levenshtein).
            from splink.backends.spark import similarity_jar_location

            spark = (
                SparkSession.builder.appName("mobility-dedup")
                .config("spark.jars", similarity_jar_location())
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .getOrCreate()
            )
            spark.sparkContext.setLogLevel("ERROR")
            spark.sparkContext.setCheckpointDir(f"{self._folder.name}/checkpoints")
        self.spark = spark

    def api(self):
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=self.spark)

    def register(self, api, table: pl.DataFrame):
        # Through parquet: the schema (all-null columns included) and the scale are kept, and
        # Spark reads it in parallel.
        self._files += 1
        path = f"{self._folder.name}/table_{self._files}.parquet"
        table.write_parquet(path)
        return api.register(self.spark.read.parquet(path))

    def to_polars(self, api, sdf, columns: list[str] | None = None) -> pl.DataFrame:
        frame = sdf.as_spark_dataframe()
        if columns:
            frame = frame.select(*columns)
        return pl.from_pandas(frame.toPandas())


def backend_get(name: str = "duckdb", **options) -> Backend:
    """The backend called `name` ("duckdb" or "spark"; Spark takes an optional `spark` session)."""
    if name == "spark":
        return SparkBackend(**options)
    return Backend()


DUCKDB = Backend()


def _notify(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)


# --- prepare ------------------------------------------------------------------------------------------


def _as_polars(frame) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    try:
        import pyarrow as pa

        if isinstance(frame, pa.Table):
            return pl.from_arrow(frame)
    except ImportError:  # pragma: no cover
        pass
    return pl.from_pandas(frame) if hasattr(frame, "to_numpy") else pl.DataFrame(frame)


def _map_unique(series: pl.Series, function: Callable[[str], Any], dtype) -> pl.Series:
    """Apply a Python function once per distinct value (names and dates repeat a lot)."""
    text = series.cast(pl.Utf8, strict=False)
    distinct = text.drop_nulls().unique()
    mapped = pl.Series([function(v) for v in distinct.to_list()], dtype=dtype)
    lookup = dict(zip(distinct.to_list(), mapped.to_list(), strict=True))
    return text.replace_strict(lookup, default=None, return_dtype=dtype)


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_chars() > 0).then(expr).otherwise(None)


_ASCII = r"^[\x00-\x7F]*$"
_ARABIC_INDIC = {chr(0x0660 + d): str(d) for d in range(10)} | {chr(0x06F0 + d): str(d) for d in range(10)}


def _text_column(series: pl.Series, function: Callable[[str], str], ascii_expr: Callable[[pl.Expr], pl.Expr]):
    """Vectorised cleaning for ASCII values, the Python function for the others (mostly-unique columns)."""
    frame = pl.DataFrame({"v": series.cast(pl.Utf8, strict=False)})
    is_ascii = pl.col("v").str.contains(_ASCII)
    others = frame.filter(~is_ascii & pl.col("v").is_not_null())["v"]
    lookup = {v: function(v) for v in others.unique().to_list()}
    out = frame.select(
        pl.when(is_ascii)
        .then(ascii_expr(pl.col("v")))
        .otherwise(pl.col("v").replace_strict(lookup, default=None, return_dtype=pl.Utf8))
        .alias("v")
    )["v"]
    return out


def _ascii_text(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.to_lowercase().str.replace_all("'", "").str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    )


def _ascii_code(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def _phone_column(series: pl.Series) -> pl.Series:
    digits = (
        pl.col("v").cast(pl.Utf8, strict=False).str.replace_many(_ARABIC_INDIC).str.replace_all(r"[^0-9]", "")
    )
    frame = pl.DataFrame({"v": series}).select(digits.alias("d"))
    key = (
        pl.when(pl.col("d").str.len_chars() > normalise.PHONE_KEY_DIGITS)
        .then(pl.col("d").str.slice(-normalise.PHONE_KEY_DIGITS))
        .otherwise(pl.col("d").str.strip_chars_start("0"))
    )
    out = frame.select(key.alias("k"))
    return out.select(
        pl.when(pl.col("k").str.len_chars() >= normalise.PHONE_MIN_DIGITS).then(pl.col("k")).otherwise(None)
    )["k"]


def prepare(
    frame,
    mapping: Mapping[str, str],
    *,
    id_column: str = "unique_id",
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Normalise a frame of records into the table the engine compares.

    `frame` is a polars (or pandas, pyarrow) table; `mapping` maps FIELDS to its column names
    (e.g. {"given_name": "first_name", "date_of_birth": "dob"}); `id_column` names the record id,
    returned as text in `unique_id`. Returns a polars table with `unique_id` and every column of
    PREPARED_COLUMNS (null where a field is not mapped or a value is unreadable), in input order.

    Raises DedupInputError (messages name columns and rows, never values) for an unknown field,
    a column missing from the frame, an empty or repeated id, or no name field mapped.
    """
    _notify(progress, STAGE_PREPARE)
    data = _as_polars(frame)
    columns = list(data.columns)
    for field, column in mapping.items():
        if field not in FIELDS:
            raise DedupInputError(FIELD_UNKNOWN.format(field=field, fields=", ".join(FIELDS)))
        if column not in columns:
            raise DedupInputError(
                COLUMN_MISSING.format(column=column, field=field, columns=", ".join(columns))
            )
    if id_column not in columns:
        raise DedupInputError(ID_COLUMN_MISSING.format(column=id_column, columns=", ".join(columns)))
    if not any(f in mapping for f in NAME_FIELDS):
        raise DedupInputError(NO_NAME)

    ids = data[id_column].cast(pl.Utf8, strict=False).str.strip_chars()
    empty = (ids.is_null() | (ids == "")).arg_true()
    if len(empty):
        raise DedupInputError(ID_EMPTY.format(row=int(empty[0]) + 2, column=id_column))
    repeated = ids.is_duplicated()
    if repeated.any():
        first = int(repeated.arg_true()[0])
        count = ids.filter(repeated).n_unique()
        raise DedupInputError(ID_REPEATED.format(count=count, row=first + 2))

    n = data.height
    out: dict[str, pl.Series] = {"unique_id": ids}

    def column(field: str) -> pl.Series | None:
        return data[mapping[field]] if field in mapping else None

    for field, clean, key in (
        ("given_name", "given_name", "given_key"),
        ("family_name", "family_name", "family_key"),
    ):
        source = column(field)
        if source is None:
            out[clean] = pl.Series(clean, [None] * n, dtype=pl.Utf8)
            out[key] = pl.Series(key, [None] * n, dtype=pl.Utf8)
            continue
        out[clean] = _map_unique(source, normalise.name_clean, pl.Utf8)
        out[key] = _map_unique(source, normalise.name_key, pl.Utf8)

    dob_source = column("date_of_birth")
    if dob_source is not None:
        parsed = _map_unique(
            dob_source,
            lambda v: _dob_struct(normalise.dob_parse(v)),
            pl.Struct({"iso": pl.Utf8, "swapped": pl.Utf8, "year": pl.Int32, "days": pl.Int32}),
        )
        out["dob"] = parsed.struct.field("iso")
        out["dob_swapped"] = parsed.struct.field("swapped")
        out["birth_year"] = parsed.struct.field("year")
        out["dob_days"] = parsed.struct.field("days")
    else:
        for name in ("dob", "dob_swapped", "birth_year", "dob_days"):
            out[name] = pl.Series(name, [None] * n, dtype=PREPARED_COLUMNS[name])
    year_source = column("birth_year")
    if year_source is not None:
        years = year_source.cast(pl.Utf8, strict=False).str.extract(r"(\d{4})").cast(pl.Int32, strict=False)
        years = years.set(~years.is_between(normalise.YEAR_MIN, normalise.YEAR_MAX), None)
        out["birth_year"] = out["birth_year"].fill_null(years)

    sex = column("sex")
    out["sex"] = _map_unique(sex, normalise.sex_clean, pl.Utf8) if sex is not None else None
    document = column("document_number")
    out["document"] = (
        _text_column(document, normalise.code_clean, _ascii_code) if document is not None else None
    )
    phone = column("phone")
    out["phone"] = _phone_column(phone) if phone is not None else None
    email = column("email")
    out["email"] = (
        email.cast(pl.Utf8, strict=False).str.strip_chars().str.to_lowercase() if email is not None else None
    )
    for field in ("address", "locality"):
        source = column(field)
        out[field] = _text_column(source, normalise.text_clean, _ascii_text) if source is not None else None
    for field in ("postcode", "location"):
        source = column(field)
        out[field] = _text_column(source, normalise.code_clean, _ascii_code) if source is not None else None

    table = pl.DataFrame(
        {
            name: (
                pl.Series(name, [None] * n, dtype=PREPARED_COLUMNS.get(name, pl.Utf8))
                if series is None
                else series.alias(name)
            )
            for name, series in out.items()
        }
    )
    text = [c for c, d in PREPARED_COLUMNS.items() if d == pl.Utf8]
    table = table.with_columns([_blank_to_null(pl.col(c)).alias(c) for c in text])
    return table.select(["unique_id", *PREPARED_COLUMNS]).cast({c: d for c, d in PREPARED_COLUMNS.items()})


def _dob_struct(dob: normalise.Dob) -> dict:
    return {"iso": dob.iso, "swapped": dob.swapped, "year": dob.year, "days": dob.days}


def present_fields(table: pl.DataFrame) -> list[str]:
    """The FIELDS with at least one value in a prepared table (the ones the model will compare)."""
    counts = table.select(pl.col(c).is_not_null().sum() for c in PREPARED_COLUMNS).row(0, named=True)
    fields = [f for f in FIELDS if any(counts[c] for c in FIELD_COLUMNS[f])]
    if "birth_year" in fields and "date_of_birth" not in fields:
        fields.append("date_of_birth")
    return [f for f in fields if f != "birth_year"]


# --- train, predict, cluster, match ------------------------------------------------------------------

U_MAX_PAIRS = 2_000_000
PRIOR_RECALL = 0.8  # share of duplicates the deterministic rules are assumed to find
PRIOR_DEFAULT = 0.0001
PRIOR_MIN_RECORDS = 10
U_MIN_RECORDS = 500  # below this, duplicates weigh on random pairs: keep the starting u values
TF_MIN_RECORDS = 1000  # below this, every value looks common: no term-frequency adjustment
EM_MIN_RECORDS = 1000  # below this, EM has too few pairs: keep the starting m values
EM_MAX_PAIRS = 1_000_000  # EM samples records so that a session compares about this many pairs
SEED = 7


def _linker(backend: Backend, table: pl.DataFrame, settings):
    from splink import Linker

    api = backend.api()
    sdf = backend.register(api, table)
    return Linker(sdf, settings, log_level=None), api, sdf


def _quiet_splink():
    # Splink warns about levels never seen in training and sampling details: not for officers.
    logging.getLogger("splink").setLevel(logging.ERROR)


def train(
    table: pl.DataFrame,
    *,
    fields: Iterable[str] | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> dict:
    """Estimate a model on a prepared table; returns it as a JSON-able dict (Splink's model JSON).

    The share of duplicates from deterministic rules (same name keys and date of birth, or same
    document), u by random sampling, m by EM over two blocking rules (date of birth, then the
    document or, without documents, the name keys: settings.blocking_for), each session fixing the
    comparisons it blocks on. `fields` defaults to the fields present.
    Small lists keep the starting values: u below U_MIN_RECORDS records, m below EM_MIN_RECORDS,
    and no term-frequency adjustment below TF_MIN_RECORDS.
    """
    from splink.internals.exceptions import SplinkException

    backend = backend or DUCKDB
    _quiet_splink()
    fields = list(fields) if fields is not None else present_fields(table)
    settings = settings_for(fields, term_frequencies=table.height >= TF_MIN_RECORDS)
    linker, _api, _sdf = _linker(backend, table, settings)
    plan = blocking_for(fields)
    start = linker.misc.save_model_to_json()
    _notify(progress, STAGE_PRIOR)
    if table.height >= PRIOR_MIN_RECORDS:
        try:
            linker.training.estimate_probability_two_random_records_match(plan.prior, recall=PRIOR_RECALL)
        except (ValueError, SplinkException):
            log.info("dedup: share of duplicates kept at its starting value")
        trained = linker._settings_obj._probability_two_random_records_match
        if not trained or trained <= 0:
            linker._settings_obj._probability_two_random_records_match = PRIOR_DEFAULT
    _notify(progress, STAGE_U)
    if table.height >= U_MIN_RECORDS:
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    _notify(progress, STAGE_M)
    if table.height >= EM_MIN_RECORDS:
        for rule in plan.train:
            # Splink's session drops the blocked comparisons from the linker's own settings and
            # only puts them back when it succeeds: keep a copy to restore after a failure.
            before = linker._settings_obj.core_model_settings.copy()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=EM_MAX_PAIRS, estimate_without_term_frequencies=True
                )
            except (SplinkException, ValueError):  # no pairs, all comparisons fixed, or degenerate
                linker._settings_obj.core_model_settings = before
                log.info("dedup: an EM session was skipped")
    return _guard_collapsed(linker.misc.save_model_to_json(), start)


def _non_null_levels(comparison: dict) -> list[dict]:
    return [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]


def _guard_collapsed(model: dict, start: dict) -> dict:
    """Put back the starting m values of a comparison that EM turned upside down.

    With few true duplicates, EM can take the commonest similar pairs (relatives sharing a family
    name and a phone) for the matches, and learn that matches mostly *disagree* on date of birth or
    phone. A comparison whose trained m puts more weight on "different" (its last level) than on
    "same" (its first), where the starting values said the opposite, is reset to those values;
    its u values (from random sampling) stay.
    """
    starting = {c["output_column_name"]: _non_null_levels(c) for c in start["comparisons"]}
    for comparison in model["comparisons"]:
        levels, initial = _non_null_levels(comparison), starting.get(comparison["output_column_name"])
        if not levels or not initial or len(initial) != len(levels):
            continue
        m = [level.get("m_probability") or 0.0 for level in levels]
        m0 = [level.get("m_probability") or 0.0 for level in initial]
        if m0[0] > m0[-1] and m[0] < m[-1]:
            for level, first in zip(levels, initial, strict=True):
                level["m_probability"] = first.get("m_probability")
            log.info(
                "dedup: m of %s reset to its starting values (EM collapsed)", comparison["output_column_name"]
            )
    return model


def _pair_columns(columns: list[str]) -> list[str]:
    keep = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    keep += [c for c in columns if c.startswith(("gamma_", "mw_"))]
    return keep


def _to_pairs(backend: Backend, api, sdf) -> pl.DataFrame:
    columns = [c.unquote().name for c in sdf.columns]
    pairs = backend.to_polars(api, sdf, _pair_columns(columns))
    return pairs.with_columns(pl.col("unique_id_l").cast(pl.Utf8), pl.col("unique_id_r").cast(pl.Utf8))


def predict(
    table: pl.DataFrame,
    model: dict,
    threshold: float | None = REVIEW_THRESHOLD,
    *,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Score every candidate pair of a prepared table with a model; keep those at or above `threshold`
    (None keeps every pair the blocking rules propose).

    Returns polars with unique_id_l, unique_id_r (text, left < right), match_probability,
    match_weight, and per comparison gamma_<name> (the level: -1 missing, 0 else, higher is closer),
    mw_<name> (its match weight, log2 of the Bayes factor) and mw_tf_adj_<name> (the term-frequency
    adjustment to add) where term frequencies apply. No personal values.
    """
    backend = backend or DUCKDB
    _quiet_splink()
    _check_backend(model, backend)
    linker, api, _sdf = _linker(backend, table, model)
    _notify(progress, STAGE_PREDICT)
    scored = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    return _to_pairs(backend, api, scored)


def _check_backend(model: dict, backend: Backend) -> None:
    trained = model.get("sql_dialect")
    if trained and trained != backend.name:
        raise DedupInputError(MODEL_BACKEND.format(trained=trained, backend=backend.name))


def cluster(
    table: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Connected components of the pairs at or above `threshold`: {unique_id: cluster_id} for every record.

    A cluster's id is the smallest unique_id in it (text order); a record with no pair is its own
    cluster. Stable ids across runs are the app's business (registration.dedup_app).
    """
    frame = cluster_frame(table, pairs, threshold, progress=progress)
    return dict(zip(frame["unique_id"].to_list(), frame["cluster_id"].to_list(), strict=True))


def cluster_frame(
    table: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Like cluster(), as polars: unique_id, cluster_id, match_probability_to_cluster (best pair inside
    its cluster; null for a record alone), in the table's order."""
    _notify(progress, STAGE_CLUSTER)
    nodes = table.select(pl.col("unique_id").cast(pl.Utf8))
    edges = pairs.select(
        pl.col("unique_id_l").cast(pl.Utf8), pl.col("unique_id_r").cast(pl.Utf8), pl.col("match_probability")
    ).filter(pl.col("match_probability") >= threshold)
    clusters = connected_components(nodes["unique_id"], edges)
    # every pair at or above the threshold joins two records of one cluster
    best = (
        pl.concat(
            [
                edges.select(pl.col("unique_id_l").alias("unique_id"), "match_probability"),
                edges.select(pl.col("unique_id_r").alias("unique_id"), "match_probability"),
            ]
        )
        .group_by("unique_id")
        .agg(pl.col("match_probability").max().alias("match_probability_to_cluster"))
    )
    return (
        nodes.join(clusters, on="unique_id", how="left", maintain_order="left")
        .with_columns(pl.col("cluster_id").fill_null(pl.col("unique_id")))
        .join(best, on="unique_id", how="left", maintain_order="left")
    )


def connected_components(ids: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """unique_id → cluster_id (the smallest id of its component) by min-label propagation in polars.

    Each round gives every record the smallest label among itself and its neighbours; rounds stop
    when nothing changes (about log2 of the longest chain, a handful for duplicate clusters).
    """
    labels = pl.DataFrame({"unique_id": ids.cast(pl.Utf8)}).with_columns(
        pl.col("unique_id").alias("cluster_id")
    )
    if edges.height == 0:
        return labels
    both = pl.concat(
        [
            edges.select(pl.col("unique_id_l").alias("a"), pl.col("unique_id_r").alias("b")),
            edges.select(pl.col("unique_id_r").alias("a"), pl.col("unique_id_l").alias("b")),
        ]
    )
    linked = labels.filter(pl.col("unique_id").is_in(both["a"].unique().implode()))
    while True:
        # pointer jumping: take the neighbours' labels, then the label of one's label
        neighbour = (
            both.join(linked.rename({"unique_id": "b", "cluster_id": "label"}), on="b")
            .group_by("a")
            .agg(pl.col("label").min())
            .rename({"a": "unique_id"})
        )
        step = (
            linked.join(neighbour, on="unique_id", how="left")
            .with_columns(pl.min_horizontal("cluster_id", "label").alias("cluster_id"))
            .drop("label")
        )
        jumped = step.join(
            step.rename({"unique_id": "cluster_id", "cluster_id": "root"}), on="cluster_id", how="left"
        )
        jumped = jumped.with_columns(pl.min_horizontal("cluster_id", "root").alias("cluster_id")).drop("root")
        if jumped.join(linked, on=["unique_id", "cluster_id"], how="anti").height == 0:
            break
        linked = jumped
    return labels.join(
        linked.rename({"cluster_id": "found"}), on="unique_id", how="left", maintain_order="left"
    ).select("unique_id", pl.coalesce("found", "cluster_id").alias("cluster_id"))


def match_new(
    new_table: pl.DataFrame,
    existing_table: pl.DataFrame,
    model: dict,
    threshold: float = REVIEW_THRESHOLD,
    *,
    within_new: bool = True,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Score a new batch against existing records with a saved model (no retraining).

    Both are prepared tables with distinct unique_ids. Pairs new × existing (and, with
    `within_new`, new × new) at or above `threshold`, in predict()'s shape. Term frequencies come
    from the existing records. unique_id_l / unique_id_r are in text order as in predict().
    """
    backend = backend or DUCKDB
    _quiet_splink()
    _check_backend(model, backend)
    _notify(progress, STAGE_PREDICT)
    if new_table.height == 0 or existing_table.height == 0 and not within_new:
        return _empty_pairs(model)
    combined = pl.concat([existing_table, new_table]) if existing_table.height else new_table
    linker, api, _all = _linker(backend, combined, model)
    for column in _tf_columns(model):
        linker.table_management.compute_tf_table(column)
    new_sdf = backend.register(api, new_table)
    frames = []
    if existing_table.height:
        existing_sdf = backend.register(api, existing_table)
        between = linker.inference.predict_between(
            existing_sdf, new_sdf, threshold_match_probability=threshold, warning_mode="never"
        )
        frames.append(_to_pairs(backend, api, between))
    if within_new and new_table.height > 1:
        within = linker.inference.predict_within(
            new_sdf, threshold_match_probability=threshold, warning_mode="never"
        )
        frames.append(_to_pairs(backend, api, within))
    if not frames:
        return _empty_pairs(model)
    pairs = pl.concat(frames, how="diagonal_relaxed")
    return _ordered(pairs)


def _ordered(pairs: pl.DataFrame) -> pl.DataFrame:
    swap = pl.col("unique_id_l") > pl.col("unique_id_r")
    return pairs.with_columns(
        pl.when(swap).then(pl.col("unique_id_r")).otherwise(pl.col("unique_id_l")).alias("unique_id_l"),
        pl.when(swap).then(pl.col("unique_id_l")).otherwise(pl.col("unique_id_r")).alias("unique_id_r"),
    )


def _tf_columns(model: dict) -> list[str]:
    columns = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            column = level.get("tf_adjustment_column")
            if column and column not in columns:
                columns.append(column)
    return columns


def _empty_pairs(model: dict) -> pl.DataFrame:
    schema = {
        "unique_id_l": pl.Utf8,
        "unique_id_r": pl.Utf8,
        "match_probability": pl.Float64,
        "match_weight": pl.Float64,
    }
    for comparison in model.get("comparisons", []):
        name = comparison["output_column_name"]
        schema[f"gamma_{name}"] = pl.Int32
        schema[f"mw_{name}"] = pl.Float64
    return pl.DataFrame(schema=schema)


# --- explain ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
    label: str
    is_null: bool
    weight: float


def _model_key(model: dict) -> str:
    import json

    return json.dumps(model, sort_keys=True, default=str)


@lru_cache(maxsize=8)
def _levels(model_json: str) -> dict[str, dict[int, _Level]]:
    import json

    from splink import SettingsCreator

    model = json.loads(model_json)
    settings = SettingsCreator.from_path_or_dict(model).get_settings(model.get("sql_dialect") or "duckdb")
    out: dict[str, dict[int, _Level]] = {}
    for comparison in settings.comparisons:
        levels = {}
        for level in comparison.comparison_levels:
            weight = 0.0
            if not level.is_null_level:
                m, u = level.m_probability, level.u_probability
                weight = math.log2(m / u) if m and u else 0.0
            levels[level.comparison_vector_value] = _Level(
                level.label_for_charts, level.is_null_level, weight
            )
        out[comparison.output_column_name] = levels
    return out


_last_model: tuple[dict, dict] | None = None


def explain(pair_row: Mapping[str, Any], model: dict) -> dict[str, dict]:
    """Why a pair scored as it did, comparison by comparison, without any value.

    `pair_row` is one row of predict()/match_new() (e.g. `pairs.row(i, named=True)`). Returns
    {comparison: {"level": label, "weight": log2 Bayes factor (term-frequency adjusted when
    given), "agrees": weight > 0 and the values are not missing}}.
    """
    global _last_model
    if _last_model is None or _last_model[0] is not model:
        _last_model = (model, _levels(_model_key(model)))  # serialising a model costs about a millisecond
    out = {}
    for name, levels in _last_model[1].items():
        gamma = pair_row.get(f"gamma_{name}")
        if gamma is None:
            continue
        level = levels.get(int(gamma))
        if level is None:
            continue
        weight = level.weight
        mw = pair_row.get(f"mw_{name}")
        if mw is not None and not level.is_null:
            weight = float(mw) + float(pair_row.get(f"mw_tf_adj_{name}") or 0.0)
        out[name] = {
            "level": level.label,
            "weight": round(weight, 3),
            "agrees": bool(weight > 0 and not level.is_null),
        }
    return out
