"""The PostgreSQL target, for real: databases created per test on the local server and dropped after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.departments import STORE_NAMES, department
from gateway.departments.records import read_identities
from gateway.seed import seed
from gateway.stores.engines import store_engine


def test_postgres_stores_hold_exactly_what_sqlite_holds(tmp_path: Path, pg_prefix: str) -> None:
    lite, pg = tmp_path / "lite", tmp_path / "pg"
    seed(lite, people=1200, seed_value=11)
    seed(pg, people=1200, seed_value=11, dsn_prefix=pg_prefix)
    manifest = json.loads((pg / "stores.json").read_text())
    assert all(url.startswith("postgresql+psycopg://") for url in manifest["stores"].values())
    # same truth, byte for byte: the generator does not depend on the target
    for name in ("identity.csv", "noise.csv", "persons.csv"):
        assert (lite / "truth" / name).read_bytes() == (pg / "truth" / name).read_bytes()
    lite_urls, pg_urls = DataDir(lite).store_urls(), DataDir(pg).store_urls()
    for store in STORE_NAMES:
        a = read_identities(store, store_engine(lite_urls[store]))
        b = read_identities(store, store_engine(pg_urls[store]))
        assert a == b and len(a) > 0, store
    engine = create_engine(pg_urls["housing"].replace("postgresql+psycopg", "postgresql+psycopg"))
    with engine.connect() as conn:
        indexes = {
            r[0]
            for r in conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'hsg_tenancy_persons'")
            )
        }
    engine.dispose()
    assert "ix_tp_tenancy" in indexes


def test_reseeding_postgres_replaces_the_databases(tmp_path: Path, pg_prefix: str) -> None:
    seed(tmp_path, people=300, seed_value=1, dsn_prefix=pg_prefix)
    seed(tmp_path, people=600, seed_value=1, dsn_prefix=pg_prefix)
    table, _ = department("housing").person_table
    engine = store_engine(DataDir(tmp_path).store_urls()["housing"])
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    truth = (tmp_path / "truth" / "identity.csv").read_text().splitlines()
    assert n == sum(1 for line in truth if line.startswith("housing,"))


def test_readiness_on_postgres_and_when_a_store_is_gone(tmp_path: Path, pg_prefix: str) -> None:
    seed(tmp_path, people=300, dsn_prefix=pg_prefix)
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and set(ready.json()["stores"]) == {*STORE_NAMES, "audit"}
        from gateway.stores.postgres import drop_database

        drop_database(DataDir(tmp_path).store_urls()["community_safety"])
        down = client.get("/readyz")
        assert down.status_code == 503
        body = down.json()
        assert body["error"] == "not_ready" and "community_safety" in body["detail"]
        assert body["stores"]["community_safety"] == "unavailable" and body["stores"]["housing"] == "ok"
        assert "postgres" not in down.text  # no DSNs or user names in replies


@pytest.mark.parametrize("bad", ["postgresql://postgres@127.0.0.1:5432/bad name;_"])
def test_unsafe_database_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="unusual database name"):
        seed(tmp_path, people=50, dsn_prefix=bad)
