"""The analysis store and `POST /v1/aggregates` on PostgreSQL (its own databases, dropped after)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.analysis.build import build_analysis
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.seed import seed
from gateway.stores.postgres import drop_database
from tests.conftest import bearer

pytestmark = pytest.mark.postgres
JSNA = "joint_strategic_needs_assessment"


def test_tables_from_a_postgresql_analysis_store(tmp_path: Path, pg_prefix: str) -> None:
    seed(tmp_path, people=3000, dsn_prefix=pg_prefix)
    dd = DataDir(tmp_path)
    build_index(dd)
    url = f"{pg_prefix}analysis"
    dd.set_analysis_url(url)
    try:
        build_analysis(dd)
        first_keys = sa.create_engine(url)
        with first_keys.connect() as conn:
            keys = dict(conn.execute(sa.text("SELECT source_key, record_key FROM record_keys")).all())
            true = dict(conn.execute(sa.text("SELECT sex, count(*) FROM persons GROUP BY sex")).all())
            hb = conn.execute(sa.text("SELECT count(housing_benefit_weekly) FROM persons")).scalar_one()
        build_analysis(dd)  # a rebuild keeps every record key
        with first_keys.connect() as conn:
            again = dict(conn.execute(sa.text("SELECT source_key, record_key FROM record_keys")).all())
        first_keys.dispose()
        assert again == keys and len(keys) > 1000

        with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
            headers = bearer(tmp_path, "an.priya")
            r = client.post(
                "/v1/aggregates",
                json={"purpose": JSNA, "dataset": "persons", "group_by": ["sex"]},
                headers=headers,
            )
            assert r.status_code == 200, r.text
            for row in r.json()["rows"]:
                if row["sex"] is not None and row["status"] != "suppressed":
                    assert abs(row["value"] - true[row["sex"]]) <= 6 * row["noise_sd"] + 2.5
            # Means clamp each contribution with least/greatest and bound contributions per unit with a
            # window function: both in PostgreSQL's dialect too.
            r = client.post(
                "/v1/aggregates",
                json={
                    "purpose": JSNA,
                    "dataset": "persons",
                    "measure": "mean",
                    "field": "housing_benefit_weekly",
                },
                headers=headers,
            )
            assert r.status_code == 200, r.text
            assert hb >= 50 and r.json()["rows"][0]["value"] > 0
            r = client.post(
                "/v1/aggregates",
                json={
                    "purpose": JSNA,
                    "dataset": "referrals",
                    "group_by": ["outcome"],
                    "filters": {"outcome": "x' --"},
                },
                headers=headers,
            )
            assert r.status_code == 400 and r.json()["error"] == "unknown_value"
            r = client.post(
                "/v1/aggregates",
                json={"purpose": JSNA, "dataset": "rent_transactions", "group_by": ["month"]},
                headers=headers,
            )
            assert r.status_code == 200, r.text
            budgets = client.get("/v1/budgets", headers=headers).json()["budgets"]
            assert {b["scope"].split(":")[0] for b in budgets} == {"project", "analyst", "agreement"}
            assert all(b["spent_rho"] == pytest.approx(0.03) for b in budgets)
    finally:
        drop_database(url)
