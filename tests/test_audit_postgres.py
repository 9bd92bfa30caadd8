"""The audit log on PostgreSQL, for real: grants, an unreachable store, two gateway processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import ProgrammingError

from audit import schema
from audit.grants import grant_statements
from audit.signing import CheckpointKey
from audit.store import AuditStore, AuditUnavailable, new_event
from audit.verify import verify_chain
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import load_or_create_key
from gateway.migrations import runner as migrations
from gateway.stores.postgres import drop_database
from tests.conftest import TcpProxy, bearer, free_port, wait_healthy

pytestmark = pytest.mark.postgres


@pytest.fixture
def audit_db(pg_prefix: str):
    url = f"{pg_prefix}audit"
    yield url
    drop_database(url)


def _event(i: int) -> dict:
    return new_event(
        actor=f"u{i}", action="test", resource="/v1/test", decision="allow", reason="ok", status=200
    )


def test_the_audit_role_may_insert_and_select_but_never_update_or_delete(tmp_path, audit_db):
    owner = AuditStore(audit_db, CheckpointKey.load_or_create(tmp_path / "k.pem"))
    owner.create()
    role = f"gwt_audit_{uuid.uuid4().hex[:8]}"
    database = audit_db.rsplit("/", 1)[1]
    with owner.engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        for statement in grant_statements(role, database):
            conn.execute(text(statement))
    try:
        as_role = AuditStore(audit_db.replace("postgres@", f"{role}@"), owner.key)
        for i in range(5):
            as_role.append(_event(i))
        as_role.close()  # writes a checkpoint: INSERT on checkpoints works too
        with as_role.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.events)).scalar_one() == 5
        migrations.require_head(str(as_role.url), "audit")  # production's start-up check works as the role
        for statement in (
            text("UPDATE alembic_version_audit SET version_num = 'forged'"),
            update(schema.events).where(schema.events.c.seq == 2).values(actor="x"),
            schema.events.delete().where(schema.events.c.seq == 2),
            schema.checkpoints.delete(),
            text("TRUNCATE audit_events"),
        ):
            with pytest.raises(ProgrammingError, match="permission denied"), as_role.engine.begin() as conn:
                conn.execute(statement)
        assert verify_chain(owner.engine, owner.key.public).ok
        as_role.engine.dispose()
    finally:
        with owner.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.engine.dispose()


def test_an_unreachable_audit_store_means_503_and_no_data(tmp_path, audit_db):
    proxy = TcpProxy(("127.0.0.1", 5432))
    via_proxy = audit_db.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    settings = Settings(data_dir=tmp_path, audit_url=via_proxy)
    with TestClient(create_app(settings)) as c:
        alice = bearer(tmp_path, "cw.alice")
        ok = c.get("/v1/me", headers=alice)
        assert ok.status_code == 200 and ok.json()["sub"] == "cw.alice"
        proxy.cut()
        refused = c.get("/v1/me", headers=alice)
        assert refused.status_code == 503
        assert refused.json() == {
            "error": "audit_unavailable",
            "detail": "the access could not be recorded, so nothing is released",
        }
        assert "cw.alice" not in refused.text and "x-audit-id" not in refused.headers
        assert c.get("/readyz").json()["stores"]["audit"] == "unavailable"
        with pytest.raises(AuditUnavailable):
            c.app.state.services.audit.append(_event(1), timeout=20)
    direct = create_engine(audit_db)
    with direct.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.events)).scalar_one() == 1
    direct.dispose()


def test_two_gateway_processes_keep_one_chain(tmp_path, audit_db):
    dd = DataDir(tmp_path)
    key = CheckpointKey.load_or_create(dd.audit_key)  # made once, before the processes share it
    load_or_create_key(tmp_path)
    AuditStore(audit_db, key).create()
    ports = [free_port(), free_port()]
    limits = tmp_path / "limits.yaml"  # this test is about the chain, not per-caller limits: bursts of 20
    limits.write_text("default: {concurrent: 64, cost_per_minute: 100000}\n")
    env = {
        **os.environ,
        "GATEWAY_AUDIT_URL": audit_db,
        "GATEWAY_AUDIT_CHECKPOINT_EVERY": "50",
        "GATEWAY_LIMITS_FILE": str(limits),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", str(tmp_path), "--port", str(p)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in ports
    ]
    try:
        for p, proc in zip(ports, procs, strict=True):
            wait_healthy(f"http://127.0.0.1:{p}", proc)
        users = ["cw.alice", "cw.ben", "an.priya", "ig.olu"]
        headers = {u: bearer(tmp_path, u) for u in users}

        def call(i: int) -> int:
            port = ports[i % 2]
            r = httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers[users[i % 4]], timeout=30)
            return r.status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(call, range(200)))
        assert statuses == [200] * 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    store = AuditStore(audit_db, key, anchor_file=dd.audit_anchor)
    v = verify_chain(store.engine, key.public, dd.audit_anchor)
    assert v.ok, v.problem
    assert v.entries == 200
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count(func.distinct(schema.events.c.id)))).scalar_one() == 200
        assert (
            conn.execute(select(func.max(schema.checkpoints.c.seq))).scalar_one() == 200
        )  # sealed at shutdown
    store.engine.dispose()


def test_hostile_values_are_stored_on_postgresql_and_do_not_fail_their_batch(tmp_path, audit_db):
    """PostgreSQL enforces VARCHAR lengths and refuses NUL in text: an event built from a 2,000-character
    URL with a NUL byte is fitted before hashing, stored, and the events batched with it commit too."""
    store = AuditStore(audit_db, CheckpointKey.load_or_create(tmp_path / "k.pem"))
    store.create()
    hostile = new_event(
        action="GET /v1/" + "a" * 2000,
        resource="/v1/" + "a" * 2000 + "\x00",
        purpose="p" * 500,
        reason="refused\x00",
        subject_ids=["P\x00"],
        status=404,
    )
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(store.append, [hostile, *(new_event(action="me.read") for _ in range(15))]))
    store.close()
    assert len(written) == 16 and written[0]["action"].endswith("…") and len(written[0]["action"]) == 40
    v = verify_chain(store.engine, store.key.public)
    assert v.ok and v.entries == 16
