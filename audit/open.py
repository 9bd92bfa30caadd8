"""Open the audit store a gateway is configured for (shared by the service and the CLI)."""

from __future__ import annotations

from audit.signing import CheckpointKey, load_public
from audit.store import AuditStore
from gateway.config import Settings


def open_audit(settings: Settings) -> AuditStore:
    dd = settings.datadir()
    key_file = settings.audit_key_file or dd.audit_key
    # Demo mode makes its checkpoint key on first use; production reads the one it was given.
    key = (
        CheckpointKey.load(key_file)
        if settings.mode == "production"
        else CheckpointKey.load_or_create(key_file)
    )
    store = AuditStore(
        settings.audit_db_url(),
        key,
        anchor_file=settings.audit_anchor_file or dd.audit_anchor,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
    )
    store.retired_keys = tuple(load_public(path) for path in settings.audit_retired_keys)
    return store
