"""A caseworker's view writes its access ahead (issue 24): the event (who, about whom, purpose, agreement,
decision) is committed while the flags are fetched, the reply waits for that commit, and what the reply
carried follows as an `audit.outcome` naming the access (with `audit_write_ahead` on; off, one event
after the fetch, as before). Checked on the linked 20k borough through the API, and on the store: an
outcome rides in the next commit, is written alone when none comes, survives a failed commit, and is
written on close."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from audit import schema
from audit.chain import from_row
from audit.signing import CheckpointKey
from audit.store import AuditStore, outcome_notice
from audit.verify import verify_chain
from gateway.api.app import create_app
from gateway.caseworker import views
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.store import IndexStore
from gateway.refusal import Refused
from tests.audit_events import flags_read
from tests.conftest import bearer

E = schema.events
PURPOSE = "child_protection_enquiry"
GLASS = {"X-Break-Glass-Reason": "Police report of a child at risk tonight, allocated worker unreachable"}


@pytest.fixture(scope="module")
def client(linked_borough: Path):
    settings = Settings(data_dir=linked_borough, audit_write_ahead=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _rows(store: AuditStore, *where: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [from_row(r._mapping) for r in conn.execute(select(E).where(*where).order_by(E.c.seq))]


def _head(store: AuditStore) -> int:
    store.flush()
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(E.c.seq), 0))).scalar_one())


def _person(client, root: Path, known_elsewhere: bool = False) -> str:
    """One of cw.alice's allocated children; with `known_elsewhere`, one whom the index links to a record
    in another service's store, so that a flags view queries that store."""
    people = client.get("/v1/caseload", headers=bearer(root, "cw.alice")).json()
    allocated = sorted(p["person_id"] for p in people if p["relationship"] == "allocated")
    if not known_elsewhere:
        return allocated[0]
    services = {"housing", "education", "community_safety", "adult_social_care", "benefits", "early_help"}
    elsewhere = {
        r["person_id"] for r in IndexStore(DataDir(root).index_url()).export_rows() if r["source"] in services
    }
    return next(p for p in allocated if p in elsewhere)


def test_the_access_is_committed_while_the_flags_are_fetched(client, linked_borough, monkeypatch):
    store = client.app.state.services.audit
    person = _person(client, linked_borough, known_elsewhere=True)
    before = _head(store)
    fetching, release = threading.Event(), threading.Event()
    real = views._query

    def held(*args: Any) -> Any:  # a service query that does not return until the test says so
        fetching.set()
        assert release.wait(60)
        return real(*args)

    monkeypatch.setattr(views, "_query", held)
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(
            client.get,
            f"/v1/persons/{person}/flags",
            params={"purpose": PURPOSE},
            headers=bearer(linked_borough, "cw.alice"),
        )
        assert fetching.wait(60)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not found and time.monotonic() < deadline:  # the fetch is held: the access must commit
            found = _rows(store, E.c.seq > before, E.c.action == "flags.read")
            time.sleep(0.01)
        assert not reply.done(), "the reply left before its fetch finished"
        release.set()
        r = reply.result(timeout=60)
    assert r.status_code == 200, r.text
    [access] = found
    assert access["id"] == r.headers["x-audit-id"] == r.json()["audit_id"]
    assert access["subject_ids"] == [person] and access["decision"] == "allow"
    assert access["purpose"] == PURPOSE
    assert access["agreement_id"] == "AGR-CSC-001" and access["disclosure_applied"]["outcome"] == "follows"
    _head(store)
    [outcome] = _rows(store, E.c.resource == f"audit-event:{access['id']}")
    assert outcome["action"] == "audit.outcome" and outcome["seq"] > access["seq"]
    assert outcome["rows_released"] == len(r.json()["flags"]) and outcome["status"] == 200
    assert set(outcome["fields_released"]) <= set(access["fields_released"])
    assert verify_chain(store.engine, store.key.public, store.witness).ok


