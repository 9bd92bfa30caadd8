"""Caseworkers find people by name and date of birth or NHS number (`GET /v1/persons/search`), only
among the people they may see: their caseload and its families, or anyone under an audited
break-glass. Who a caseworker may see is computed here with plain SQL over the stores and the index,
independently of the gateway's caseload code; searches are made for people on and off the caseload."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from tests.caseload_truth import persons_and_families
from tests.conftest import bearer

PURPOSE = "child_protection_enquiry"
GLASS = {"X-Break-Glass-Reason": "Police report of a child at risk tonight, allocated worker unreachable"}


@pytest.fixture(scope="module")
def client(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
        yield c


def _visible_to(root: Path, worker_id: str) -> set[str]:
    """Allocated children (open involvements of the worker) and everyone in their index families."""
    with sqlite3.connect(root / "stores" / "childrens_social_care.db") as con:
        local = [
            str(r[0])
            for r in con.execute(
                "SELECT invo_person_id FROM ssd_involvements WHERE invo_professional_id = ? "
                "AND invo_involvement_end_date IS NULL",
                (worker_id,),
            )
        ]
    return persons_and_families(root, "childrens_social_care", local)[1]


def _people(root: Path) -> list[tuple[str, str, str, str]]:
    """(person id, first name, last name, date of birth) of education's pupils, as the school records them."""
    with sqlite3.connect(root / "stores" / "education.db") as con:
        pupils = con.execute(
            "SELECT pup_pupil_id, pup_forename, pup_surname, pup_dob FROM edu_pupils "
            "WHERE pup_forename IS NOT NULL AND pup_surname IS NOT NULL AND pup_dob IS NOT NULL"
        ).fetchall()
    with sqlite3.connect(root / "gateway.db") as con:
        person_of = dict(
            con.execute("SELECT local_id, person_id FROM index_xref WHERE source = 'education'").fetchall()
        )
    return [(person_of[str(p)], first, last, dob) for p, first, last, dob in pupils if str(p) in person_of]


def test_a_search_finds_only_people_the_caseworker_may_see(client, linked_borough) -> None:
    visible = _visible_to(linked_borough, "SW0001")
    people = _people(linked_borough)
    mine = [p for p in people if p[0] in visible][:4]
    others = [p for p in people if p[0] not in visible][:6]
    assert mine and others
    alice = bearer(linked_borough, "cw.alice")
    for person, first, last, dob in mine + others:
        reply = client.get(
            "/v1/persons/search",
            params={"name": f"{first} {last}", "date_of_birth": dob, "purpose": PURPOSE},
            headers=alice,
        )
        assert reply.status_code == 200, reply.text
        found = [c["person_id"] for c in reply.json()["candidates"]]
        assert set(found) <= visible, "nobody outside the caseload and its families"
        if person in visible:
            assert found and found[0] == person, (first, last, dob)
        else:
            assert person not in found
    assert all(c["name"] for c in reply.json()["candidates"]), (
        "caseload results carry the caller's own record"
    )


def test_break_glass_searches_everyone_and_is_audited_and_alerted(client, linked_borough) -> None:
    visible = _visible_to(linked_borough, "SW0001")
    person, first, last, dob = next(p for p in _people(linked_borough) if p[0] not in visible)
    alice = bearer(linked_borough, "cw.alice")
    reply = client.get(
        "/v1/persons/search",
        params={"name": f"{first} {last}", "date_of_birth": dob, "purpose": PURPOSE},
        headers={**alice, **GLASS},
    )
    assert reply.status_code == 200, reply.text
    top = reply.json()["candidates"][0]
    assert top["person_id"] == person and top["relationship"] == "break_glass"
    assert top["name"] is None and top["family_id"], "their ids only: the family page shows the flags"
    assert all(c["match_probability"] >= 0.5 for c in reply.json()["candidates"]), "no unlikely strangers"
    olu = bearer(linked_borough, "ig.olu")
    events = client.get("/v1/audit/events", params={"actor": "cw.alice", "limit": 50}, headers=olu).json()[
        "events"
    ]
    search = next(e for e in events if e["id"] == reply.headers["x-audit-id"])
    assert search["action"] == "persons.search" and search["break_glass"] and person in search["subject_ids"]
    assert last not in json.dumps(search) and dob not in json.dumps(search), (
        "which details, never their values"
    )
    alerts = client.get("/v1/audit/alerts", headers=olu).json()["alerts"]
    assert any(a["audit_id"] == search["id"] and a["kind"] == "break_glass" for a in alerts)


def test_bad_searches_are_refused_with_a_reason(client, linked_borough) -> None:
    alice = bearer(linked_borough, "cw.alice")
    for params, status, said in (
        ({"name": "Ann", "purpose": PURPOSE}, 422, "full name"),
        ({"name": "Ann Lee", "date_of_birth": "2015-02-30", "purpose": PURPOSE}, 422, "date like"),
        ({"nhs_number": "12345", "purpose": PURPOSE}, 422, "10 digits"),
        ({"name": "Ann Lee", "date_of_birth": "2015-02-03", "purpose": "service_planning"}, 403, "purpose"),
    ):
        reply = client.get("/v1/persons/search", params=params, headers=alice)
        assert reply.status_code == status and said in reply.json()["detail"], (params, reply.text)
    analyst = client.get(
        "/v1/persons/search",
        params={"name": "Ann Lee", "date_of_birth": "2015-02-03", "purpose": PURPOSE},
        headers=bearer(linked_borough, "an.priya"),
    )
    assert analyst.status_code == 403
    short = client.get(
        "/v1/persons/search",
        params={"name": "Ann Lee", "date_of_birth": "2015-02-03", "purpose": PURPOSE},
        headers={**alice, "X-Break-Glass-Reason": "urgent"},
    )
    assert short.status_code == 400


def test_a_name_with_an_address_finds_someone_whose_birthday_is_not_known(client, linked_borough) -> None:
    visible = _visible_to(linked_borough, "SW0001")
    with sqlite3.connect(linked_borough / "stores" / "childrens_social_care.db") as con:
        rows = con.execute(
            "SELECT p.pers_person_id, p.pers_forename, p.pers_surname, a.addr_address_line, "
            "a.addr_address_postcode FROM ssd_person p "
            "JOIN ssd_address a ON a.addr_person_id = p.pers_person_id "
            "WHERE a.addr_address_end_date IS NULL AND a.addr_address_line IS NOT NULL "
            "AND a.addr_address_postcode IS NOT NULL AND p.pers_forename IS NOT NULL "
            "ORDER BY p.pers_person_id"
        ).fetchall()
    with sqlite3.connect(linked_borough / "gateway.db") as con:
        person_of = dict(
            con.execute(
                "SELECT local_id, person_id FROM index_xref WHERE source = 'childrens_social_care'"
            ).fetchall()
        )
    local, first, last, line, postcode = next(r for r in rows if person_of.get(str(r[0])) in visible)
    reply = client.get(
        "/v1/persons/search",
        params={"name": f"{first} {last}", "address_line": line, "postcode": postcode, "purpose": PURPOSE},
        headers=bearer(linked_borough, "cw.alice"),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["candidates"][0]["person_id"] == person_of[str(local)]
    no_postcode = client.get(
        "/v1/persons/search",
        params={"name": f"{first} {last}", "address_line": line, "purpose": PURPOSE},
        headers=bearer(linked_borough, "cw.alice"),
    )
    assert no_postcode.status_code == 422 and "postcode" in no_postcode.json()["detail"]
