"""Every /v1 request leaves exactly one audit event first; IG officers review, others may not."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from audit import schema
from audit.store import new_event
from gateway.api.app import create_app
from gateway.config import Settings
from tests.conftest import bearer


@pytest.fixture
def gateway(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, alert_subjects_per_hour=3, alert_denials_in_ten_minutes=3)
    with TestClient(create_app(settings)) as c:
        yield c, tmp_path


def _count(client) -> int:
    with client.app.state.services.audit.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.events)).scalar_one()


def _last(client) -> dict:
    from audit.chain import from_row

    with client.app.state.services.audit.engine.connect() as conn:
        row = conn.execute(select(schema.events).order_by(schema.events.c.seq.desc()).limit(1)).one()
    return from_row(row._mapping)


def test_every_v1_request_writes_one_event_before_replying(gateway):
    c, root = gateway
    alice = bearer(root, "cw.alice")
    calls = [
        ("/v1/me", alice, 200, "allow"),
        ("/v1/agreements", alice, 200, "allow"),
        ("/v1/catalogue", {}, 401, "deny"),
        ("/v1/audit/events", alice, 403, "deny"),
        ("/v1/no-such-route", alice, 404, "deny"),
    ]
    for n, (path, headers, status, decision) in enumerate(calls, start=1):
        r = c.get(path, headers=headers)
        assert r.status_code == status
        assert _count(c) == n  # exactly one event per request, written before we got the reply
        event = _last(c)
        assert event["id"] == r.headers["x-audit-id"] and event["status"] == status
        assert event["decision"] == decision and event["resource"] == path
        assert event["actor"] == ("cw.alice" if headers else "anonymous")
    refused = _last(c)
    assert "route" in refused["reason"] or refused["reason"]
    assert c.get("/healthz").status_code == 200 and _count(c) == len(calls)  # probes are not /v1


def test_denied_audit_review_says_why(gateway):
    c, root = gateway
    r = c.get("/v1/audit/events", headers=bearer(root, "cw.ben"))
    assert r.status_code == 403 and "deny by default" in r.json()["detail"]
    assert _last(c)["reason"] == r.json()["detail"]


def test_ig_officer_pages_filters_and_exports(gateway):
    c, root = gateway
    ig = bearer(root, "ig.olu")
    for user in ("cw.alice", "cw.ben", "an.priya"):
        for _ in range(3):
            c.get("/v1/me", headers=bearer(root, user))
    first = c.get("/v1/audit/events", params={"limit": 4}, headers=ig).json()
    assert len(first["events"]) == 4 and first["next_cursor"]
    seqs = [e["seq"] for e in first["events"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    second = c.get("/v1/audit/events", params={"limit": 4, "cursor": first["next_cursor"]}, headers=ig).json()
    assert max(e["seq"] for e in second["events"]) < min(seqs)
    bens = c.get("/v1/audit/events", params={"actor": "cw.ben"}, headers=ig).json()["events"]
    assert len(bens) == 3 and {e["actor"] for e in bens} == {"cw.ben"}
    jsonl = c.get("/v1/audit/events", params={"format": "jsonl", "actor": "an.priya"}, headers=ig)
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(lines) == 3 and all(len(line["hash"]) == 64 for line in lines)
    rows = list(
        csv.DictReader(io.StringIO(c.get("/v1/audit/events", params={"format": "csv"}, headers=ig).text))
    )
    assert len(rows) >= 12 and {"seq", "actor", "hash", "prev_hash"} <= set(rows[0])
    bad = c.get("/v1/audit/events", params={"since": "yesterday"}, headers=ig)
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


def test_subject_history_and_alerts(gateway):
    c, root = gateway
    store = c.app.state.services.audit
    # Accesses recorded by the caseworker views (issue 6) look like these.
    store.append(
        new_event(
            actor="cw.alice",
            roles=["caseworker"],
            action="flags.read",
            subject_ids=["P1"],
            purpose="child_protection_enquiry",
            agreement_id="AGR-CSC-001",
            decision="allow",
            reason="ok",
            fields_released=["ra_arrears_band"],
            rows_released=1,
            status=200,
            time="2026-06-02T10:00:00.000000Z",
        )
    )
    store.append(
        new_event(
            actor="cw.ben",
            roles=["caseworker"],
            action="flags.read",
            subject_ids=["P1", "P2"],
            purpose="child_protection_enquiry",
            decision="allow",
            reason="ok",
            break_glass=True,
            status=200,
            time="2026-06-06T23:30:00.000000Z",
        )
    )
    for i in range(4):
        store.append(
            new_event(
                actor="cw.ben",
                subject_ids=[f"P{10 + i}"],
                decision="allow",
                reason="ok",
                status=200,
                time=f"2026-06-03T11:0{i}:00.000000Z",
            )
        )
    for _ in range(3):
        c.get("/v1/audit/events", headers=bearer(root, "an.priya"))  # refused three times
    ig = bearer(root, "ig.olu")
    history = c.get("/v1/audit/subjects/P1", headers=ig).json()["accesses"]
    assert [(h["who"], h["purpose"]) for h in history] == [
        ("cw.ben", "child_protection_enquiry"),
        ("cw.alice", "child_protection_enquiry"),
    ]
    assert history[1]["agreement_id"] == "AGR-CSC-001" and history[1]["fields"] == ["ra_arrears_band"]
    kinds = {(a["kind"], a["actor"]) for a in c.get("/v1/audit/alerts", headers=ig).json()["alerts"]}
    assert ("break_glass", "cw.ben") in kinds and ("outside_caseload", "cw.ben") in kinds
    assert ("out_of_hours", "cw.ben") in kinds  # Saturday night
    assert ("out_of_hours", "cw.alice") not in kinds  # Tuesday morning
    assert ("unusual_volume", "cw.ben") in kinds  # 4 people in an hour, limit 3
    assert ("denied_burst", "an.priya") in kinds
    verified = c.get("/v1/audit/verify", headers=ig).json()
    assert verified["ok"] and verified["first_bad"] is None and verified["entries"] == _count(c) - 1


def test_the_chain_is_sealed_at_shutdown(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        c.get("/v1/me", headers=bearer(tmp_path, "cw.alice"))
        store = c.app.state.services.audit
    with store.engine.connect() as conn:
        sealed = conn.execute(select(func.max(schema.checkpoints.c.seq))).scalar_one()
    assert sealed == 1
    witnessed = [json.loads(line) for line in (tmp_path / "audit-checkpoints.jsonl").read_text().splitlines()]
    assert [w["kind"] for w in witnessed] == ["commit", "checkpoint"] and witnessed[1]["seq"] == 1


def test_an_evenings_out_of_hours_work_is_one_alert_and_typos_are_not_repeated_refusals(gateway):
    c, root = gateway
    store = c.app.state.services.audit
    for minute in range(5):  # five look-ups one Saturday evening: one alert saying five
        store.append(
            new_event(
                actor="cw.ben",
                roles=["caseworker"],
                action="flags.read",
                subject_ids=[f"P{minute}"],
                decision="allow",
                reason="ok",
                status=200,
                time=f"2026-06-06T20:0{minute}:00.000000Z",
            )
        )
    store.append(  # and the next evening, another
        new_event(
            actor="cw.ben",
            subject_ids=["P9"],
            decision="allow",
            reason="ok",
            status=200,
            time="2026-06-07T21:00:00.000000Z",
        )
    )
    ig = bearer(root, "ig.olu")
    for _ in range(4):  # an IG officer's own malformed searches: refused, but they reached nobody
        assert c.get("/v1/audit/events", params={"since": "yesterday"}, headers=ig).status_code in (400, 422)
    for _ in range(3):  # an analyst refused the log three times: probing, as before
        assert c.get("/v1/audit/events", headers=bearer(root, "an.priya")).status_code == 403
    alerts = c.get("/v1/audit/alerts", params={"limit": 200}, headers=ig).json()["alerts"]
    evenings = [a for a in alerts if a["kind"] == "out_of_hours" and a["actor"] == "cw.ben"]
    assert len(evenings) == 2
    first = next(a for a in evenings if a["time"].startswith("2026-06-06"))
    assert first["time"].startswith("2026-06-06T20:00") and "4 more times" in first["detail"]
    bursts = {a["actor"] for a in alerts if a["kind"] == "denied_burst"}
    assert bursts == {"an.priya"}
