"""Policy as data: the registry, the decision function, hot reload, `gateway policy check|test|ropa`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.config import Settings
from gateway.identity.principal import Principal
from gateway.policy.cases import check, load_cases, principal_for
from gateway.policy.check import check_policies
from gateway.policy.decision import PolicyEngine
from tests.conftest import bearer

POLICIES = Path(__file__).resolve().parents[1] / "policies"
runner = CliRunner()
ALICE = Principal("cw.alice", "Alice", ("caseworker",), "childrens_social_care", "CSC01")
ARREARS = ("flags", "housing.hsg_rent_accounts", "child_protection_enquiry")


def said(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A private copy of the shipped policies to edit."""
    return Path(shutil.copytree(POLICIES, tmp_path / "policies"))


ENGINE = PolicyEngine(POLICIES)


@pytest.mark.parametrize(
    ("filename", "case"), load_cases(POLICIES), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_policy_case(filename, case):
    r = case.request
    decision = ENGINE.decide(principal_for(case, POLICIES), r.view, r.dataset, r.purpose, r.agreement, r.day)
    assert check(case, decision) == (), decision.reason
    assert decision.reason  # every decision says why


def test_the_policy_tests_cover_every_demo_user_and_both_outcomes():
    cases = [c for _, c in load_cases(POLICIES)]
    assert {c.user for c in cases if c.user} >= {"cw.alice", "cw.ben", "an.priya", "ig.olu", "ra.two"}
    assert {c.expect.allow for c in cases} == {True, False}


def test_shipped_policies_pass_check_and_tests():
    assert check_policies(POLICIES) == []
    result = runner.invoke(cli, ["policy", "test", "--policies", str(POLICIES)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in said(result)


def test_expired_and_future_agreements_deny_and_say_so():
    eh = ENGINE.decide(ALICE, "flags", "early_help.ssd_early_help_episodes", "early_help_step_down_pilot")
    assert not eh.allow and "ended on 2025-03-31" in eh.reason
    before = ENGINE.decide(ALICE, *ARREARS, day=dt.date(2024, 3, 31))
    assert not before.allow and "does not start until 2024-04-01" in before.reason
    after = ENGINE.decide(ALICE, *ARREARS, day=dt.date(2028, 4, 1))
    assert not after.allow and "ended on 2028-03-31" in after.reason
    assert ENGINE.decide(ALICE, *ARREARS, day=dt.date(2028, 3, 31)).allow  # the last day still counts


def test_decisions_are_cached_until_a_policy_file_changes(policies):
    engine = PolicyEngine(policies, check_interval=0)
    first = engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1))
    assert first.allow and engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1)) is first
    path = policies / "agreements" / "AGR-CSC-001-safeguarding-flags.yaml"
    data = yaml.safe_load(path.read_text())
    data["datasets"].pop("housing.hsg_rent_accounts")
    path.write_text(yaml.safe_dump(data))
    second = engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1))
    assert not second.allow and "deny by default" in second.reason


def test_a_policy_edit_changes_api_answers_without_restart(policies, tmp_path):
    settings = Settings(data_dir=tmp_path / "var", policies_dir=policies, policy_check_interval=0)
    with TestClient(create_app(settings)) as c:
        headers = bearer(tmp_path / "var", "cw.alice")
        assert [a["id"] for a in c.get("/v1/me", headers=headers).json()["agreements"]] == ["AGR-CSC-001"]
        path = policies / "agreements" / "AGR-CSC-001-safeguarding-flags.yaml"
        data = yaml.safe_load(path.read_text())
        data["end"] = dt.date(2025, 1, 31)
        data["review"] = dt.date(2024, 12, 31)
        path.write_text(yaml.safe_dump(data))
        assert c.get("/v1/me", headers=headers).json()["agreements"] == []
        status = c.get("/v1/agreements/AGR-CSC-001", headers=headers).json()["status"]
        assert status == "expired"
        # A broken edit fails closed: no decisions allow, the registry answers 503 with the reason.
        path.write_text("id: [unclosed\n")
        assert not PolicyEngine(policies).decide(ALICE, *ARREARS).allow
        r = c.get("/v1/agreements", headers=headers)
        assert r.status_code == 503 and r.json()["error"] == "policy_unavailable"


