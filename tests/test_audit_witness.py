"""The red team's audit findings, replayed: with write access to the audit database alone (on a copy of
the data directory, as an insider with the database's credentials would have it), nothing can be
deleted, edited, appended or inserted unnoticed; a removed witness is reported, never read as "no
checkpoints"; an idle gateway seals its tail; a refused request never leaves an "allow" event; and
verification never makes a key."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from audit import schema
from audit.chain import event_hash, from_row, to_row
from audit.signing import CheckpointKey
from audit.store import UNDELIVERED_REASON, AuditStore, AuditUnavailable
from audit.verify import verify_chain
from audit.witness import FileWitness
from gateway.cli import app as cli
from gateway.datadir import DataDir
from tests.audit_events import flags_read

E = schema.events
SEALED, UNSEALED = 40, 7  # checkpoints every 20 events: 40 sealed, then 7 chained and witnessed only


_event = flags_read


def _open(root: Path, **kw) -> AuditStore:
    dd = DataDir(root)
    kw.setdefault("checkpoint_every", 20)
    kw.setdefault("seal_on_timer", False)
    store = AuditStore(
        dd.audit_url(), CheckpointKey.load_or_create(dd.audit_key), anchor_file=dd.audit_anchor, **kw
    )
    store.create()
    return store


@pytest.fixture
def live_log(tmp_path: Path) -> Path:
    """A data directory whose log has sealed history, a break-glass event and an unsealed tail, as a
    gateway that was just stopped by kill -9 would leave it (no closing checkpoint)."""
    root = tmp_path / "live"
    store = _open(root)
    for i in range(SEALED + UNSEALED):
        fields = {"break_glass": True, "actor": "cw.mallory"} if i == SEALED + 2 else {}
        store.append(_event(i, **fields))
    store._queue.put(None)  # stop the writer without the closing checkpoint
    store._writer.join()
    store.engine.dispose()
    return root


@pytest.fixture
def stolen_copy(live_log: Path, tmp_path: Path) -> Path:
    """The insider's copy of the data directory: they hold the audit database, not the signing key's
    process nor the witness's storage."""
    copy = tmp_path / "copy"
    shutil.copytree(live_log, copy)
    return copy


def _verify(root: Path, **kw):
    dd = DataDir(root)
    store = AuditStore(dd.audit_url(), CheckpointKey.load(dd.audit_key), anchor_file=dd.audit_anchor)
    try:
        return verify_chain(store.engine, store.key.public, store.witness, **kw)
    finally:
        store.engine.dispose()


def _db(root: Path):
    return _open(root).engine


def _rehash_from(conn, first: int) -> None:
    """What an insider with database access does after an edit: recompute every hash from `first` on."""
    prev = conn.execute(select(E.c.hash).where(E.c.seq == first - 1)).scalar_one()
    rows = [from_row(r._mapping) for r in conn.execute(select(E).where(E.c.seq >= first).order_by(E.c.seq))]
    for ev in rows:
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(ev)
        prev = ev["hash"]
        conn.execute(update(E).where(E.c.seq == ev["seq"]).values(prev_hash=ev["prev_hash"], hash=ev["hash"]))


def test_the_untouched_copy_verifies(stolen_copy):
    v = _verify(stolen_copy)
    assert v.ok, v.problem
    assert v.entries == SEALED + UNSEALED and v.unsealed == UNSEALED and v.witnessed


def test_deleting_the_newest_unsealed_events_is_detected(stolen_copy):
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        conn.execute(delete(E).where(E.c.seq > SEALED + 3))
    v = _verify(stolen_copy)
    print("delete tail:", v.problem)
    assert not v.ok and v.first_bad == SEALED + 4 and "witness records event" in v.problem


def test_editing_an_unsealed_break_glass_event_with_recomputed_hashes_is_detected(stolen_copy):
    target = SEALED + 3  # the break-glass event (seq is 1-based)
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        row = conn.execute(select(E).where(E.c.seq == target)).one()
        assert row.break_glass and row.actor == "cw.mallory"
        conn.execute(update(E).where(E.c.seq == target).values(break_glass=False, actor="cw.user0"))
        _rehash_from(conn, target)
    v = _verify(stolen_copy)
    print("edit break-glass:", v.problem)
    assert not v.ok and v.first_bad <= target and "witness" in v.problem


