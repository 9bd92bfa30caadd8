"""Scheduled refresh and freshness: the chart's nightly CronJob runs `gateway link` as an audited
operator; each caseworker view and analyst table says when its data was built and flags it stale when
the refresh is late. The CronJob's own command (from the rendered chart) is run here against a small
borough, and the date the views report moves."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.config import Settings
from tests.conftest import bearer
from tests.test_helm import REQUIRED, by_kind, needs_helm, render

runner = CliRunner()


def _flags(client: TestClient, root: Path) -> dict:
    alice = bearer(root, "cw.alice")
    person = client.get("/v1/caseload", headers=alice).json()[0]["person_id"]
    reply = client.get(
        f"/v1/persons/{person}/flags", params={"purpose": "child_protection_enquiry"}, headers=alice
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@needs_helm
def test_the_nightly_job_links_again_and_the_views_report_the_new_date(
    small_borough: Path, tmp_path: Path
) -> None:
    (cron,) = by_kind(render(tmp_path, *REQUIRED))["CronJob"]
    assert cron["spec"]["schedule"] == "30 1 * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    args = list(container["args"])
    assert args[0] == "link"
    # The same command, with this test's settings file (demo mode) and data dir in place of the pod's.
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(yaml.safe_dump({"mode": "demo"}))
    args[args.index("--config") + 1] = str(settings_file)
    args[args.index("--data-dir") + 1] = str(small_borough)

    assert runner.invoke(cli, ["link", "--data-dir", str(small_borough)]).exit_code == 0
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        first = _flags(client, small_borough)["linked"]
    assert first["built_at"] and not first["stale"]
    time.sleep(1.1)  # build times are kept to the second
    ran = runner.invoke(cli, args)
    assert ran.exit_code == 0, ran.output
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        second = _flags(client, small_borough)["linked"]
        events = client.get(
            "/v1/audit/events",
            params={"actor": "operator:nightly-refresh"},
            headers=bearer(small_borough, "ig.olu"),
        ).json()["events"]
    assert second["built_at"] > first["built_at"], "the freshness date moves"
    assert {e["action"] for e in events} >= {"index.link", "analysis.refresh"}


def test_views_and_tables_flag_stale_data(analysis_borough: Path) -> None:
    priya = bearer(analysis_borough, "an.priya")
    body = {"dataset": "persons", "group_by": ["ward"], "purpose": "service_planning"}
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as client:
        fresh = _flags(client, analysis_borough)["linked"]
        table = client.post("/v1/aggregates", json=body, headers=priya).json()
    assert not fresh["stale"] and fresh["stale_after_hours"] == 36
    assert table["data"]["built_at"] and not table["data"]["stale"]
    time.sleep(1.1)
    late = Settings(data_dir=analysis_borough, stale_after_hours=1 / 3600)  # one second
    with TestClient(create_app(late)) as client:
        assert _flags(client, analysis_borough)["linked"]["stale"]
        assert client.post("/v1/aggregates", json=body, headers=priya).json()["data"]["stale"]


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_the_stale_setting_must_be_positive(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stale_after_hours"):
        Settings(data_dir=tmp_path, stale_after_hours=float(bad))
