"""The same linkage settings on Spark (local mode) give the same people as on DuckDB."""

from __future__ import annotations

import os
import shutil

import pytest

from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.linkage.engines import engine_for
from gateway.linkage.evaluate import pairwise_scores
from gateway.linkage.pipeline import link_records

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_ready() -> None:
    problem = None
    if shutil.which("java") is None:
        problem = "no Java runtime on PATH"
    else:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            problem = "pyspark is not installed (pip install 'gateway[spark]')"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the Spark engine must be tested in CI: {problem}")
        pytest.skip(problem)


def test_spark_and_duckdb_produce_the_same_clusters(spark_ready, small_borough):
    records, _ = read_stores(DataDir(small_borough), lambda _m: None)
    on_duckdb = link_records(records, engine_for("duckdb"))
    on_spark = link_records(records, engine_for("spark"))
    assert len(on_spark.clusters) == len(on_duckdb.clusters) == len(records)
    agreement = pairwise_scores(on_spark.clusters, on_duckdb.clusters)
    assert agreement.true_pairs > 100
    assert agreement.f1 >= 0.995, agreement
