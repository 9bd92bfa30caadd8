"""Caseworker views on the linked 20k borough, with the demo users, checked against the stores directly."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit import schema
from audit.chain import from_row
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.store import IndexStore
from tests.conftest import bearer

POLICIES = Path(__file__).resolve().parents[1] / "policies"
PURPOSE = "child_protection_enquiry"
GLASS = {"X-Break-Glass-Reason": "Police report of a child at risk tonight, allocated worker unreachable"}


@pytest.fixture(scope="module")
def client(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
        yield c


@pytest.fixture(scope="module")
def index_rows(linked_borough: Path) -> list[dict]:
    return list(IndexStore(DataDir(linked_borough).index_url()).export_rows())


def _last_event(client) -> dict:
    with client.app.state.services.audit.engine.connect() as conn:
        row = conn.execute(select(schema.events).order_by(schema.events.c.seq.desc()).limit(1)).one()
    return from_row(row._mapping)


def _db(root: Path, store: str) -> sqlite3.Connection:
    return sqlite3.connect(root / "stores" / f"{store}.db")


def _allocated(root: Path, worker: str, index_rows: list[dict]) -> set[str]:
    """Alice's allocated children straight from the CSC involvements table."""
    with _db(root, "childrens_social_care") as con:
        local = {
            r[0]
            for r in con.execute(
                "SELECT invo_person_id FROM ssd_involvements WHERE invo_professional_id = ? "
                "AND invo_involvement_end_date IS NULL",
                (worker,),
            )
        }
    return {
        r["person_id"]
        for r in index_rows
        if r["source"] == "childrens_social_care" and r["local_id"] in local
    }


def test_caseload_is_the_workers_allocations_and_their_families(client, linked_borough, index_rows):
    r = client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice"))
    assert r.status_code == 200
    items = r.json()
    allocated = _allocated(linked_borough, "SW0001", index_rows)
    assert allocated and {i["person_id"] for i in items if i["relationship"] == "allocated"} == allocated
    family_of = {row["person_id"]: row["family_id"] for row in index_rows}
    families = {family_of[p] for p in allocated}
    assert {i["person_id"] for i in items} == {p for p, f in family_of.items() if f in families}
    assert all(set(i) == {"person_id", "family_id", "name", "date_of_birth", "relationship"} for i in items)
    ben = {
        i["person_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.ben")).json()
    }
    assert ben and ben != {i["person_id"] for i in items}
    assert client.get("/v1/caseload", headers=bearer(linked_borough, "an.priya")).status_code == 403


