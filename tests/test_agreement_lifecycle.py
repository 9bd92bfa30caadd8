"""The agreement lifecycle: draft -> sign-off by each provider's information asset owner -> DPIA checklist
-> DPO review -> in force. Steps go in order, each is an audit event that verifies, and an agreement file
merged into policies/ before every step is done (or changed after) grants nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings, _default_policies_dir
from gateway.identity.principal import Principal
from tests.conftest import bearer

DRAFT = {
    "id": "AGR-EH-020",
    "title": "Housing and school attendance flags for early help assessments",
    "owner": {"name": "Early Help Service Manager", "contact": "earlyhelp@northbridge.gov.example"},
    "providers": ["housing", "education"],
    "recipients": [{"role": "caseworker", "department": "early_help"}],
    "purposes": {
        "early_help_assessment": "Assessing a family's needs for early help (Children Act 2004 s10)"
    },
    "legal_basis": ["Children Act 2004 s10", "UK GDPR Art 6(1)(e) (public task)"],
    "data_subjects": "Children and families on the early help caseload",
    "view": "flags",
    "datasets": {
        "housing.hsg_rent_accounts": ["ra_arrears_band"],
        "education.edu_attendance": ["att_academic_year", "att_sessions_possible", "att_sessions_attended"],
    },
    "retention": "Shown, never copied",
    "start": "2024-01-01",
    "end": "2029-12-31",
    "review": "2028-06-30",
}
WORKER = Principal(sub="eh.test", name="EH worker", roles=("caseworker",), department="early_help")


@pytest.fixture
def gateway(small_borough: Path, tmp_path: Path):
    policies = tmp_path / "policies"
    shutil.copytree(_default_policies_dir(), policies)
    settings = Settings(data_dir=small_borough, policies_dir=policies, policy_check_interval=0)
    with TestClient(create_app(settings)) as client:
        client.policies = policies  # type: ignore[attr-defined]
        client.root = small_borough  # type: ignore[attr-defined]
        yield client


def _as(client: TestClient, user: str) -> dict[str, str]:
    return bearer(client.root, user)  # type: ignore[attr-defined]


def _decide(client: TestClient):
    return client.app.state.services.policy.decide(  # type: ignore[attr-defined]
        WORKER, "flags", "housing.hsg_rent_accounts", "early_help_assessment"
    )


def _merge(client: TestClient, text: str) -> None:
    (client.policies / "agreements" / "AGR-EH-020-housing-education.yaml").write_text(text)  # type: ignore[attr-defined]


def _answers(**override: dict) -> dict:
    questions = yaml.safe_load((_default_policies_dir() / "dpia-checklist.yaml").read_text())["questions"]
    return {"answers": {q["id"]: {"answer": "yes", "note": ""} for q in questions} | override}


def test_an_agreement_comes_into_force_only_after_every_step(gateway: TestClient) -> None:
    text = yaml.safe_dump(DRAFT, sort_keys=False)
    olu, dana = _as(gateway, "ig.olu"), _as(gateway, "dpo.dana")
    housing, education = _as(gateway, "iao.housing"), _as(gateway, "iao.education")
    base = "/v1/agreements/drafts/AGR-EH-020"

    assert (
        gateway.post(
            "/v1/agreements/drafts", json={"text": text}, headers=_as(gateway, "cw.alice")
        ).status_code
        == 403
    )
    drafted = gateway.post("/v1/agreements/drafts", json={"text": text}, headers=olu)
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["state"] == "awaiting_sign_off"
    assert len(drafted.json()["missing"]) == 4  # two sign-offs, the DPIA, the DPO

    # Merged too early: the grants do not apply, and the refusal says what is missing.
    _merge(gateway, text)
    early = _decide(gateway)
    assert not early.allow and "sign-off by the information asset owner of housing" in early.reason

    assert gateway.post(f"{base}/sign-off", json={}, headers=_as(gateway, "cw.alice")).status_code == 403
    assert gateway.post(f"{base}/sign-off", json={"note": "agreed"}, headers=housing).status_code == 200
    out_of_order = gateway.post(f"{base}/dpia", json=_answers(), headers=olu)
    assert out_of_order.status_code == 409 and "education" in out_of_order.json()["detail"]
    assert gateway.post(f"{base}/sign-off", json={}, headers=education).status_code == 200
    assert not _decide(gateway).allow

    premature = gateway.post(f"{base}/dpo-review", json={"decision": "approve"}, headers=dana)
    assert premature.status_code == 409 and "DPIA" in premature.json()["detail"]
    bare_no = gateway.post(f"{base}/dpia", json=_answers(subjects_informed={"answer": "no"}), headers=olu)
    assert bare_no.status_code == 422 and "subjects_informed" in bare_no.json()["detail"]
    missing = _answers()
    missing["answers"].pop("lawful_basis")
    assert gateway.post(f"{base}/dpia", json=missing, headers=olu).status_code == 422
    done = _answers(subjects_informed={"answer": "no", "note": "privacy notice update is scheduled for May"})
    assert gateway.post(f"{base}/dpia", json=done, headers=olu).status_code == 200
    assert not _decide(gateway).allow

    assert gateway.post(f"{base}/dpo-review", json={"decision": "approve"}, headers=olu).status_code == 403
    approved = gateway.post(
        f"{base}/dpo-review", json={"decision": "approve", "note": "proportionate"}, headers=dana
    )
    assert approved.status_code == 200, approved.text
    now = _decide(gateway)
    assert now.allow and now.agreement_id == "AGR-EH-020"

    listed = {a["id"]: a for a in gateway.get("/v1/agreements", headers=olu).json()["agreements"]}
    life = listed["AGR-EH-020"]["lifecycle"]
    assert life["state"] == "signed_off" and set(life["sign_offs"]) == {"housing", "education"}
    assert life["sign_offs"]["housing"]["who"] == "iao.housing" and life["dpo_review"]["who"] == "dpo.dana"
    assert life["days_from_draft_to_approval"] == 0
    assert listed["AGR-CSC-001"]["lifecycle"]["state"] == "adopted_before_lifecycle"
    drafts = gateway.get("/v1/agreements/drafts", headers=housing).json()
    assert drafts["drafts"][0]["state"] == "approved" and drafts["dpia_questions"]
    assert gateway.get(f"{base}/file", headers=olu).text == text

    # A text nobody signed off (a field added after approval) grants nothing.
    sneaky = dict(
        DRAFT,
        datasets={**DRAFT["datasets"], "housing.hsg_rent_accounts": ["ra_arrears_band", "ra_arrears_since"]},
    )
    _merge(gateway, yaml.safe_dump(sneaky))
    held = _decide(gateway)
    assert not held.allow and "not a text that went through sign-off" in held.reason
    listed = {a["id"]: a for a in gateway.get("/v1/agreements", headers=olu).json()["agreements"]}
    assert listed["AGR-EH-020"]["status"] == "held_back"

    steps = [
        e
        for e in gateway.get(
            "/v1/audit/events", params={"purpose": "agreement_lifecycle", "decision": "allow"}, headers=olu
        ).json()["events"]
        if e["resource"] == "resources/none" or e["resource"] == "agreements/AGR-EH-020"
    ]
    assert sorted(e["action"] for e in steps if e["action"] != "agreement.drafts") == sorted(
        [
            "agreement.draft",
            "agreement.sign_off",
            "agreement.sign_off",
            "agreement.dpia",
            "agreement.dpo_review",
            "agreement.draft_file",
        ]
    )
    assert gateway.get("/v1/audit/verify", headers=olu).json()["ok"]


def test_an_amendment_leaves_the_agreement_in_force_until_it_is_signed_off(gateway: TestClient) -> None:
    olu = _as(gateway, "ig.olu")
    path = next((gateway.policies / "agreements").glob("AGR-CSC-001-*.yaml"))  # type: ignore[attr-defined]
    amended = yaml.safe_load(path.read_text())
    amended["datasets"]["housing.hsg_rent_accounts"] = ["ra_arrears_band"]
    alice = Principal(sub="cw.alice", name="Alice", roles=("caseworker",), department="childrens_social_care")

    def decide():
        return gateway.app.state.services.policy.decide(  # type: ignore[attr-defined]
            alice, "flags", "housing.hsg_rent_accounts", "child_protection_enquiry"
        )

    before = decide()
    assert before.allow
    drafted = gateway.post("/v1/agreements/drafts", json={"text": yaml.safe_dump(amended)}, headers=olu)
    assert drafted.status_code == 201, drafted.text
    still = decide()
    assert still.allow and still.permitted_fields == before.permitted_fields, "the text in force stays"
    path.write_text(yaml.safe_dump(amended))  # merged before its sign-offs
    held = decide()
    assert not held.allow and "missing sign-off by the information asset owner" in held.reason


def test_bad_drafts_are_refused_with_a_reason(gateway: TestClient) -> None:
    olu = _as(gateway, "ig.olu")
    for text, said in (
        ("id: [unclosed", "not YAML"),
        (yaml.safe_dump({**DRAFT, "recipients": []}), "recipients"),
        (yaml.safe_dump({**DRAFT, "datasets": {"housing.nope": ["x"]}}), "unknown dataset"),
        (yaml.safe_dump({k: v for k, v in DRAFT.items() if k != "legal_basis"}), "legal basis"),
    ):
        reply = gateway.post("/v1/agreements/drafts", json={"text": text}, headers=olu)
        assert reply.status_code == 422 and said in reply.json()["detail"], (said, reply.text)
    unknown = gateway.post(
        "/v1/agreements/drafts/AGR-NONE-1/sign-off", json={}, headers=_as(gateway, "iao.housing")
    )
    assert unknown.status_code == 404
    assert (
        gateway.post("/v1/agreements/drafts", json={"text": yaml.safe_dump(DRAFT)}, headers=olu).status_code
        == 201
    )
    wrong_owner = _as(gateway, "iao.housing")
    other = {
        **DRAFT,
        "id": "AGR-EH-021",
        "providers": ["education"],
        "datasets": {"education.edu_attendance": ["att_academic_year"]},
    }
    assert (
        gateway.post("/v1/agreements/drafts", json={"text": yaml.safe_dump(other)}, headers=olu).status_code
        == 201
    )
    refused = gateway.post("/v1/agreements/drafts/AGR-EH-021/sign-off", json={}, headers=wrong_owner)
    assert refused.status_code == 403 and "provided by education" in refused.json()["detail"]