def test_no_flags_leave_when_the_access_cannot_be_committed(client, linked_borough, monkeypatch):
    store = client.app.state.services.audit
    person = _person(client, linked_borough)
    failed = []

    def disk_full(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        failed.extend(batch)
        raise OperationalError("INSERT", {}, OSError("disk full"))

    monkeypatch.setattr(store, "_commit", disk_full)
    r = client.get(
        f"/v1/persons/{person}/flags", params={"purpose": PURPOSE}, headers=bearer(linked_borough, "cw.alice")
    )
    monkeypatch.undo()
    assert r.status_code == 503 and r.json()["error"] == "audit_unavailable"
    assert "flags" not in r.text and person not in r.text
    assert [e["action"] for e in failed] == ["flags.read"]  # the fetch ran; its access never committed
    assert not _rows(store, E.c.id == failed[0]["id"])
    assert not _rows(store, E.c.resource == f"audit-event:{failed[0]['id']}")  # nor any outcome


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Refused(503, "store_unavailable", "the stores did not answer"), 503), (RuntimeError("bug"), 500)],
    ids=["refused", "crashed"],
)
def test_a_fetch_that_fails_after_its_access_is_recorded_as_such(
    client, linked_borough, monkeypatch, fault, status
):
    store = client.app.state.services.audit
    person = _person(client, linked_borough)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise fault

    monkeypatch.setattr("gateway.api.caseworker.gather_flags", failing)
    r = client.get(
        f"/v1/persons/{person}/flags", params={"purpose": PURPOSE}, headers=bearer(linked_borough, "cw.alice")
    )
    monkeypatch.undo()
    assert r.status_code == status and "flags" not in r.json()
    _head(store)
    [access] = _rows(store, E.c.id == r.headers["x-audit-id"])
    [outcome] = _rows(store, E.c.resource == f"audit-event:{access['id']}")
    assert access["decision"] == "allow" and access["action"] == "flags.read"  # as committed ahead
    assert (outcome["decision"], outcome["status"], outcome["rows_released"]) == ("deny", status, 0)
    assert outcome["fields_released"] == [] and outcome["subject_ids"] == [person]
    # A person's history reads one access, with what was actually sent.
    history = client.get(f"/v1/audit/subjects/{person}", headers=bearer(linked_borough, "ig.olu")).json()
    entries = history["accesses"]
    mine = [e for e in entries if e["audit_id"] == access["id"]]
    assert len(mine) == 1 and mine[0]["decision"] == "deny" and mine[0]["fields"] == []
    assert not [e for e in entries if e["action"] == "audit.outcome"]


def test_a_persons_history_shows_each_view_once_with_what_it_released(client, linked_borough):
    store = client.app.state.services.audit
    person = _person(client, linked_borough)
    r = client.get(
        f"/v1/persons/{person}/flags", params={"purpose": PURPOSE}, headers=bearer(linked_borough, "cw.alice")
    )
    assert r.status_code == 200
    _head(store)
    [outcome] = _rows(store, E.c.resource == f"audit-event:{r.headers['x-audit-id']}")
    history = client.get(f"/v1/audit/subjects/{person}", headers=bearer(linked_borough, "ig.olu")).json()
    entries = history["accesses"]
    mine = [e for e in entries if e["audit_id"] == r.headers["x-audit-id"]]
    assert len(mine) == 1 and mine[0]["fields"] == outcome["fields_released"]
    assert mine[0]["decision"] == "allow" and mine[0]["action"] == "flags.read"


def test_a_protected_persons_view_is_alerted_on_its_access(client, linked_borough):
    """The protection is known only after the fetch, from the outcome; the alert names the access."""
    con = sqlite3.connect(linked_borough / "stores" / "childrens_social_care.db")
    with con:
        restricted = {
            r[0] for r in con.execute("SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'")
        }
    con.close()
    index = IndexStore(DataDir(linked_borough).index_url())
    person = min(
        r["person_id"]
        for r in index.export_rows()
        if r["source"] == "childrens_social_care" and r["local_id"] in restricted
    )
    r = client.get(
        f"/v1/persons/{person}/flags",
        params={"purpose": PURPOSE},
        headers={**bearer(linked_borough, "cw.ben"), **GLASS},
    )
    assert r.status_code == 200 and r.json()["protected"] is True
    _head(client.app.state.services.audit)
    alerts = client.get("/v1/audit/alerts", headers=bearer(linked_borough, "ig.olu")).json()["alerts"]
    mine = {a["kind"] for a in alerts if a["audit_id"] == r.headers["x-audit-id"]}
    assert {"protected_access", "break_glass"} <= mine