def test_appending_a_forged_event_is_detected(stolen_copy):
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        head = conn.execute(select(E).order_by(E.c.seq.desc()).limit(1)).one()
        forged = {**_event(999, actor="ig.olu"), "seq": head.seq + 1, "prev_hash": head.hash}
        forged["hash"] = event_hash(forged)
        conn.execute(insert(E).values(**to_row(forged)))
    v = _verify(stolen_copy)
    print("append:", v.problem)
    assert not v.ok and v.first_bad == head.seq + 1 and "without a witness record" in v.problem


def test_the_stores_own_checkpoint_does_not_launder_a_forgery(stolen_copy):
    """The insider edits the tail, then seals it with the service's own checkpoint(): the signature
    covers the forged head, but the witness still holds the real one."""
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        conn.execute(update(E).where(E.c.seq == SEALED + 5).values(subject_ids='["P7777"]'))
        _rehash_from(conn, SEALED + 5)
    sealed = _open(stolen_copy).checkpoint()
    assert sealed is not None and sealed["seq"] == SEALED + UNSEALED
    v = _verify(stolen_copy)
    assert not v.ok and "witness" in v.problem


def test_an_event_inserted_between_two_commits_of_a_live_gateway_is_detected(tmp_path):
    store = _open(tmp_path)
    for i in range(5):
        store.append(_event(i))
    with store.engine.begin() as conn:  # the insider, between two requests
        head = conn.execute(select(E).order_by(E.c.seq.desc()).limit(1)).one()
        forged = {**_event(99), "seq": head.seq + 1, "prev_hash": head.hash}
        forged["hash"] = event_hash(forged)
        conn.execute(insert(E).values(**to_row(forged)))
    for i in range(5, 10):
        store.append(_event(i))  # the gateway chains onto the forged event and witnesses its own
    store.close()
    v = verify_chain(store.engine, store.key.public, store.witness)
    assert not v.ok and v.first_bad == 6 and "inserted with database access" in v.problem


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_removed_witness_is_reported_not_read_as_no_checkpoints(stolen_copy, how):
    anchor = DataDir(stolen_copy).audit_anchor
    if how == "deleted":
        anchor.unlink()
    else:
        anchor.write_text("")
    engine = _db(stolen_copy)
    with engine.begin() as conn:  # and, with the anchor gone, truncate sealed history
        conn.execute(delete(E).where(E.c.seq > 30))
        conn.execute(delete(schema.checkpoints).where(schema.checkpoints.c.seq > 30))
    v = _verify(stolen_copy)
    assert not v.ok and v.first_bad == 1 and "missing or empty" in v.problem


def test_a_tail_unsealed_longer_than_the_interval_fails_verification(stolen_copy):
    now = time.time()
    assert _verify(stolen_copy, max_unsealed_seconds=60, now=now).ok
    later = _verify(stolen_copy, max_unsealed_seconds=60, now=now + 61)
    assert not later.ok and later.first_bad == SEALED + 1 and "waited" in later.problem


def test_an_idle_gateway_seals_its_tail_on_a_timer(tmp_path):
    store = _open(tmp_path, checkpoint_every=1000, checkpoint_seconds=0.3, seal_on_timer=True)
    for i in range(3):
        store.append(_event(i))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # no further event arrives: only the timer can seal
        v = verify_chain(store.engine, store.key.public, store.witness)
        if v.unsealed == 0:
            break
        time.sleep(0.1)
    assert v.ok and v.unsealed == 0 and v.checkpoints >= 1
    store.close()


def test_a_gap_found_at_start_up_is_named_for_review(stolen_copy):
    """Rows inserted while no gateway ran: the next gateway records them as a gap instead of
    adopting them silently, and every verification names them."""
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        head = conn.execute(select(E).order_by(E.c.seq.desc()).limit(1)).one()
        forged = {**_event(999), "seq": head.seq + 1, "prev_hash": head.hash}
        forged["hash"] = event_hash(forged)
        conn.execute(insert(E).values(**to_row(forged)))
    store = _open(stolen_copy)
    store.append(_event(1000))
    store.close()
    v = verify_chain(store.engine, store.key.public, store.witness)
    assert v.ok and len(v.warnings) == 1
    assert f"events {head.seq + 1} to {head.seq + 1}" in v.warnings[0] and "review them" in v.warnings[0]