def _expected_flags(root: Path, person_id: str, index_rows: list[dict]) -> set[tuple[str, str]]:
    """Flags recomputed with plain SQL per store, independently of the gateway's flag code."""
    local: dict[str, list[str]] = defaultdict(list)
    for row in index_rows:
        if row["person_id"] == person_id:
            local[row["source"]].append(row["local_id"])
    out: set[tuple[str, str]] = set()

    def any_row(store: str, sql: str, ids: list[str]) -> bool:
        if not ids:
            return False
        marks = ",".join("?" * len(ids))
        with _db(root, store) as con:
            return con.execute(sql.format(ids=marks), ids * sql.count("{ids}")).fetchone() is not None

    checks = [
        (
            "housing",
            "rent_arrears",
            "SELECT 1 FROM hsg_tenancy_persons p JOIN hsg_rent_accounts a ON "
            "a.ra_tenancy_ref = p.tp_tenancy_ref WHERE p.tp_person_ref IN ({ids}) "
            "AND a.ra_arrears_band <> 'none'",
        ),
        (
            "housing",
            "temporary_accommodation",
            "SELECT 1 FROM hsg_temporary_accommodation WHERE "
            "ta_lead_person_ref IN ({ids}) AND (ta_end_date IS NULL OR ta_end_date >= '2026-03-31')",
        ),
        (
            "education",
            "sen_support",
            "SELECT 1 FROM edu_pupils WHERE pup_pupil_id IN ({ids}) AND pup_sen_provision='K'",
        ),
        (
            "education",
            "ehcp",
            "SELECT 1 FROM edu_pupils WHERE pup_pupil_id IN ({ids}) AND pup_sen_provision = 'E'",
        ),
        (
            "education",
            "exclusion_last_12m",
            "SELECT 1 FROM edu_exclusions WHERE exc_pupil_id IN ({ids}) AND exc_start_date >= '2025-03-31'",
        ),
        (
            "education",
            "persistent_absence",
            "SELECT 1 FROM edu_attendance a WHERE att_pupil_id IN ({ids}) AND "
            "att_academic_year = (SELECT MAX(att_academic_year) FROM edu_attendance b WHERE b.att_pupil_id = "
            "a.att_pupil_id) AND (att_sessions_possible - att_sessions_attended) * 10 "
            ">= att_sessions_possible",
        ),
        (
            "community_safety",
            "youth_offending_involvement",
            "SELECT 1 FROM cs_yot_involvements WHERE "
            "yot_nominal_id IN ({ids}) AND (yot_end_date IS NULL OR yot_end_date >= '2026-03-31')",
        ),
        (
            "adult_social_care",
            "receives_care_package",
            "SELECT 1 FROM asc_care_packages WHERE pkg_client_id IN "
            "({ids}) AND (pkg_end_date IS NULL OR pkg_end_date >= '2026-03-31')",
        ),
        (
            "benefits",
            "housing_benefit",
            "SELECT 1 FROM rb_claim_persons p JOIN rb_hb_awards h ON h.hb_claim_ref = "
            "p.cp_claim_ref WHERE p.cp_person_ref IN ({ids}) AND (h.hb_to_date IS NULL OR h.hb_to_date >= "
            "'2026-03-31')",
        ),
        (
            "early_help",
            "early_help_involvement",
            "SELECT 1 FROM ssd_early_help_episodes WHERE earl_person_id IN "
            "({ids}) AND (earl_episode_end_date IS NULL OR earl_episode_end_date >= '2026-03-31')",
        ),
    ]
    for store, flag, sql in checks:
        if any_row(store, sql, local.get(store, [])):
            out.add((store, flag))
    ids = local.get("community_safety", [])
    if ids and any_row(
        "community_safety",
        "SELECT 1 FROM cs_da_notifications n LEFT JOIN cs_da_children c ON "
        "c.dac_notification_id = n.dan_notification_id WHERE (n.dan_victim_nominal_id IN ({ids}) OR "
        "n.dan_perpetrator_nominal_id IN ({ids}) OR c.dac_nominal_id IN ({ids})) AND "
        "n.dan_notified_date >= '2025-03-31'",
        ids * 3,
    ):
        out.add(("community_safety", "domestic_abuse_notification_last_12m"))
    return out


def test_flags_agree_with_the_stores_for_the_whole_caseload(client, linked_borough, index_rows):
    headers = bearer(linked_borough, "cw.alice")
    caseload = client.get("/v1/caseload", headers=headers).json()
    seen_any = 0
    for item in caseload:
        r = client.get(f"/v1/persons/{item['person_id']}/flags", params={"purpose": PURPOSE}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["audit_id"] == r.headers["x-audit-id"] and body["agreements"] == ["AGR-CSC-001"]
        if body["protected"]:
            continue
        got = {(f["service"], f["flag"]) for f in body["flags"]}
        assert got == _expected_flags(linked_borough, item["person_id"], index_rows), item["person_id"]
        seen_any += bool(got)
        for f in body["flags"]:
            assert f["flag"] != "housing_benefit" or f["value"] is True  # yes/no, never the amount
        event = _last_event(client)
        assert event["subject_ids"] == [item["person_id"]] and event["decision"] == "allow"
        assert all(
            field.split(".")[0]
            in {"housing", "education", "community_safety", "adult_social_care", "benefits", "early_help"}
            for field in event["fields_released"]
        )
    assert seen_any >= 5  # the caseload really has flags from other services


def test_other_workers_cases_are_refused_and_audited(client, linked_borough):
    alice = {
        i["person_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice")).json()
    }
    ben = [
        i["person_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.ben")).json()
    ]
    target = next(p for p in ben if p not in alice)
    r = client.get(
        f"/v1/persons/{target}/flags", params={"purpose": PURPOSE}, headers=bearer(linked_borough, "cw.alice")
    )
    assert r.status_code == 403 and r.json()["error"] == "not_on_caseload"
    event = _last_event(client)
    assert event["decision"] == "deny" and event["subject_ids"] == [target] and event["fields_released"] == []


