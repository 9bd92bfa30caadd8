"""Open the audit store a gateway is configured for (shared by the service and the CLI)."""

from __future__ import annotations

from pathlib import Path

from audit.signing import CheckpointKey, load_public
from audit.store import AuditStore
from audit.witness import FileWitness
from gateway.config import Settings

SEALING_SLACK_SECONDS = 30.0  # the sealing timer's tick may land this late on a busy host


def open_audit(settings: Settings, *, create_key: bool = True) -> AuditStore:
    """`create_key=False` for readers (verification): a missing key is an error, never a new key that
    would make every earlier checkpoint look forged or let a forgery be signed."""
    dd = settings.datadir()
    key_file = settings.audit_key_file or dd.audit_key
    # Demo mode makes its checkpoint key on first use; production reads the one it was given.
    key = (
        CheckpointKey.load_or_create(key_file)
        if settings.mode == "demo" and create_key
        else CheckpointKey.load(key_file)
    )
    anchor = Path(settings.audit_anchor_file or dd.audit_anchor)
    store = AuditStore(
        settings.audit_db_url(),
        key,
        anchor_file=anchor,
        witness=FileWitness(anchor, read_path=settings.audit_anchor_dir or anchor),
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
    )
    store.retired_keys = tuple(load_public(path) for path in settings.audit_retired_keys)
    return store


def max_unsealed_seconds(settings: Settings) -> float:
    """How old the oldest unsigned event may be before verification calls the tail stale."""
    return settings.audit_checkpoint_seconds + SEALING_SLACK_SECONDS
