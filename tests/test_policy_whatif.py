"""The policy what-if simulator (`gateway policy what-if`): the difference it reports for a known change
must be the difference between the two policies run independently, question by question; past requests
are replayed from a real audit log; and nothing under the live policies/ ever changes.

The truth is computed two ways that share nothing with the simulator's enumeration: from the agreement
files read as plain YAML, and by asking two separate policy engines every question of a broad product
of roles, departments, datasets, views and purposes."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.config import Settings, _default_policies_dir
from gateway.identity.principal import Principal
from gateway.policy.decision import PolicyEngine
from gateway.policy.whatif import WhatIfError, simulate, simulate_live
from tests.conftest import bearer

LIVE = _default_policies_dir()
DAY = dt.date(2026, 6, 1)
NEW_AGREEMENT = {
    "id": "AGR-EH-010",
    "title": "Rent arrears flags for early help assessments",
    "owner": {"name": "Early Help Service Manager", "contact": "earlyhelp@northbridge.gov.example"},
    "providers": ["housing"],
    "recipients": [{"role": "caseworker", "department": "early_help"}],
    "purposes": {"early_help_assessment": "Assessing a family's needs for early help"},
    "legal_basis": ["Children Act 2004 s10", "UK GDPR Art 6(1)(e) (public task)"],
    "data_subjects": "Children and families on the early help caseload",
    "view": "flags",
    "datasets": {"housing.hsg_rent_accounts": ["ra_arrears_band"]},
    "retention": "Shown, never copied",
    "start": "2026-01-01",
    "end": "2027-12-31",
    "review": "2027-06-30",
}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def _agreement_file(folder: Path, agreement_id: str) -> Path:
    return next((folder / "agreements").glob(f"{agreement_id}-*.yaml"))


@pytest.fixture
def proposed(tmp_path: Path) -> Path:
    """A copy of the live policies that ends AGR-CSC-001 before DAY, adds AGR-EH-010, and drops a
    field from AGR-INS-002."""
    folder = tmp_path / "proposed"
    shutil.copytree(LIVE, folder)
    csc = _agreement_file(folder, "AGR-CSC-001")
    data = yaml.safe_load(csc.read_text())
    data["end"] = (DAY - dt.timedelta(days=1)).isoformat()
    csc.write_text(yaml.safe_dump(data))
    (folder / "agreements" / "AGR-EH-010-rent-arrears.yaml").write_text(yaml.safe_dump(NEW_AGREEMENT))
    ins = _agreement_file(folder, "AGR-INS-002")
    data = yaml.safe_load(ins.read_text())
    name = sorted(data["datasets"])[0]
    data["datasets"][name] = data["datasets"][name][1:]
    ins.write_text(yaml.safe_dump(data))
    return folder


def _agreements(folder: Path) -> dict[str, dict]:
    return {
        (a := yaml.safe_load(p.read_text()))["id"]: a for p in sorted((folder / "agreements").glob("*.yaml"))
    }


def _inheritors(role: str) -> set[str]:
    """Roles that inherit `role` through the g lines of rules.csv, read as plain text."""
    lines = [
        line.split(",") for line in (LIVE / "rules.csv").read_text().splitlines() if line.startswith("g,")
    ]
    found = {role}
    for _g, child, parent in ((x.strip() for x in line) for line in lines):
        if parent in found:
            found.add(child)
    return found


def test_the_difference_is_the_two_policies_decided_independently(proposed: Path) -> None:
    live_before = _digest(LIVE)
    live_agreements, new_agreements = _agreements(LIVE), _agreements(proposed)
    departments = {
        r["department"]
        for a in [*live_agreements.values(), *new_agreements.values()]
        for r in a["recipients"]
    } | {"housing", "insight"}
    result = simulate(LIVE, proposed, DAY, departments, [])
    reported = {
        (c.question.role, c.question.department, c.question.dataset, c.question.view, c.question.purpose): c
        for c in result.access
    }

    # 1. From the files: what AGR-CSC-001 granted is lost (nothing else grants flags to those
    # recipients for those purposes on DAY), what AGR-EH-010 grants is gained, the trimmed agreement's
    # first dataset changes fields.
    def grants(a: dict) -> set[tuple[str, ...]]:
        return {
            (role, r["department"], ds, a["view"], purpose)
            for r in a["recipients"]
            for role in _inheritors(r["role"])
            for ds in a["datasets"]
            for purpose in a["purposes"]
        }

    lost = grants(live_agreements["AGR-CSC-001"])
    gained = grants(NEW_AGREEMENT)
    ins = live_agreements["AGR-INS-002"]
    trimmed = sorted(ins["datasets"])[0]
    changed = {g for g in grants(ins) if g[2] == trimmed}
    assert {k for k, c in reported.items() if c.kind == "lost"} == lost
    assert {k for k, c in reported.items() if c.kind == "gained"} == gained
    assert {k for k, c in reported.items() if c.kind == "fields_changed"} == changed
    dropped = ins["datasets"][trimmed][0]
    assert all(reported[k].fields_lost == [dropped] and not reported[k].fields_gained for k in changed)
    assert len(reported) == len(lost | gained | changed)

    # 2. Two engines asked every question of a broad product: the same difference, nothing missed.
    live_engine = PolicyEngine(LIVE, today=lambda: DAY)
    new_engine = PolicyEngine(proposed, today=lambda: DAY)
    # Each decision walks every policy line (about 0.4 ms): the product is kept to the roles, views and
    # departments the agreements name, plus one department no agreement names.
    roles = {"caseworker", "senior_practitioner", "analyst"}
    # The departments of the changed agreements' recipients, plus one that receives nothing under them.
    departments = {"childrens_social_care", "early_help", "insight", "benefits"}
    # The touched agreements' datasets and purposes, where a difference can arise, plus others that no
    # change touches (where the simulator must report nothing).
    touched = [live_agreements["AGR-CSC-001"], live_agreements["AGR-INS-002"], NEW_AGREEMENT]
    untouched = [live_agreements["AGR-INS-003"], live_agreements["AGR-ASC-009"]]
    datasets = {ds for a in touched + untouched for ds in a["datasets"]}
    purposes = {p for a in touched + untouched for p in a["purposes"]}
    views = {"flags", "aggregate", "extract"}
    independent = {}
    for role, dept, ds, view, purpose in itertools.product(roles, departments, datasets, views, purposes):
        who = Principal(sub="t", name="t", roles=(role,), department=dept)
        before = live_engine.decide(who, view, ds, purpose)
        after = new_engine.decide(who, view, ds, purpose)
        if (before.allow, before.rule, before.permitted_fields) != (
            after.allow,
            after.rule,
            after.permitted_fields,
        ):
            independent[(role, dept, ds, view, purpose)] = (before.allow, after.allow)
    in_product = {
        k: c
        for k, c in reported.items()
        if k[0] in roles and k[1] in departments and k[2] in datasets and k[4] in purposes
    }
    assert set(in_product) == set(independent)
    assert all((c.before.allow, c.after.allow) == independent[k] for k, c in in_product.items())
    assert _digest(LIVE) == live_before, "the simulator never writes to the live policies"


def test_past_requests_are_replayed_from_the_audit_log(analysis_borough: Path, proposed: Path) -> None:
    """A caseworker's flags and an analyst's table, made through the API and recorded in the audit
    log, are replayed: ending the flags agreement refuses the first; the table stays as it was."""
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as client:
        alice = bearer(analysis_borough, "cw.alice")
        caseload = client.get("/v1/caseload", headers=alice).json()
        person = caseload[0]["person_id"]
        flags = client.get(
            f"/v1/persons/{person}/flags", params={"purpose": "child_protection_enquiry"}, headers=alice
        )
        assert flags.status_code == 200, flags.text
        table = client.post(
            "/v1/aggregates",
            json={"dataset": "persons", "group_by": ["ward"], "purpose": "service_planning"},
            headers=bearer(analysis_borough, "an.priya"),
        )
        assert table.status_code == 200, table.text
        flags_audit_id = flags.headers["x-audit-id"]
        table_audit_id = table.headers["x-audit-id"]

    printed = CliRunner().invoke(
        cli,
        [
            "policy",
            "what-if",
            str(proposed),
            "--data-dir",
            str(analysis_borough),
            "--days",
            "1",
            "--on",
            DAY.isoformat(),
            "--json",
        ],
    )
    assert printed.exit_code == 0, printed.output
    report = json.loads(printed.stdout)
    different = {r["audit_id"]: r for r in report["past_requests"]["decided_differently"]}
    assert different[flags_audit_id]["verdict"] == "now_refused"
    assert different[flags_audit_id]["department"] == "childrens_social_care"
    assert {c["before"]["basis"] for c in different[flags_audit_id]["changes"]} == {"AGR-CSC-001"}
    assert table_audit_id not in different, "the table's agreement is unchanged for its field"
    assert report["past_requests"]["replayed"] >= 2

    text = CliRunner().invoke(
        cli,
        ["policy", "what-if", str(proposed), "--data-dir", str(analysis_borough), "--on", DAY.isoformat()],
    )
    assert text.exit_code == 0, text.output
    assert "Lose access" in text.stdout and "Gain access (2)" in text.stdout
    assert "cw.alice flags.read (child_protection_enquiry): now refused" in text.stdout


def test_a_malformed_proposal_is_refused_with_its_problems(tmp_path: Path, proposed: Path) -> None:
    live_before = _digest(LIVE)
    broken = _agreement_file(proposed, "AGR-EH-010")
    data = yaml.safe_load(broken.read_text())
    data["recipients"] = []
    data["datasets"] = {"housing.no_such_table": ["x"]}
    broken.write_text(yaml.safe_dump(data))
    (proposed / "agreements" / "AGR-ZZ-bad.yaml").write_text("id: [unclosed\n")
    printed = CliRunner().invoke(cli, ["policy", "what-if", str(proposed), "--data-dir", str(tmp_path)])
    assert printed.exit_code == 1
    said = " ".join(printed.output.split())
    assert "cannot be simulated" in said
    assert "AGR-EH-010-rent-arrears.yaml" in said and "recipients" in said
    assert "AGR-ZZ-bad.yaml" in said
    with pytest.raises(WhatIfError, match="live policy directory"):
        simulate_live(LIVE, LIVE, DAY, 0, None)
    with pytest.raises(WhatIfError, match=r"no model\.conf"):
        simulate_live(LIVE, tmp_path, DAY, 0, None)
    not_a_dir = CliRunner().invoke(cli, ["policy", "what-if", str(tmp_path / "nowhere")])
    assert not_a_dir.exit_code == 1 and "not a directory" in not_a_dir.output
    bad_day = CliRunner().invoke(cli, ["policy", "what-if", str(proposed), "--on", "June"])
    assert bad_day.exit_code == 1 and "--on must be a date" in " ".join(bad_day.output.split())
    assert _digest(LIVE) == live_before


def test_the_what_if_endpoint_is_for_governance_and_audited(small_borough: Path) -> None:
    live_before = _digest(LIVE)
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        ig = bearer(small_borough, "ig.olu")
        body = {"end": {"AGR-CSC-001": (DAY - dt.timedelta(days=1)).isoformat()}, "on": DAY.isoformat()}
        reply = client.post("/v1/policy/what-if", json=body, headers=ig)
        assert reply.status_code == 200, reply.text
        lost = {
            (c["role"], c["dataset"], c["purpose"]) for c in reply.json()["access"] if c["change"] == "lost"
        }
        csc = _agreements(LIVE)["AGR-CSC-001"]
        assert lost == {
            (role, ds, p)
            for role in _inheritors("caseworker")
            for ds in csc["datasets"]
            for p in csc["purposes"]
        }
        refused = client.post("/v1/policy/what-if", json=body, headers=bearer(small_borough, "cw.alice"))
        assert refused.status_code == 403, refused.text
        for bad, said in (
            ({"agreements": ["id: [unclosed"]}, "not a YAML mapping"),
            ({"remove": ["AGR-NOPE-1"]}, "no agreement AGR-NOPE-1"),
            ({}, "changes nothing"),
            ({"end": {"AGR-CSC-001": "1999-01-01"}}, "before it starts"),
        ):
            answer = client.post("/v1/policy/what-if", json=bad, headers=ig)
            assert answer.status_code == 422 and said in answer.json()["detail"], (bad, answer.text)
        events = client.get("/v1/audit/events", params={"purpose": "policy_change"}, headers=ig).json()[
            "events"
        ]
    runs = [e for e in events if e["action"] == "policy.what_if"]
    assert {e["decision"] for e in runs} == {"allow", "deny"} and len(runs) == 6
    assert any(
        e["disclosure_applied"]["request"]["end"] == body["end"] for e in runs if e["decision"] == "allow"
    )
    assert _digest(LIVE) == live_before