def test_break_glass_is_allowed_flagged_and_alerted(client, linked_borough):
    alice = {
        i["person_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice")).json()
    }
    ben = [
        i["person_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.ben")).json()
    ]
    target = next(p for p in ben if p not in alice)
    headers = bearer(linked_borough, "cw.alice")
    short = client.get(
        f"/v1/persons/{target}/flags",
        params={"purpose": PURPOSE},
        headers={**headers, "X-Break-Glass-Reason": "urgent"},
    )
    assert short.status_code == 400
    r = client.get(f"/v1/persons/{target}/flags", params={"purpose": PURPOSE}, headers={**headers, **GLASS})
    assert (
        r.status_code == 200 and r.json()["break_glass"] is True and r.json()["relationship"] == "break_glass"
    )
    event = _last_event(client)
    assert event["break_glass"] and "break-glass" in event["reason"]
    alerts = client.get("/v1/audit/alerts", headers=bearer(linked_borough, "ig.olu")).json()["alerts"]
    assert any(a["kind"] == "break_glass" and a["audit_id"] == event["id"] for a in alerts)


def test_protected_people_show_involvement_and_contact_route_only(client, linked_borough, index_rows):
    with _db(linked_borough, "childrens_social_care") as con:
        restricted = {
            r[0] for r in con.execute("SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'")
        }
    protected = {
        r["person_id"]
        for r in index_rows
        if r["source"] == "childrens_social_care" and r["local_id"] in restricted
    }
    headers = {**bearer(linked_borough, "cw.ben"), **GLASS}
    lines = yaml.safe_load((POLICIES / "safeguarding-lines.yaml").read_text())["lines"]
    # every phone the stores hold for one school or one officer: none may be shown for a protected person
    local_phones = set()
    for store, query in (
        ("education", "SELECT sch_phone FROM edu_schools"),
        ("housing", "SELECT off_phone FROM hsg_officers"),
        ("community_safety", "SELECT off_phone FROM cs_officers"),
        ("adult_social_care", "SELECT wkr_phone FROM asc_workers"),
        ("early_help", "SELECT ehkw_phone FROM eh_key_workers"),
    ):
        with _db(linked_borough, store) as con:
            local_phones |= {r[0] for r in con.execute(query) if r[0]}
    assert local_phones
    checked = 0
    for pid in sorted(protected)[:15]:
        body = client.get(f"/v1/persons/{pid}/flags", params={"purpose": PURPOSE}, headers=headers).json()
        assert body["protected"] is True
        for f in body["flags"]:
            assert f["flag"] == "involved" and f["since"] is None
            assert f["contact"] == lines[f["service"]], f  # the service's central line, nothing else
            assert f["contact"]["phone"] not in local_phones
        checked += bool(body["flags"])
        assert _last_event(client)["disclosure_applied"]["protected"] is True
    assert checked >= 1
    alerts = client.get("/v1/audit/alerts", headers=bearer(linked_borough, "ig.olu")).json()["alerts"]
    assert any(a["kind"] == "protected_access" for a in alerts)


def test_family_context_lists_members_and_professionals(client, linked_borough):
    headers = bearer(linked_borough, "cw.alice")
    caseload = client.get("/v1/caseload", headers=headers).json()
    families = sorted({i["family_id"] for i in caseload})
    with_contacts = 0
    for family in families:
        r = client.get(
            f"/v1/families/{family}/context", params={"purpose": "child_in_need_assessment"}, headers=headers
        )
        assert r.status_code == 200
        body = r.json()
        assert {m["person_id"] for m in body["members"]} == {
            i["person_id"] for i in caseload if i["family_id"] == family
        }
        with_contacts += bool(body["professionals"])
        assert sorted(_last_event(client)["subject_ids"]) == sorted(m["person_id"] for m in body["members"])
    assert with_contacts >= 1


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/persons/not-an-id/flags", {"purpose": PURPOSE}, 400),
        ("/v1/persons/P000000000000/flags", {"purpose": PURPOSE}, 403),  # unknown = not yours
        ("/v1/persons/{alice}/flags", {}, 422),
        ("/v1/persons/{alice}/flags", {"purpose": "x" * 200}, 422),
        ("/v1/persons/{alice}/flags", {"purpose": "x' OR '1'='1"}, 422),
        ("/v1/persons/{alice}/flags", {"purpose": "debt_recovery"}, 403),
        ("/v1/families/F000000000000/context", {"purpose": PURPOSE}, 403),
        ("/v1/families/%27%3B%20DROP%20TABLE/context", {"purpose": PURPOSE}, 400),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_is_audited(client, linked_borough, path, params, status):
    headers = bearer(linked_borough, "cw.alice")
    alice = client.get("/v1/caseload", headers=headers).json()[0]["person_id"]
    r = client.get(path.format(alice=alice), params=params, headers=headers)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"} and r.json()["detail"]
    event = _last_event(client)
    assert event["decision"] == "deny" and event["status"] == status and event["rows_released"] == 0
    if status == 403 and "000000000000" in path:  # an unknown id gets the answer someone else's would
        assert r.json()["error"] == "not_on_caseload" and "not on your caseload" in r.json()["detail"]
    elif status == 403:
        assert "not a purpose of agreement AGR-CSC-001" in r.json()["detail"]