def test_agreements_endpoint_serves_the_registry_with_status(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        headers = bearer(tmp_path, "ig.olu")
        body = c.get("/v1/agreements", headers=headers).json()["agreements"]
        status = {a["id"]: a["status"] for a in body}
        assert status["AGR-CSC-001"] == "in_force"
        assert status["AGR-EH-2023"] == "expired"
        assert status["AGR-ASC-004"] == "not_started"
        one = c.get("/v1/agreements/AGR-INS-002", headers=headers).json()
        assert one["disclosure"]["threshold"] == 10 and one["disclosure"]["rounding_base"] == 5
        assert one["disclosure"]["query_rho"] == 0.01 and one["disclosure"]["k"] is None
        assert any("Art 6(1)(e)" in basis for basis in one["legal_basis"])
        missing = c.get("/v1/agreements/AGR-NOPE", headers=headers)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_me_lists_what_each_demo_user_may_use(tmp_path):
    expected = {
        "cw.alice": ["AGR-CSC-001"],
        "cw.ben": ["AGR-CSC-001"],
        "an.priya": ["AGR-INS-002", "AGR-INS-003", "AGR-RES-005"],
        "ig.olu": [],
        "ra.one": [],
    }
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        for user, agreements in expected.items():
            body = c.get("/v1/me", headers=bearer(tmp_path, user)).json()
            assert [a["id"] for a in body["agreements"]] == agreements, user


def _edit_agreement(policies: Path, name: str, **changes) -> None:
    path = policies / "agreements" / name
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


CSC = "AGR-CSC-001-safeguarding-flags.yaml"
SEEDED_ERRORS = {
    "unknown dataset": (
        lambda p: _edit_agreement(p, CSC, datasets={"housing.no_such_table": ["x"]}),
        "unknown dataset 'housing.no_such_table'",
    ),
    "unknown field": (
        lambda p: _edit_agreement(p, CSC, datasets={"housing.hsg_rent_accounts": ["ra_shoe_size"]}),
        "unknown field 'ra_shoe_size'",
    ),
    "no legal basis": (lambda p: _edit_agreement(p, CSC, legal_basis=[]), "has no legal basis"),
    "past review": (
        lambda p: _edit_agreement(p, CSC, review=dt.date(2025, 1, 1)),
        "review date 2025-01-01 has passed",
    ),
    "contradictory rule": (
        lambda p: (p / "rules.csv").write_text(
            (p / "rules.csv").read_text()
            + "p, caseworker, *, housing.*, flags, *, RULE-NO-HOUSING, 2020-01-01, 9999-12-31, deny\n"
        ),
        "contradictory rules: rule RULE-NO-HOUSING",
    ),
    "broken yaml": (lambda p: (p / "agreements" / CSC).write_text("id: [oops\n"), CSC),
    "unknown provider": (
        lambda p: _edit_agreement(p, CSC, providers=["housing", "parks"]),
        "unknown provider 'parks'",
    ),
    "partner flag without the partner as provider": (
        lambda p: _edit_agreement(
            p,
            CSC,
            providers=[
                "housing",
                "education",
                "early_help",
                "community_safety",
                "adult_social_care",
                "benefits",
            ],
        ),
        "dataset 'exchanges.police_notifications' is from 'police', not a provider",
    ),
    "partner dataset that declares no flag": (
        lambda p: (p / "exchanges" / "police_notifications.schema.json").write_text(
            (p / "exchanges" / "police_notifications.schema.json")
            .read_text()
            .replace('"x-flag"', '"x-unused"')
        ),
        "dataset 'exchanges.police_notifications''s schema declares no x-flag",
    ),
    "unknown role": (
        lambda p: _edit_agreement(p, CSC, recipients=[{"role": "intern", "department": "*"}]),
        "unknown recipient role 'intern'",
    ),
    "aggregate without threshold": (
        lambda p: _edit_agreement(
            p, "AGR-INS-002-needs-assessment-aggregates.yaml", disclosure={"rounding_base": 5}
        ),
        "needs a disclosure threshold",
    ),
    "bad rules line": (
        lambda p: (p / "rules.csv").write_text((p / "rules.csv").read_text() + "p, analyst, *, *\n"),
        "a p rule has 9 fields",
    ),
    "test names an unknown user": (
        lambda p: (p / "tests" / "extra.yaml").write_text(
            "cases:\n  - name: ghost\n    user: nobody\n    request: {view: flags, dataset: x, purpose: y}\n"
            "    expect: {allow: false}\n"
        ),
        "unknown user 'nobody'",
    ),
}


@pytest.mark.parametrize("kind", list(SEEDED_ERRORS))
def test_policy_check_fails_on_each_seeded_error(policies, kind):
    seed_error, message = SEEDED_ERRORS[kind]
    seed_error(policies)
    result = runner.invoke(cli, ["policy", "check", "--policies", str(policies)])
    assert result.exit_code == 1, result.output
    assert message in said(result)


def test_policy_test_fails_when_a_decision_changes(policies):
    _edit_agreement(policies, CSC, purposes={"child_in_need_assessment": "s17 only"})
    result = runner.invoke(cli, ["policy", "test", "--policies", str(policies)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "expected allow, got deny" in said(result)


def test_ropa_lists_every_agreement_with_its_basis_and_special_categories():
    md = runner.invoke(cli, ["policy", "ropa", "--format", "md"])
    assert md.exit_code == 0 and md.output.startswith("# Record of processing activities")
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["policy", "ropa", "--format", "csv"]).output)))
    by_id = {r["agreement"]: r for r in rows}
    assert set(by_id) == {
        "AGR-CSC-001",
        "AGR-INS-002",
        "AGR-INS-003",
        "AGR-EH-2023",
        "AGR-ASC-004",
        "AGR-RES-005",
        "AGR-CSC-006",
        "AGR-HSG-007",
        "AGR-YJS-008",
        "AGR-ASC-009",
        "AGR-POL-010",
        "AGR-EDU-011",
        "PROC-INDEX",
        "PROC-ANALYSIS",
    }
    processing = yaml.safe_load((POLICIES / "processing.yaml").read_text())
    assert all(processing["dpo"]["contact"] in r["dpo_contact"] for r in rows), "Art 30(1)(a)"
    assert all(r["security_measures"].count("; ") == len(processing["security_measures"]) - 1 for r in rows)
    research = yaml.safe_load(next((POLICIES / "agreements").glob("AGR-RES-005-*.yaml")).read_text())
    assert by_id["AGR-RES-005"]["international_transfers"] == research["international_transfers"] != "none"
    assert "RULE-INDEX-LINK" in by_id["PROC-INDEX"]["form_of_disclosure"]
    assert "identity_resolution" in by_id["PROC-INDEX"]["purposes"]
    csc = by_id["AGR-CSC-001"]
    assert "Children Act 1989 s47" in csc["legal_basis"] and "dan_risk_level" in csc["special_category_data"]
    assert "ra_arrears_band" in csc["personal_data_categories"]
    assert by_id["AGR-EH-2023"]["status"] == "expired"
    assert all(r["retention"] and r["recipients"] for r in rows)
    bad = runner.invoke(cli, ["policy", "ropa", "--format", "pdf"])
    assert bad.exit_code == 1


