"""Verify the audit chain against its signed checkpoints and its witness; name the first bad event.

Detects: a modified event (its hash no longer matches), a deleted, inserted or reordered event (a gap
or a broken link), a rewritten stretch with recomputed hashes (it no longer matches the witness's
commit record or the signed checkpoint after it), events appended or inserted with database access
alone (they lie in no witness commit record), a truncated tail (the witness or a checkpoint is beyond
the last event), a deleted checkpoint (in the witness but not the database), forged checkpoints, a
missing or emptied witness, and a tail left unsealed longer than the sealing interval allows.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, func, select

from audit import schema
from audit.chain import GENESIS, event_hash, from_row
from audit.signing import key_id_of, verify_signature
from audit.witness import CHECKPOINT, COMMIT, GAP, FileWitness, Witness, coverage, kind_of, uncovered

IN_FLIGHT_SECONDS = 10.0  # a live writer witnesses a commit within milliseconds; allow for a busy host


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None
    checkpoints: int = 0
    unsealed: int = 0  # events after the last checkpoint: chained and witnessed, not yet signed
    witnessed: bool = False  # a witness was consulted
    warnings: list[str] = field(default_factory=list)  # ranges a reviewer must look at

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_witness(witness: Witness | Path | None) -> Witness | None:
    if witness is None or not isinstance(witness, (str, Path)):
        return witness
    return FileWitness(Path(witness), read_path=Path(witness))


def latest_checkpoint(engine: Engine) -> dict[str, Any] | None:
    """The newest signed checkpoint as stored: what an IG officer compares with the anchored copy."""
    with engine.connect() as conn:
        row = conn.execute(
            select(schema.checkpoints).order_by(schema.checkpoints.c.id.desc()).limit(1)
        ).first()
    return (
        None
        if row is None
        else {k: row._mapping[k] for k in ("seq", "head_hash", "time", "key_id", "signature")}
    )


def _age_seconds(stamp: str, now: float) -> float:
    return now - dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def verify_chain(
    engine: Engine,
    public_key: Ed25519PublicKey,
    anchor_file: Witness | Path | None = None,
    retired: Iterable[Ed25519PublicKey] = (),
    max_unsealed_seconds: float | None = None,
    now: float | None = None,
) -> Verification:
    """`anchor_file`: the witness (a file, a directory of per-process files, or a `Witness`); when it is
    given it must exist and account for every event. `retired`: public halves of earlier checkpoint
    keys, so checkpoints signed before a key rotation still verify; any other signer is a forgery.
    `max_unsealed_seconds`: fail when the oldest event not yet under a checkpoint is older than this."""
    witness = _as_witness(anchor_file)
    for attempt in range(6):
        result = _verify_once(engine, public_key, witness, retired, max_unsealed_seconds, now)
        if not (result.problem or "").endswith("(not in the witness)") or attempt == 5:
            return result
        # The newest events may be a live writer's commit whose witness record is being written.
        time.sleep(0.5)
    return result


def _verify_once(
    engine: Engine,
    public_key: Ed25519PublicKey,
    witness: Witness | None,
    retired: Iterable[Ed25519PublicKey],
    max_unsealed_seconds: float | None,
    now: float | None,
) -> Verification:
    trusted = {key_id_of(k): k for k in (*retired, public_key)}
    problems: list[tuple[int, str]] = []
    warnings: list[str] = []
    with engine.connect() as conn:
        stored = [
            dict(r._mapping)
            for r in conn.execute(select(schema.checkpoints).order_by(schema.checkpoints.c.id))
        ]
    # The witness is read after the events are counted, so a commit that lands meanwhile is at worst
    # witnessed beyond what verification walks (harmless), never the other way round.
    head = _head_seq(engine)
    entries = witness.read() if witness is not None else []
    if witness is not None and head and not witness.exists():
        problems.append((1, f"the audit witness {witness.describe()} is missing or empty: it was deleted"))

    stored_keys = {(c["seq"], c["head_hash"], c["time"]) for c in stored}
    for cp in (e for e in entries if kind_of(e) == CHECKPOINT):
        if (cp["seq"], cp["head_hash"], cp["time"]) not in stored_keys:
            problems.append((cp["seq"], f"the checkpoint at event {cp['seq']} was removed from the database"))
            stored.append(cp)
    sealed: dict[int, str] = {}
    for cp in stored:
        signer = trusted.get(cp["key_id"])
        if signer is None or not verify_signature(
            signer, cp["seq"], cp["head_hash"], cp["time"], cp["signature"]
        ):
            problems.append((cp["seq"], f"the checkpoint at event {cp['seq']} has an invalid signature"))
            continue
        sealed[cp["seq"]] = cp["head_hash"]
    witnessed_heads: dict[int, str] = {}
    for e in entries:
        if kind_of(e) == COMMIT:
            witnessed_heads.setdefault(int(e["last"]), str(e["head"]))

    expected, prev, entries_ok, matched_through = 1, GENESIS, 0, 0
    # Times kept only where needed: the event after each checkpoint (the oldest unsealed one) and the last.
    times: dict[int, str] = {}
    for ev in _events(engine, head):
        seq = ev["seq"]
        if seq - 1 in sealed or seq == 1 or seq == head:
            times[seq] = ev["time"]
        if seq != expected:
            problems.append((min(seq, expected), f"event {expected} is missing or out of place"))
            break
        if ev["prev_hash"] != prev:
            problems.append((seq, f"event {seq} does not link to the event before it"))
            break
        if event_hash(ev) != ev["hash"]:
            problems.append((seq, f"event {seq} has been modified"))
            break
        if seq in witnessed_heads:
            if witnessed_heads[seq] != ev["hash"]:
                problems.append(
                    (
                        matched_through + 1,
                        f"events {matched_through + 1} to {seq} do not match the witness "
                        "(they were rewritten in the database)",
                    )
                )
                break
            matched_through = seq
        if seq in sealed and sealed[seq] != ev["hash"]:
            problems.append(
                (seq, f"event {seq} does not match the signed checkpoint (events before it were rewritten)")
            )
            break
        prev, expected, entries_ok = ev["hash"], expected + 1, entries_ok + 1
    last = expected - 1
    beyond = [s for s in sealed if s > last]
    if beyond and not problems:
        problems.append(
            (last + 1, f"the log ends at event {last} but a signed checkpoint covers event {max(beyond)}")
        )
    if witness is not None and not problems:
        problems += _witness_problems(entries, times, last)
        warnings += [
            f"events {e['first']} to {e['last']} were found without a witness record when a gateway "
            f"started at {e.get('time', '?')} (a crash between commit and witness, or rows inserted "
            "while it was down): review them"
            for e in entries
            if kind_of(e) == GAP
        ]
    last_sealed = max((s for s in sealed if s <= last), default=0)
    if max_unsealed_seconds is not None and last > last_sealed and not problems:
        # When it was committed, by the witness's clock (an event's own time field is the caller's).
        oldest = next(
            (
                str(e["time"])
                for e in entries
                if kind_of(e) == COMMIT and int(e["first"]) <= last_sealed + 1 <= int(e["last"])
            ),
            times[last_sealed + 1],
        )
        age = _age_seconds(oldest, now if now is not None else time.time())
        if age > max_unsealed_seconds:
            problems.append(
                (
                    last_sealed + 1,
                    f"events {last_sealed + 1} to {last} have waited {age:.0f} s for a signed checkpoint, "
                    f"longer than the {max_unsealed_seconds:.0f} s the sealing interval allows "
                    "(the gateway stopped without sealing, or they were inserted)",
                )
            )
    unsealed = max(0, last - last_sealed)
    if problems:
        first_bad, problem = min(problems)
        return Verification(
            False, entries_ok, prev, first_bad, problem, len(sealed), unsealed, witness is not None, warnings
        )
    return Verification(
        True, entries_ok, prev, None, None, len(sealed), unsealed, witness is not None, warnings
    )


def _head_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(schema.events.c.seq), 0))).scalar_one())


def _events(engine: Engine, head: int) -> Iterator[dict[str, Any]]:
    """The events up to `head` in order, streamed (a log of millions is never held in memory)."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(
            select(schema.events).where(schema.events.c.seq <= head).order_by(schema.events.c.seq)
        )
        for row in result:
            yield from_row(row._mapping)


def _witness_problems(
    entries: list[dict[str, Any]], times: dict[int, str], last: int
) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    highest = max((int(e["last"]) for e in entries if kind_of(e) in (COMMIT, GAP)), default=0)
    if highest > last:
        problems.append(
            (last + 1, f"the log ends at event {last} but the witness records event {highest} (truncated)")
        )
    for first, end in uncovered(coverage(entries), last):
        recent = end == last and _age_seconds(times[last], time.time()) < IN_FLIGHT_SECONDS
        where = "(not in the witness)" if end == last and recent else "(inserted with database access)"
        problems.append((first, f"events {first} to {end} were committed without a witness record {where}"))
    return problems