def _stall_inserts(engine, seconds: float, times: int = 1) -> threading.Event:
    """Make the next `times` event inserts take `seconds` (a database that has stopped answering)."""
    entered = threading.Event()
    left = [times]

    @event.listens_for(engine, "before_cursor_execute")
    def _slow(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS") and left[0] > 0:
            left[0] -= 1
            entered.set()
            time.sleep(seconds)

    return entered


def _append(store: Any, how: str, event_: dict[str, Any], timeout: float) -> None:
    """As a worker thread appends (`append`), or as the audit middleware does, awaiting on the event
    loop (`append_async`): both must refuse the same way and leave the same record."""
    if how == "append":
        store.append(event_, timeout=timeout)
    else:
        asyncio.run(store.append_async(event_, timeout=timeout))


@pytest.mark.parametrize("how", ["append", "append_async"])
def test_a_refused_request_leaves_no_allow_event_when_it_was_still_queued(tmp_path, how):
    store = _open(tmp_path)
    entered = _stall_inserts(store.engine, 3.0)  # far longer than the refused caller waits below
    first = threading.Thread(target=store.append, args=(_event(0),))
    first.start()
    assert entered.wait(5)  # the writer is stuck on the first commit; the next event waits in the queue
    late = _event(1, subject_ids=["P4242"])
    with pytest.raises(AuditUnavailable):
        _append(store, how, late, 0.2)
    first.join()
    store.close()
    with store.engine.connect() as conn:
        kept = from_row(conn.execute(select(E).where(E.c.id == late["id"])).one()._mapping)
    assert kept["decision"] == "deny" and kept["status"] == 503 and kept["reason"] == UNDELIVERED_REASON
    assert kept["rows_released"] == 0 and kept["fields_released"] == [] and kept["subject_ids"] == ["P4242"]
    assert verify_chain(store.engine, store.key.public, store.witness).ok


@pytest.mark.parametrize("next_commit", [True, False], ids=["settled by the next commit", "settled on close"])
def test_a_commit_whose_acknowledgement_was_lost_is_witnessed_and_noticed(tmp_path, next_commit):
    """The database commits, then the connection drops before it says so (the load benchmark's audit
    outage hit this): the caller is refused, so the event must end up witnessed and noticed, not left
    as an unwitnessed event nobody was told of."""
    store = _open(tmp_path)
    real = store._witness_record
    dropped = []

    def commit_then_drop(entry: dict[str, Any], durable: bool = False) -> None:
        if entry.get("kind") == "commit" and not dropped:
            dropped.append(entry["first"])
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))
        real(entry, durable=durable)

    store._witness_record = commit_then_drop  # type: ignore[method-assign]
    lost = _event(0, subject_ids=["P7777"])
    with pytest.raises(AuditUnavailable):
        store.append(lost)
    if next_commit:
        store.append(_event(1))
    store.close()
    with store.engine.connect() as conn:
        rows = [from_row(r._mapping) for r in conn.execute(select(E).order_by(E.c.seq))]
    kept = next(r for r in rows if r["id"] == lost["id"])
    notices = [r for r in rows if r["action"] == "audit.undelivered"]
    assert dropped == [kept["seq"]], "the event was in the database although its commit raised"
    assert len(notices) == 1 and notices[0]["resource"] == f"audit-event:{lost['id']}"
    assert notices[0]["subject_ids"] == ["P7777"] and notices[0]["status"] == 503
    assert verify_chain(store.engine, store.key.public, store.witness).ok


