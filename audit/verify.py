"""Verify the audit chain and its signed checkpoints; name the first bad event.

Detects: a modified event (its hash no longer matches), a deleted, inserted or reordered event (a gap
or a broken link), a rewritten stretch with recomputed hashes (it no longer matches the signed
checkpoint after it), a truncated tail (a checkpoint, in the database or the anchor file, is beyond the
last event), a deleted checkpoint (in the anchor file but not the database), and forged checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from audit import schema
from audit.chain import GENESIS, event_hash, from_row
from audit.signing import key_id_of, verify_signature


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None
    checkpoints: int = 0
    unsealed: int = 0  # events after the last checkpoint: chained, not yet signed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _anchored(anchor: Path | None) -> list[dict[str, Any]]:
    """Checkpoints copied outside the database: one anchor file, or a directory of them (one per
    process, as the Helm chart writes them, since appends from several nodes to one shared file are
    not atomic on network filesystems)."""
    if anchor is None or not Path(anchor).exists():
        return []
    files = sorted(Path(anchor).glob("*.jsonl")) if Path(anchor).is_dir() else [Path(anchor)]
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


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


def verify_chain(
    engine: Engine,
    public_key: Ed25519PublicKey,
    anchor_file: Path | None = None,
    retired: Iterable[Ed25519PublicKey] = (),
) -> Verification:
    """`retired`: public halves of earlier checkpoint keys, so checkpoints signed before a key rotation
    still verify; a checkpoint signed by any other key is a forgery."""
    trusted = {key_id_of(k): k for k in (*retired, public_key)}
    with engine.connect() as conn:
        stored = [
            dict(r._mapping)
            for r in conn.execute(select(schema.checkpoints).order_by(schema.checkpoints.c.id))
        ]
    problems: list[tuple[int, str]] = []
    stored_keys = {(c["seq"], c["head_hash"], c["time"]) for c in stored}
    for cp in _anchored(anchor_file):
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

    expected, prev, entries = 1, GENESIS, 0
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(
            select(schema.events).order_by(schema.events.c.seq)
        )
        for row in result:
            ev = from_row(row._mapping)
            seq = ev["seq"]
            if seq != expected:
                problems.append((min(seq, expected), f"event {expected} is missing or out of place"))
                break
            if ev["prev_hash"] != prev:
                problems.append((seq, f"event {seq} does not link to the event before it"))
                break
            if event_hash(ev) != ev["hash"]:
                problems.append((seq, f"event {seq} has been modified"))
                break
            if seq in sealed and sealed[seq] != ev["hash"]:
                problems.append(
                    (
                        seq,
                        f"event {seq} does not match the signed checkpoint (events before it were rewritten)",
                    )
                )
                break
            prev, expected, entries = ev["hash"], expected + 1, entries + 1
    last = expected - 1
    beyond = [s for s in sealed if s > last]
    if beyond and not problems:
        problems.append(
            (last + 1, f"the log ends at event {last} but a signed checkpoint covers event {max(beyond)}")
        )
    last_sealed = max((s for s in sealed if s <= last), default=0)
    if problems:
        first_bad, problem = min(problems)
        return Verification(False, entries, prev, first_bad, problem, len(sealed), max(0, last - last_sealed))
    return Verification(True, entries, prev, None, None, len(sealed), last - last_sealed)
