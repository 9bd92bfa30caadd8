"""PostgreSQL grants for the role the gateway writes the audit log with: INSERT and SELECT, nothing more.

With these grants a compromised or buggy gateway cannot UPDATE or DELETE an event; only the database
owner can, and the hash chain and signed checkpoints then show it. Run as the owner after the tables
exist (`gateway db upgrade --only audit` as the owner). The role may also read the migration version,
which production checks at start-up, but not change it.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_statements(role: str, database: str) -> list[str]:
    if not _ROLE.match(role) or not _ROLE.match(database.lower()):
        raise ValueError("role and database names must be plain identifiers")
    return [
        f'REVOKE ALL ON audit_events, audit_checkpoints FROM "{role}"',
        f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO "{role}"',
        f'GRANT USAGE ON SEQUENCE audit_checkpoints_id_seq TO "{role}"',
        f'GRANT SELECT ON alembic_version_audit TO "{role}"',
    ]
