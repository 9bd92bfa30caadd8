"""Open the audit store a gateway is configured for (shared by the service and the CLI)."""

from __future__ import annotations

from pathlib import Path

from audit.signing import CheckpointKey
from audit.store import AuditStore
from gateway.config import Settings
from gateway.datadir import DataDir


def open_audit(settings: Settings) -> AuditStore:
    dd = DataDir(Path(settings.data_dir))
    key = CheckpointKey.load_or_create(settings.audit_key_file or dd.audit_key)
    store = AuditStore(
        settings.audit_url or dd.audit_url(),
        key,
        anchor_file=dd.audit_anchor,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
    )
    return store
