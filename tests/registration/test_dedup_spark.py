"""The Spark backend path: the file-tool fixture deduplicated by Splink on Spark (local mode).

Skipped with a reason when pyspark is not installed (it is optional: docs/deployment.md).
"""

from __future__ import annotations

import polars as pl
import pytest

from mobility.registration.dedup import engine

from .test_dedup_engine import (
    FIXTURE_DISTINCT,
    FIXTURE_DUPLICATES,
    FIXTURE_MAPPING,
    fixture_frame,
    pairs_in_clusters,
)

try:
    import pyspark  # noqa: F401
except ImportError:
    pytest.skip(
        "pyspark not installed: pip install pyspark to test the Spark backend", allow_module_level=True
    )


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    session = (
        SparkSession.builder.master("local[1]")
        .appName("mobility-dedup-test")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("spark-checkpoints")))
    yield session
    session.stop()


@pytest.mark.heavy
def test_the_spark_backend_finds_the_same_duplicates_as_duckdb(spark):
    backend = engine.backend_get("spark", spark=spark)
    table = engine.prepare(fixture_frame(), FIXTURE_MAPPING, id_column="id")
    model = engine.train(table, backend=backend)
    assert model["sql_dialect"] == "spark"
    pairs = engine.predict(table, model, threshold=0.01, backend=backend)
    found = pairs_in_clusters(engine.cluster(table, pairs, engine.DEFAULT_THRESHOLD))
    assert found == FIXTURE_DUPLICATES
    assert not found & FIXTURE_DISTINCT

    duckdb_model = engine.train(table)
    duckdb_pairs = engine.predict(table, duckdb_model, threshold=0.01)
    both = pairs.join(duckdb_pairs, on=["unique_id_l", "unique_id_r"], suffix="_duckdb")
    assert both.height == duckdb_pairs.height == pairs.height
    assert (
        both.select((pl.col("match_probability") - pl.col("match_probability_duckdb")).abs().max()).item()
        < 1e-6
    )

    arriving = ["P02", "P08"]
    new = table.filter(pl.col("unique_id").is_in(arriving))
    existing = table.filter(~pl.col("unique_id").is_in(arriving))
    matched = engine.match_new(new, existing, model, engine.DEFAULT_THRESHOLD, backend=backend)
    assert set(zip(matched["unique_id_l"], matched["unique_id_r"], strict=True)) == {
        ("P01", "P02"),
        ("P07", "P08"),
    }

    with pytest.raises(engine.DedupInputError, match="trained on spark"):
        engine.predict(table, model)
