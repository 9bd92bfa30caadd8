"""The red team's remaining probes: files readable by other users, a /readyz that says ready while
every call answers 503, and a person-id oracle (404 for "no such person", 403 for "not yours")."""

from __future__ import annotations

import stat
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.seed import seed
from tests.conftest import bearer


def test_everything_under_the_data_dir_is_owner_only(tmp_path: Path):
    root = tmp_path / "var"
    seed(root, people=300)
    with TestClient(create_app(Settings(data_dir=root))) as c:
        assert c.get("/v1/me", headers=bearer(root, "cw.alice")).status_code == 200
    loose = [
        f"{p.relative_to(root)} {stat.filemode(p.stat().st_mode)}"
        for p in [root, *root.rglob("*")]
        if p.stat().st_mode & 0o077
    ]
    assert not loose, loose
    assert {"audit.db", "gateway.db", "audit-checkpoints.jsonl"} <= {p.name for p in root.iterdir()}


def test_readyz_fails_when_the_audit_store_cannot_commit(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        assert c.get("/readyz").json()["stores"]["audit"] == "ok"
        anchor = DataDir(tmp_path).audit_anchor
        anchor.unlink(missing_ok=True)
        anchor.mkdir()  # the witness cannot be written: no commit is confirmed
        refused = c.get("/v1/me", headers=bearer(tmp_path, "cw.alice"))
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["stores"]["audit"] == "unavailable"
        anchor.rmdir()
        assert c.app.state.services.audit.can_commit(within=0)


def test_unknown_and_not_yours_get_the_same_answer(linked_borough: Path):
    unknown_person, unknown_family = "P" + "9" * 12, "F" + "9" * 12
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
        alice = bearer(linked_borough, "cw.alice")
        caseload = c.get("/v1/caseload", headers=alice).json()
        reach = {r["family_id"] for r in caseload}  # her children's families are within her reach too
        engine = create_engine(DataDir(linked_borough).index_url())
        with engine.connect() as conn:
            outside = [
                (p, f)
                for p, f in conn.execute(
                    text("SELECT person_id, family_id FROM index_persons ORDER BY person_id")
                )
                if f not in reach
            ]
        engine.dispose()
        anyone, family = outside[0]
        assert anyone not in {r["person_id"] for r in caseload}
        params = {"purpose": "child_protection_enquiry"}
        answers = []
        for pid in (anyone, unknown_person):
            r = c.get(f"/v1/persons/{pid}/flags", params=params, headers=alice)
            answers.append((r.status_code, r.json()["error"], r.json()["detail"].replace(pid, "ID")))
        assert answers[0] == answers[1] and answers[0][0] == 403, answers
        fam = []
        for fid in (family, unknown_family):
            r = c.get(f"/v1/families/{fid}/context", params=params, headers=alice)
            fam.append((r.status_code, r.json()["error"]))
        assert fam[0] == fam[1] == (403, "not_on_caseload")


def test_readyz_fails_while_the_audit_database_is_locked(tmp_path: Path):
    """The red team's lock probe: another process holds the audit database's write lock. Readiness says
    so within a second, before any request has waited its 30 s for the lock, and recovers after."""
    import sqlite3

    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        assert c.get("/v1/me", headers=bearer(tmp_path, "cw.alice")).status_code == 200
        assert c.get("/readyz").json()["stores"]["audit"] == "ok"  # (no departmental stores here)
        locker = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["stores"]["audit"] == "unavailable"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert c.get("/readyz").json()["stores"]["audit"] == "ok"
        assert c.get("/v1/me", headers=bearer(tmp_path, "cw.alice")).status_code == 200


def test_the_chain_lock_probe_on_postgresql(pg_prefix: str, tmp_path: Path):
    from sqlalchemy import create_engine, text

    from audit.signing import CheckpointKey
    from audit.store import CHAIN_LOCK, AuditStore

    url = f"{pg_prefix}audit_lock"
    store = AuditStore(
        url, CheckpointKey.load_or_create(tmp_path / "k.pem"), anchor_file=tmp_path / "w.jsonl"
    )
    store.create()
    assert store.can_take_the_chain_lock()
    holder = create_engine(url)
    with holder.begin() as conn:  # another session holds the chain lock
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
        assert not store.can_take_the_chain_lock(wait=0.5)
    assert store.can_take_the_chain_lock()
    holder.dispose()
    store.engine.dispose()