def test_without_the_setting_a_view_writes_one_event_after_its_fetch(linked_borough):
    with TestClient(create_app(Settings(data_dir=linked_borough, audit_write_ahead=False))) as plain:
        store = plain.app.state.services.audit
        person = _person(plain, linked_borough)
        r = plain.get(
            f"/v1/persons/{person}/flags",
            params={"purpose": PURPOSE},
            headers=bearer(linked_borough, "cw.alice"),
        )
        assert r.status_code == 200
        _head(store)
        [event_] = _rows(store, E.c.id == r.headers["x-audit-id"])
        assert event_["rows_released"] == len(r.json()["flags"])
        assert "outcome" not in event_["disclosure_applied"]
        assert not _rows(store, E.c.resource == f"audit-event:{event_['id']}")


# --- the store ---------------------------------------------------------------------------------------


def _open(root: Path) -> AuditStore:
    dd = DataDir(root)
    store = AuditStore(
        dd.audit_url(),
        CheckpointKey.load_or_create(dd.audit_key),
        anchor_file=dd.audit_anchor,
        seal_on_timer=False,
    )
    store.create()
    return store


def _outcome_of(store: AuditStore, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    access = store.append(flags_read(i))
    return access, outcome_notice(access, {**flags_read(i), "rows_released": i})


def test_an_outcome_rides_in_the_next_commit(tmp_path):
    store = _open(tmp_path)
    store.later_seconds = 60.0  # nothing is written on its own in this test's time
    _, outcome = _outcome_of(store, 1)
    batches = store.batches
    store.append_later(outcome)
    nxt = store.append(flags_read(2))
    assert store.batches == batches + 1, "the outcome took a commit of its own"
    [kept] = _rows(store, E.c.id == outcome["id"])
    assert kept["seq"] == nxt["seq"] - 1 and kept["rows_released"] == 1
    store.close()
    assert verify_chain(store.engine, store.key.public, store.witness).ok


def test_an_outcome_is_written_alone_when_no_commit_comes(tmp_path):
    store = _open(tmp_path)
    store.later_seconds = 0.05
    _, outcome = _outcome_of(store, 1)
    store.append_later(outcome)
    deadline = time.monotonic() + 30
    while not _rows(store, E.c.id == outcome["id"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _rows(store, E.c.id == outcome["id"])
    store.close()


@pytest.mark.parametrize("then", ["next commit", "close"])
def test_an_outcome_whose_commit_failed_is_written_again(tmp_path, then):
    store = _open(tmp_path)
    store.later_seconds = 60.0
    _, outcome = _outcome_of(store, 1)
    refused = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _fail_once(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS") and not refused:
            refused.append(statement)
            raise OperationalError(statement, {}, ConnectionError("server closed the connection"))

    store.append_later(outcome)
    store.flush()  # the writer tried: its commit failed before anything was written
    assert refused and not _rows(store, E.c.id == outcome["id"])
    if then == "next commit":
        store.append(flags_read(2))
        store.flush()
    store.close()
    kept = _rows(store, E.c.id == outcome["id"])
    assert len(kept) == 1 and kept[0]["rows_released"] == 1
    assert not _rows(store, E.c.action == "audit.undelivered")  # nobody was refused for an outcome
    assert verify_chain(store.engine, store.key.public, store.witness).ok


def test_outcomes_queued_before_close_are_written(tmp_path):
    store = _open(tmp_path)
    store.later_seconds = 60.0
    outcomes = [_outcome_of(store, i)[1] for i in range(5)]
    for o in outcomes:
        store.append_later(o)
    store.close()
    assert {e["id"] for e in _rows(store, E.c.action == "audit.outcome")} == {o["id"] for o in outcomes}
