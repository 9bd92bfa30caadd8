"""Casework beyond children's services: a housing officer's patch (current tenancies they manage), a
youth justice officer's open cases and an adult social worker's open care packages are their caseloads,
each with its own agreement saying which other services' flags they may see and for which purpose.
Who should be on each caseload is computed here with plain SQL over the stores and the index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings, _default_policies_dir
from tests.caseload_truth import persons_and_families
from tests.conftest import bearer

# user, store, SQL of the local ids allocated to worker ?, agreement, purpose
SERVICES = [
    (
        "hs.hana",
        "housing",
        "SELECT tp.tp_person_ref FROM hsg_tenancy_persons tp JOIN hsg_tenancies t "
        "ON t.ten_tenancy_ref = tp.tp_tenancy_ref WHERE t.ten_officer_id = ? AND t.ten_end_date IS NULL",
        "HO0001",
        "AGR-HSG-007",
        "tenancy_sustainment",
    ),
    (
        "asc.amara",
        "adult_social_care",
        "SELECT pkg_client_id FROM asc_care_packages WHERE pkg_worker_id = ? AND pkg_end_date IS NULL",
        "ASW0001",
        "AGR-ASC-009",
        "care_act_assessment",
    ),
    (
        "ew.ellis",
        "education",
        "SELECT ewc_pupil_id FROM edu_welfare_cases WHERE ewc_officer_id = ? AND ewc_closed IS NULL",
        "EWO0001",
        "AGR-EDU-011",
        "attendance_support",
    ),
    (
        "yo.yusuf",
        "community_safety",
        "SELECT yot_nominal_id FROM cs_yot_involvements WHERE yot_officer_id = ? AND yot_end_date IS NULL",
        "YJ0001",
        "AGR-YJS-008",
        "youth_justice_assessment",
    ),
]


@pytest.fixture(scope="module")
def client(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
        yield c


def _visible(root: Path, store: str, sql: str, worker: str) -> tuple[set[str], set[str]]:
    with sqlite3.connect(root / "stores" / f"{store}.db") as con:
        local = [str(r[0]) for r in con.execute(sql, (worker,))]
    return persons_and_families(root, store, local)


@pytest.mark.parametrize(
    ("user", "store", "sql", "worker", "agreement", "purpose"), SERVICES, ids=[s[0] for s in SERVICES]
)
def test_each_service_sees_its_own_caseload_and_only_its_agreements_flags(
    client, linked_borough, user, store, sql, worker, agreement, purpose
) -> None:
    allocated, visible = _visible(linked_borough, store, sql, worker)
    assert allocated, f"{worker} holds cases in the synthetic {store} store"
    me = bearer(linked_borough, user)
    caseload = client.get("/v1/caseload", headers=me)
    assert caseload.status_code == 200, caseload.text
    assert {p["person_id"] for p in caseload.json()} == visible
    assert {p["person_id"] for p in caseload.json() if p["relationship"] == "allocated"} == allocated

    granted = yaml.safe_load(
        next((_default_policies_dir() / "agreements").glob(f"{agreement}-*.yaml")).read_text()
    )
    person = sorted(allocated)[0]
    flags = client.get(f"/v1/persons/{person}/flags", params={"purpose": purpose}, headers=me)
    assert flags.status_code == 200, flags.text
    body = flags.json()
    assert body["agreements"] == [agreement]
    assert store not in body["services"], "their own service is not a flag"
    assert {s for s, state in body["services"].items() if state != "not_permitted"} <= set(
        granted["providers"]
    )
    for flag in body["flags"]:
        assert flag["service"] in granted["providers"]
    wrong = client.get(
        f"/v1/persons/{person}/flags", params={"purpose": "child_protection_enquiry"}, headers=me
    )
    assert wrong.status_code == 403, "purpose-bound"
    with sqlite3.connect(linked_borough / "gateway.db") as con:
        stranger = con.execute("SELECT person_id FROM index_persons ORDER BY person_id").fetchall()
    outsider = next(p for (p,) in stranger if p not in visible)
    refused = client.get(f"/v1/persons/{outsider}/flags", params={"purpose": purpose}, headers=me)
    assert refused.status_code == 403 and refused.json()["error"] == "not_on_caseload"
