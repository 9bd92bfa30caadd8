"""Where linkage SQL runs: DuckDB in-process (the default) or Spark (`gateway[spark]`, for scale-out).

Both take the same Splink settings; only table registration and result collection differ.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from typing import Any, Literal, Protocol

import pyarrow as pa
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.splink_dataframe import SplinkDataFrame

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")


class Engine(Protocol):
    name: str

    def db_api(self) -> DatabaseAPISubClass: ...

    def register(self, db_api: DatabaseAPISubClass, table: pa.Table, name: str) -> SplinkDataFrame: ...


def rows(frame: SplinkDataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Collect selected columns of a Splink result as Python rows (no pandas needed on either engine)."""
    return frame.as_pyarrow_table().select(columns).to_pylist()


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, memory_limit: str | None = None) -> None:
        self.memory_limit = memory_limit

    def db_api(self) -> DatabaseAPISubClass:
        from splink import DuckDBAPI

        api = DuckDBAPI()
        # Spill to a private temporary directory rather than failing when a large borough needs more memory.
        api.duckdb_con.execute(f"SET temp_directory = '{tempfile.mkdtemp(prefix='gateway-link-')}'")
        if self.memory_limit:
            api.duckdb_con.execute(f"SET memory_limit = '{self.memory_limit}'")
        return api

    def register(self, db_api: DatabaseAPISubClass, table: pa.Table, name: str) -> SplinkDataFrame:
        return db_api.register(table, table_name=name)


class EngineUnavailable(RuntimeError):
    """The requested engine's optional dependencies are not installed."""


@cache
def _spark_session(cores: int) -> Any:
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as exc:
        raise EngineUnavailable(
            "the Spark engine needs the optional extra: pip install 'gateway[spark]' (and a Java 17+ runtime)"
        ) from exc
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("gateway-link")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
        .config("spark.default.parallelism", str(max(2, cores * 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("GATEWAY_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", "-Dlog4j.rootLogger=ERROR,console")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Spark in local mode by default; point `SPARK_REMOTE`/`spark-submit` configuration at a cluster
    to scale out (the session builder honours the usual Spark environment)."""

    name = "spark"

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores or os.cpu_count() or 2

    def db_api(self) -> DatabaseAPISubClass:
        from splink.backends.spark import SparkAPI

        spark = _spark_session(self.cores)
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="gateway-spark-"))
        return SparkAPI(spark_session=spark, break_lineage_method="parquet")

    def register(self, db_api: DatabaseAPISubClass, table: pa.Table, name: str) -> SplinkDataFrame:
        spark = db_api.spark  # type: ignore[attr-defined]
        return db_api.register(spark.createDataFrame(table), table_name=name)


def engine_for(name: str) -> Engine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    raise ValueError(f"unknown linkage engine {name!r}; choose one of {', '.join(ENGINES)}")
