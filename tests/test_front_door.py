"""Front-door (MASH) screening: an open contact gives the worker who screens it time-limited,
purpose-bound access to the child's and family's flags under AGR-CSC-006, without break-glass; the
access ends when the contact is decided or the triage window passes. Who should be visible is computed
here with plain SQL over the contacts table and the index."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.build import build_index
from tests.caseload_truth import persons_and_families
from tests.conftest import bearer

PURPOSE = "front_door_screening"
WORKER = "FD0001"


@pytest.fixture(scope="module")
def borough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gateway.seed import seed

    root = tmp_path_factory.mktemp("front-door")
    seed(root, people=4_000)
    build_index(DataDir(root))
    return root


def _now(root: Path) -> dt.datetime:
    import json

    as_of = json.loads((root / "stores.json").read_text())["as_of"]
    return dt.datetime.combine(dt.date.fromisoformat(as_of), dt.time(17, 0))


def _expected(root: Path, hours: float) -> tuple[set[str], set[str]]:
    """(children with an open contact the worker screens within the window, them and their families)."""
    since = (_now(root) - dt.timedelta(hours=hours)).isoformat(timespec="seconds")
    with sqlite3.connect(root / "stores" / "childrens_social_care.db") as con:
        local = [
            r[0]
            for r in con.execute(
                "SELECT cont_person_id FROM ssd_contacts WHERE cont_worker_id = ? AND cont_decision IS NULL "
                "AND cont_received_at >= ?",
                (WORKER, since),
            )
        ]
    return persons_and_families(root, "childrens_social_care", local)


def test_the_triage_window_is_a_setting(borough: Path) -> None:
    """Contacts still open after the default three days count only if the window is widened."""
    default, _ = _expected(borough, 72)
    week, week_visible = _expected(borough, 24 * 8)
    assert default < week, "the synthetic front door has open contacts older than three days"
    fatima = bearer(borough, "fd.fatima")
    with TestClient(create_app(Settings(data_dir=borough, triage_hours=24 * 8))) as client:
        caseload = client.get("/v1/caseload", headers=fatima).json()
    assert {p["person_id"] for p in caseload} == week_visible


def test_an_open_contact_opens_the_family_to_its_screener_until_it_is_decided(borough: Path) -> None:
    """(Runs after the window test: it decides the worker's contacts.)"""
    children, visible = _expected(borough, 72)
    assert children, "the synthetic front door has open contacts for this worker"
    fatima = bearer(borough, "fd.fatima")
    with TestClient(create_app(Settings(data_dir=borough))) as client:
        caseload = client.get("/v1/caseload", headers=fatima).json()
        assert {p["person_id"] for p in caseload} == visible
        assert {p["person_id"] for p in caseload if p["relationship"] == "triage"} == children
        child = sorted(children)[0]
        flags = client.get(f"/v1/persons/{child}/flags", params={"purpose": PURPOSE}, headers=fatima)
        assert flags.status_code == 200, flags.text
        assert flags.json()["relationship"] == "triage" and flags.json()["agreements"] == ["AGR-CSC-006"]
        assert not flags.json()["break_glass"]
        other = client.get(
            f"/v1/persons/{child}/flags", params={"purpose": "child_protection_enquiry"}, headers=fatima
        )
        assert other.status_code == 403, "purpose-bound: screening only"
        alice = client.get(
            f"/v1/persons/{child}/flags", params={"purpose": PURPOSE}, headers=bearer(borough, "cw.alice")
        )
        assert alice.status_code == 403, "another worker's contact opens nothing to them"
        olu = bearer(borough, "ig.olu")
        event = next(
            e
            for e in client.get("/v1/audit/events", params={"actor": "fd.fatima"}, headers=olu).json()[
                "events"
            ]
            if e["id"] == flags.headers["x-audit-id"]
        )
        assert event["agreement_id"] == "AGR-CSC-006" and not event["break_glass"]
        alerts = client.get("/v1/audit/alerts", headers=olu).json()["alerts"]
        assert not [
            a
            for a in alerts
            if a["audit_id"] == event["id"] and a["kind"] in ("break_glass", "outside_caseload")
        ]

    # The contact is decided: the child is no longer open to the screener (a new process: no cached caseload).
    with sqlite3.connect(borough / "stores" / "childrens_social_care.db") as con:
        con.execute(
            "UPDATE ssd_contacts SET cont_decision = 'nfa', cont_decided_at = ? WHERE cont_worker_id = ? "
            "AND cont_decision IS NULL",
            (_now(borough).isoformat(timespec="seconds"), WORKER),
        )
    with TestClient(create_app(Settings(data_dir=borough))) as client:
        gone = client.get(f"/v1/persons/{child}/flags", params={"purpose": PURPOSE}, headers=fatima)
        assert gone.status_code == 403 and gone.json()["error"] == "not_on_caseload"
        assert client.get("/v1/caseload", headers=fatima).json() == []
