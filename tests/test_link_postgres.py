"""Linkage reads PostgreSQL stores and writes a PostgreSQL index, for real, and agrees with SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.index.store import IndexStore
from gateway.linkage.evaluate import pairwise_scores
from gateway.seed import seed
from gateway.stores.postgres import drop_database

pytestmark = pytest.mark.postgres


def _partition(store: IndexStore, column: str) -> dict[str, str]:
    return {f"{r['source']}:{r['local_id']}": r[column] for r in store.export_rows()}


def test_postgres_stores_and_index_give_the_same_people_as_sqlite(tmp_path: Path, pg_prefix: str) -> None:
    lite, pg = tmp_path / "lite", tmp_path / "pg"
    seed(lite, people=1200, seed_value=11)
    seed(pg, people=1200, seed_value=11, dsn_prefix=pg_prefix)
    index_url = f"{pg_prefix}index"
    try:
        result = CliRunner().invoke(app, ["link", "--data-dir", str(pg), "--index-url", index_url])
        assert result.exit_code == 0, result.output
        assert DataDir(pg).index_url() == index_url  # remembered for serve, match and export
        build_index(DataDir(lite))
        on_pg = IndexStore(DataDir(pg).index_url())
        assert on_pg.engine.dialect.name == "postgresql"
        on_lite = IndexStore(DataDir(lite).index_url())
        for column in ("person_id", "household_id", "family_id"):
            a, b = _partition(on_pg, column), _partition(on_lite, column)
            assert len(a) == len(b) > 500
            scores = pairwise_scores(a, b)
            assert scores.precision == scores.recall == 1.0, column
        # ids are random per index, so equal partitions under different names
        assert set(_partition(on_pg, "person_id").values()).isdisjoint(
            _partition(on_lite, "person_id").values()
        )
        on_pg.dispose()
    finally:
        drop_database(index_url)
