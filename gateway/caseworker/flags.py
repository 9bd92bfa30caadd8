"""Flags as caseworker views use them, read from the department registry (`gateway/departments/`):
every flag spec, the services that have flags, each service's flag query and protection marker.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, select

from gateway.departments import flag_queries, flags, protection_markers, store_tables
from gateway.departments.flags import FlagSpec, RawFlag

FLAGS: tuple[FlagSpec, ...] = flags()
SERVICES = tuple(dict.fromkeys(f.service for f in FLAGS))
SERVICE_QUERIES = flag_queries()
# Where a person's record says their whereabouts must not be disclosed.
PROTECTION_MARKERS = protection_markers()

__all__ = [
    "FLAGS",
    "PROTECTION_MARKERS",
    "SERVICES",
    "SERVICE_QUERIES",
    "FlagSpec",
    "RawFlag",
    "protected_ids",
]


def protected_ids(conn: Connection, store: str, ids: list[str]) -> set[str]:
    table_name, id_col, marker = PROTECTION_MARKERS[store]
    table = store_tables(store)[table_name]
    q = select(table.c[id_col]).where(and_(table.c[id_col].in_(ids), table.c[marker] == "Y"))
    return {row[0] for row in conn.execute(q)}