def test_analysts_cannot_use_caseworker_views(client, linked_borough):
    alice = client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice")).json()[0]["person_id"]
    r = client.get(
        f"/v1/persons/{alice}/flags", params={"purpose": PURPOSE}, headers=bearer(linked_borough, "an.priya")
    )
    assert r.status_code == 403


REASONS = [
    "Teacher reports Zoë has bruises on her arm this morning",
    "Owes £500 rent and bailiffs are due, family at risk tonight",
    "Mum’s partner has returned to the home, police called",
    "Child disclosed harm at school today 🚨 worker unreachable",
]


@pytest.mark.parametrize("reason", REASONS)
def test_break_glass_reasons_in_any_language_are_kept_exactly(client, linked_borough, reason):
    """Through the web page (RFC 8187 in the header) and straight to the API as raw UTF-8 (as curl
    sends it): no 500, and the audit event keeps every character."""
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users
    from gateway.web.session import COOKIE

    alice = {
        i["family_id"] for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice")).json()
    }
    family = next(
        i["family_id"]
        for i in client.get("/v1/caseload", headers=bearer(linked_borough, "cw.ben")).json()
        if i["family_id"] not in alice
    )
    user = load_demo_users(POLICIES).get("cw.alice")
    client.cookies.set(COOKIE, sign_token(linked_borough, user), path="/ui")
    try:
        refused = client.get(f"/ui/families/{family}", params={"purpose": PURPOSE})
        csrf = refused.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        page = client.post(
            f"/ui/families/{family}/break-glass", data={"reason": reason, "purpose": PURPOSE, "csrf": csrf}
        )
    finally:
        client.cookies.clear()
    assert page.status_code == 200, page.text[:500]
    event = _last_event(client)
    assert event["break_glass"] and f"break-glass: {reason}" in event["reason"]
    raw = client.get(
        f"/v1/families/{family}/context",
        params={"purpose": PURPOSE},
        headers=[*bearer(linked_borough, "cw.alice").items(), ("X-Break-Glass-Reason", reason.encode())],
    )
    assert raw.status_code == 200, raw.text
    assert f"break-glass: {reason}" in _last_event(client)["reason"]


def test_permissions_are_decided_once_per_caller_purpose_and_policy(tmp_path, linked_borough):
    """Cached per (caller, purpose, day, policy as loaded): the same object until a policy edit."""
    import shutil

    from gateway.caseworker.service import CaseworkService
    from gateway.identity.principal import Principal
    from gateway.identity.users import load_demo_users
    from gateway.policy.decision import PolicyEngine

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    policy = PolicyEngine(policies, check_interval=0)
    counted = []
    policy.on_decision = counted.append
    service = CaseworkService(
        DataDir(linked_borough), {}, IndexStore(DataDir(linked_borough).index_url()), policy
    )
    user = load_demo_users(POLICIES).get("cw.alice")
    alice = Principal(user.id, user.name, user.roles, user.department, user.team, user.worker_id)
    first = service.permissions(alice, PURPOSE)
    decisions = len(counted)
    assert first.specs and decisions == len(first.decisions) > 0
    assert service.permissions(alice, PURPOSE) is first
    assert len(counted) == 2 * decisions, "metrics still see every decision handed out"
    assert service.permissions(alice, "child_in_need_assessment") is not first
    # End the agreement: the next request is decided under the edited policy, and refused.
    path = policies / "agreements" / "AGR-CSC-001-safeguarding-flags.yaml"
    terms = yaml.safe_load(path.read_text())
    terms["end"], terms["review"] = "2025-01-31", "2024-12-31"
    path.write_text(yaml.safe_dump(terms))
    after = service.permissions(alice, PURPOSE)
    assert after is not first and not after.specs and after.refusal is not None
    service.close()
