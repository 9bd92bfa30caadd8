"""The analysis store on disk (DuckDB, the embedded default) or in PostgreSQL.

A rebuild never disturbs a running gateway: DuckDB files are written beside the old one and swapped in
with an atomic rename (the service notices the new file and reopens it); PostgreSQL tables are replaced
in one transaction.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    Boolean,
    Engine,
    Executable,
    Float,
    Integer,
    Result,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.engine import make_url

from gateway.analysis import schema
from gateway.index.store import _chunks
from gateway.stores.engines import store_engine
from gateway.stores.postgres import create_database

RECHECK_SECONDS = 1.0


class AnalysisUnavailable(RuntimeError):
    """The analysis store has not been built (or cannot be reached)."""


def _arrow_type(column: Any) -> pa.DataType:
    if isinstance(column.type, Boolean):
        return pa.bool_()
    if isinstance(column.type, Integer):
        return pa.int64()
    if isinstance(column.type, Float):
        return pa.float64()
    return pa.string()


class AnalysisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.kind = "duckdb" if parsed.drivername.startswith("duckdb") else parsed.get_backend_name()
        self.path = Path(parsed.database) if self.kind == "duckdb" and parsed.database else None
        self._engine: Engine | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._domains: dict[tuple[Any, str, str], list[Any]] = {}
        self._build: tuple[Engine, float, dict[str, Any]] | None = None
        # Told of each engine made (the file is reopened when `gateway refresh` replaces it): tracing.
        self.on_engine: Callable[[Engine], None] | None = None

    def _made(self, engine: Engine) -> Engine:
        if self.on_engine is not None:
            self.on_engine(engine)
        return engine

    # --- reading (the service) ------------------------------------------------------------------
    def exists(self) -> bool:
        if self.kind == "duckdb":
            return self.path is not None and self.path.is_file()
        try:
            return inspect(self.engine).has_table(schema.builds.name)
        except Exception:
            return False

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat() if self.path else None
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns) if st else None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self.kind == "duckdb":
                now = time.monotonic()
                if self._engine is None or now - self._checked >= RECHECK_SECONDS:
                    self._checked = now
                    stamp = self._file_stamp()
                    if stamp is None:
                        raise AnalysisUnavailable("the analysis store has not been built: run `gateway link`")
                    if self._engine is None or stamp != self._stamp:
                        if self._engine is not None:
                            self._engine.dispose()
                        self._engine = self._made(create_engine(self.url, connect_args={"read_only": True}))
                        self._stamp = stamp
            elif self._engine is None:
                self._engine = self._made(store_engine(self.url))
            return self._engine

    def execute(self, statement: Executable) -> list[Any]:
        with self.engine.connect() as conn:
            result: Result = conn.execute(statement)
            return list(result)

    def domain(self, dataset: str, field: str, statement: Executable, build: Any) -> list[Any]:
        """A field's values over the whole dataset, kept for one build of the store."""
        stamp = (build, dataset, field)
        if stamp not in self._domains:
            if len(self._domains) > 1000:
                self._domains.clear()
            self._domains[stamp] = [r[0] for r in self.execute(statement)]
        return self._domains[stamp]

    def last_build(self) -> dict[str, Any]:
        """The newest build, re-read at most every RECHECK_SECONDS (and whenever the file changes)."""
        engine = self.engine  # reopens a replaced DuckDB file, clearing what it cached
        now = time.monotonic()
        if self._build is None or self._build[0] is not engine or now - self._build[1] >= RECHECK_SECONDS:
            q = select(schema.builds).order_by(schema.builds.c.build_id.desc()).limit(1)
            rows = self.execute(q)
            self._build = (engine, now, dict(rows[0]._mapping) if rows else {})
        return self._build[2]

    def record_keys(self) -> dict[tuple[str, str], int]:
        """Every record key issued so far (empty before the first build)."""
        if not self.exists():
            return {}
        rk = schema.record_keys
        with self.engine.connect() as conn:
            return {
                (k, s): v for k, s, v in conn.execute(select(rk.c.kind, rk.c.source_key, rk.c.record_key))
            }

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- writing (the build) --------------------------------------------------------------------
    def replace(
        self, tables: dict[str, list[dict[str, Any]]], keys: list[dict[str, Any]], build: dict[str, Any]
    ) -> None:
        previous = self.last_build() if self.exists() else {}
        build = {"build_id": int(previous.get("build_id") or 0) + 1, **build}
        contents = {**tables, schema.record_keys.name: keys, schema.builds.name: [build]}
        self.dispose()
        if self.kind == "duckdb":
            self._replace_duckdb(contents)
        else:
            self._replace_sql(contents)

    def _replace_duckdb(self, contents: dict[str, list[dict[str, Any]]]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        building = self.path.with_name(self.path.name + ".building")
        building.unlink(missing_ok=True)
        engine = create_engine(f"duckdb:///{building}")
        try:
            schema.metadata.create_all(engine)
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                for name, rows in contents.items():
                    table = schema.metadata.tables[name]
                    cols = [c.name for c in table.columns]
                    arrow = pa.table(
                        {
                            c.name: pa.array([r.get(c.name) for r in rows], _arrow_type(c))
                            for c in table.columns
                        }
                    )
                    raw.register("incoming", arrow)
                    names = ", ".join(cols)
                    # Table and column names come from the schema above, never from input.
                    raw.execute(f"INSERT INTO {name} ({names}) SELECT {names} FROM incoming")
                    raw.unregister("incoming")
                raw.execute("CHECKPOINT")
        finally:
            engine.dispose()
        os.replace(building, self.path)

    def _replace_sql(self, contents: dict[str, list[dict[str, Any]]]) -> None:
        if self.kind == "postgresql":
            create_database(self.url)
        engine = store_engine(self.url)
        try:
            with engine.begin() as conn:
                schema.metadata.drop_all(conn)
                schema.metadata.create_all(conn)
                for name, rows in contents.items():
                    table = schema.metadata.tables[name]
                    for chunk in _chunks(rows):
                        conn.execute(table.insert(), list(chunk))
        finally:
            engine.dispose()
