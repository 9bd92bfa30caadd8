"""The audit chain detects every kind of tampering, and names the first bad event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update
from typer.testing import CliRunner

from audit import schema
from audit.chain import GENESIS, event_hash, to_row
from audit.signing import CheckpointKey
from audit.store import AuditStore, new_event
from audit.verify import verify_chain
from gateway.cli import app as cli
from gateway.datadir import DataDir
from tests.audit_events import flags_read

EVENTS = 60


_event = flags_read


@pytest.fixture
def store(tmp_path: Path):
    dd = DataDir(tmp_path)
    s = AuditStore(
        dd.audit_url(),
        CheckpointKey.load_or_create(dd.audit_key),
        anchor_file=dd.audit_anchor,
        checkpoint_every=20,
    )
    s.create()
    for i in range(EVENTS):
        s.append(_event(i))
    s.close()
    return s


def _verify(store: AuditStore):
    return verify_chain(store.engine, store.key.public, store.anchor_file)


def _exec(store: AuditStore, statement) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement)


E = schema.events


def test_an_untouched_log_verifies(store):
    v = _verify(store)
    assert v.ok and v.entries == EVENTS and v.checkpoints == 3 and v.unsealed == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(E.c.hash).where(E.c.seq == EVENTS)).scalar_one() == v.head_hash


def test_an_edited_field_is_detected(store):
    _exec(store, update(E).where(E.c.seq == 17).values(actor="someone_else"))
    v = _verify(store)
    assert not v.ok and v.first_bad == 17 and "modified" in v.problem


def test_a_deleted_event_is_detected(store):
    _exec(store, delete(E).where(E.c.seq == 33))
    v = _verify(store)
    assert not v.ok and v.first_bad == 33


def test_two_swapped_events_are_detected(store):
    with store.engine.begin() as conn:
        conn.execute(update(E).where(E.c.seq == 10).values(seq=-10))
        conn.execute(update(E).where(E.c.seq == 11).values(seq=10))
        conn.execute(update(E).where(E.c.seq == -10).values(seq=11))
    v = _verify(store)
    assert not v.ok and v.first_bad == 10


def test_a_forged_event_with_recomputed_hashes_is_caught_by_the_witness_and_the_checkpoint(store):
    """Insert a fake event at 25, renumber and re-hash everything after it: the chain is internally
    consistent again, but no longer matches the witness's commit record for event 25, nor (read without
    the witness) the signed checkpoint at 40."""
    with store.engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(E).where(E.c.seq >= 25).order_by(E.c.seq))]
        conn.execute(delete(E).where(E.c.seq >= 25))
        prev = conn.execute(select(E.c.hash).where(E.c.seq == 24)).scalar_one()
        from audit.chain import from_row

        forged = [_event(999)] + [from_row(r) for r in rows]
        for offset, ev in enumerate(forged):
            ev = {**ev, "seq": 25 + offset, "prev_hash": prev}
            ev["hash"] = event_hash(ev)
            prev = ev["hash"]
            conn.execute(insert(E).values(**to_row(ev)))
    v = _verify(store)
    assert not v.ok and v.first_bad == 25 and "witness" in v.problem
    without_witness = verify_chain(store.engine, store.key.public)
    assert not without_witness.ok and without_witness.first_bad == 40
    assert "signed checkpoint" in without_witness.problem


def test_a_truncated_tail_is_detected(store):
    _exec(store, delete(E).where(E.c.seq > 45))
    v = _verify(store)
    assert not v.ok and v.first_bad == 46 and "ends at event 45" in v.problem


def test_truncation_with_the_checkpoints_deleted_too_is_caught_by_the_anchor(store):
    _exec(store, delete(E).where(E.c.seq > 45))
    _exec(store, delete(schema.checkpoints).where(schema.checkpoints.c.seq > 45))
    v = _verify(store)
    assert not v.ok and "removed from the database" in v.problem


def test_a_forged_checkpoint_signature_is_detected(store):
    other = CheckpointKey.load_or_create(Path(store.anchor_file).parent / "other.pem")
    _exec(
        store,
        insert(schema.checkpoints).values(
            seq=50,
            head_hash="f" * 64,
            time="2026-01-01T00:00:00Z",
            key_id=other.key_id,
            signature=other.sign(50, "f" * 64, "2026-01-01T00:00:00Z"),
        ),
    )
    v = _verify(store)
    assert not v.ok and "invalid signature" in v.problem


def test_cli_prints_ok_then_names_the_first_bad_event(store, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.split()[:2] == ["OK", str(EVENTS)] and ok.output.split()[2] == _verify(store).head_hash
    _exec(store, text("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 5"))
    bad = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and bad.output.startswith("BAD 5:")


def test_concurrent_appends_from_threads_form_one_gap_free_chain(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    dd = DataDir(tmp_path)
    s = AuditStore(dd.audit_url(), CheckpointKey.load_or_create(dd.audit_key), anchor_file=dd.audit_anchor)
    s.create()
    with ThreadPoolExecutor(16) as pool:
        written = list(pool.map(lambda i: s.append(_event(i)), range(400)))
    s.close()
    assert sorted(e["seq"] for e in written) == list(range(1, 401))
    assert s.batches < 400  # group commit: several events per transaction
    assert _verify(s).ok


texts = st.text(max_size=20)


@given(
    st.fixed_dictionaries(
        {
            "actor": texts,
            "reason": texts,
            "subject_ids": st.lists(texts, max_size=3),
            "rows_released": st.integers(0, 10**6),
            "break_glass": st.booleans(),
        }
    ),
    st.sampled_from(["actor", "reason", "subject_ids", "rows_released", "break_glass"]),
)
def test_changing_any_field_changes_the_hash(fields, name):
    ev = {**new_event(**fields), "seq": 1, "prev_hash": GENESIS}
    changed = dict(ev)
    value = ev[name]
    changed[name] = (
        (not value)
        if isinstance(value, bool)
        else (
            value + 1 if isinstance(value, int) else [*value, "x"] if isinstance(value, list) else value + "x"
        )
    )
    assert event_hash(ev) == event_hash(dict(ev))
    assert event_hash(changed) != event_hash(ev)


def test_a_rotated_checkpoint_key_keeps_earlier_checkpoints_verifiable(store, tmp_path):
    """Rotation: the new key signs from now on; the old key's public half (`audit public-key`, kept
    as `audit_retired_keys`) still verifies what it signed, and nothing else is trusted."""
    old_public = tmp_path / "retired-1.pem"
    printed = CliRunner().invoke(cli, ["audit", "public-key", "--data-dir", str(tmp_path)])
    assert printed.exit_code == 0 and "BEGIN PUBLIC KEY" in printed.stdout
    old_public.write_text(printed.stdout)
    new_key_file = tmp_path / "keys" / "audit-checkpoint-2.pem"
    rotated = AuditStore(store.url, CheckpointKey.load_or_create(new_key_file), anchor_file=store.anchor_file)
    for i in range(5):
        rotated.append(_event(EVENTS + i))
    rotated.close()  # seals the head with the new key
    assert not verify_chain(rotated.engine, rotated.key.public, rotated.anchor_file).ok, "old key unknown"
    with_retired = ["--data-dir", str(tmp_path)]
    result = CliRunner(
        env={"GATEWAY_AUDIT_KEY_FILE": str(new_key_file), "GATEWAY_AUDIT_RETIRED_KEYS": f'["{old_public}"]'}
    ).invoke(cli, ["audit", "verify", *with_retired])
    assert result.exit_code == 0 and result.stdout.startswith(f"OK {EVENTS + 5} "), result.output
    stranger = CheckpointKey.load_or_create(tmp_path / "keys" / "stranger.pem")
    forged = verify_chain(rotated.engine, rotated.key.public, rotated.anchor_file, [stranger.public])
    assert not forged.ok and "invalid signature" in forged.problem


@given(
    st.fixed_dictionaries(
        {
            "actor": st.text(max_size=400),
            "action": st.text(max_size=200),
            "resource": st.text(max_size=1000),
            "purpose": st.text(max_size=300),
            "reason": st.text(max_size=300),
            "subject_ids": st.lists(st.text(max_size=30), max_size=3),
        }
    )
)
def test_every_event_fits_its_columns_and_holds_no_nul(fields):
    from audit.store import COLUMN_LENGTHS, storable

    event = storable(new_event(**fields))
    for name, length in COLUMN_LENGTHS.items():
        assert event[name] is None or len(event[name]) <= length
    assert "\x00" not in json.dumps(event, ensure_ascii=False)
    assert storable(event) == event, "fitting twice changes nothing"
    for name, value in fields.items():  # short, clean values are kept exactly
        if isinstance(value, str) and "\x00" not in value and len(value) <= COLUMN_LENGTHS.get(name, 10**9):
            assert event[name] == value


def test_an_event_the_database_refuses_does_not_fail_the_others_in_its_batch(tmp_path):
    """A duplicate id (IntegrityError) queued with good events: they are committed, it alone is refused."""
    from concurrent.futures import ThreadPoolExecutor

    from audit.store import AuditUnavailable

    dd = DataDir(tmp_path)
    s = AuditStore(dd.audit_url(), CheckpointKey.load_or_create(dd.audit_key))
    s.create()
    first = s.append(_event(0))
    events = [_event(i) for i in range(1, 30)]
    events.insert(15, {**_event(99), "id": first["id"]})

    def append(ev):
        try:
            return s.append(ev)["seq"]
        except AuditUnavailable:
            return None

    with ThreadPoolExecutor(16) as pool:
        seqs = list(pool.map(append, events))
    s.close()
    assert seqs[15] is None and all(q is not None for i, q in enumerate(seqs) if i != 15)
    assert sorted(q for q in seqs if q) == list(range(2, 31))
    assert _verify(s).ok