@pytest.mark.parametrize("how", ["append", "append_async"])
def test_a_refused_request_whose_event_was_being_written_gets_a_notice(tmp_path, how):
    store = _open(tmp_path)
    entered = _stall_inserts(store.engine, 3.0)
    slow = _event(0, subject_ids=["P5151"])
    # The caller gives up after 1 s; the writer takes a queued event within milliseconds, so by then it
    # is inside the stalled insert (asserted below), committing an event whose caller was refused.
    with pytest.raises(AuditUnavailable):
        _append(store, how, slow, 1.0)
    assert entered.is_set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            notices = conn.execute(select(E).where(E.c.action == "audit.undelivered")).all()
        if notices:
            break
        time.sleep(0.1)
    store.close()
    assert len(notices) == 1
    notice = from_row(notices[0]._mapping)
    assert notice["resource"] == f"audit-event:{slow['id']}" and notice["status"] == 503
    assert notice["subject_ids"] == ["P5151"] and notice["decision"] == "deny"


def test_an_unreachable_witness_refuses_the_request_and_the_log_says_so(tmp_path):
    """The witness's storage goes away and comes back (its directory unmounted and remounted, which
    is atomic: nothing can be written in between)."""
    dd = DataDir(tmp_path)
    mount = tmp_path / "witness"
    key = CheckpointKey.load_or_create(dd.audit_key)
    store = AuditStore(dd.audit_url(), key, anchor_file=mount / "anchor.jsonl", seal_on_timer=False)
    store.create()
    store.append(_event(0))
    mount.rename(tmp_path / "witness.away")  # every witness write now fails: its directory is gone
    with pytest.raises(AuditUnavailable, match="witness"):
        store.append(_event(1, subject_ids=["P6161"]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the notice is committed too (and its witness write fails)
        with store.engine.connect() as conn:
            if conn.execute(select(E.c.seq).where(E.c.action == "audit.undelivered")).first():
                break
        time.sleep(0.05)
    (tmp_path / "witness.away").rename(mount)
    store.append(_event(2))  # the witness is back: this commit's record covers the refused ones too
    store.close()
    with store.engine.connect() as conn:
        rows = [from_row(r._mapping) for r in conn.execute(select(E).order_by(E.c.seq))]
    notice = [r for r in rows if r["action"] == "audit.undelivered"]
    assert len(notice) == 1 and notice[0]["subject_ids"] == ["P6161"]
    v = verify_chain(store.engine, store.key.public, store.witness)
    assert v.ok, v.problem


def test_cli_verify_fails_on_the_tampered_copy_and_never_makes_a_key(stolen_copy, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--data-dir", str(stolen_copy)])
    assert ok.exit_code == 0 and ok.stdout.startswith("OK"), ok.output
    engine = _db(stolen_copy)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)"))
    bad = runner.invoke(cli, ["audit", "verify", "--data-dir", str(stolen_copy)])
    assert bad.exit_code == 1 and bad.stdout.startswith("BAD"), bad.output
    # an auditor with only the public half
    public = tmp_path / "checkpoint.pub"
    public.write_text(runner.invoke(cli, ["audit", "public-key", "--data-dir", str(stolen_copy)]).stdout)
    key = DataDir(stolen_copy).audit_key
    key.unlink()
    missing = runner.invoke(cli, ["audit", "verify", "--data-dir", str(stolen_copy)])
    assert missing.exit_code == 1 and "does not make a new key" in missing.output
    assert not key.exists()
    audited = runner.invoke(
        cli, ["audit", "verify", "--data-dir", str(stolen_copy), "--public-key", str(public)]
    )
    assert audited.exit_code == 1 and audited.stdout.startswith("BAD"), audited.output


def test_witness_records_are_per_commit_ranges(tmp_path):
    store = _open(tmp_path)
    for i in range(3):
        store.append(_event(i))
    store.close()
    records = FileWitness(DataDir(tmp_path).audit_anchor).read()
    commits = [r for r in records if r.get("kind") == "commit"]
    assert [(c["first"], c["last"]) for c in commits] == [(1, 1), (2, 2), (3, 3)]
    with store.engine.connect() as conn:
        hashes = dict(conn.execute(select(E.c.seq, E.c.hash)).all())
    assert all(c["head"] == hashes[c["last"]] for c in commits)
    assert json.loads(DataDir(tmp_path).audit_anchor.read_text().splitlines()[-1])["kind"] == "checkpoint"