def test_permitted_lists_datasets_and_fields_in_one_query():
    seen = ENGINE.permitted(ALICE, "flags", "child_protection_enquiry", day=dt.date(2026, 6, 1))
    assert seen["housing.hsg_rent_accounts"] == ("ra_arrears_band", "ra_arrears_since")
    assert "early_help.ssd_early_help_episodes" in seen
    assert all(not d.startswith("childrens_social_care.") for d in seen)  # not her own service's
    priya = Principal("an.priya", "Priya", ("analyst",), "insight", "INS01")
    assert ENGINE.permitted(priya, "records", "service_planning") == {}
    assert set(ENGINE.permitted(priya, "aggregate", "service_planning")) == {
        "persons",
        "families",
        "referrals",
        "rent_transactions",
        "attendance",
        "benefit_awards",
    }


def test_an_evaluation_error_denies_and_is_not_remembered(monkeypatch):
    """If the enforcer itself fails (as casbin's ast.parse did under concurrent requests on CPython
    3.11.7), the decision is a deny that says so; once it works again, the next call is allowed."""
    engine = PolicyEngine(POLICIES)
    loaded = engine.current()
    real = loaded.enforcer.enforce_ex

    def broken(*args):
        raise SystemError("AST constructor recursion depth mismatch (before=51, after=49)")

    monkeypatch.setattr(loaded.enforcer, "enforce_ex", broken)
    refused = engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1))
    assert not refused.allow and refused.code == "policy_unavailable" and "SystemError" in refused.reason
    monkeypatch.setattr(loaded.enforcer, "enforce_ex", real)
    assert engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1)).allow


def test_concurrent_uncached_decisions_all_agree():
    """Many threads deciding at once for distinct callers (no cache hits) get the single-threaded answer."""
    import threading

    engine = PolicyEngine(POLICIES)
    expected = engine.decide(ALICE, *ARREARS, day=dt.date(2026, 6, 1))
    results: list = []

    def work(n: int) -> None:
        for i in range(40):
            caller = Principal(f"cw.{n}.{i}", "A", ("caseworker",), "childrens_social_care", "CSC01")
            results.append(engine.decide(caller, *ARREARS, day=dt.date(2026, 6, 1)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 320
    assert {(d.allow, d.code, d.rule) for d in results} == {(expected.allow, expected.code, expected.rule)}


def test_policy_check_refuses_a_sensitive_field_the_agreement_does_not_release(policies):
    path = next((policies / "agreements").glob("AGR-INS-003*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["disclosure"]["sensitive"] = ["cp_plan", "shoe_size"]
    path.write_text(yaml.safe_dump(data))
    problems = [str(p) for p in check_policies(policies)]
    assert any("sensitive field 'shoe_size'" in p for p in problems), problems
    assert not any("'cp_plan'" in p for p in problems)
