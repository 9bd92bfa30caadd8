"""Every store's identity records, standardised for linkage, and the memberships the stores declare
(tenancies, claims, case families): what the index is built from, and what matching and clerical
review read again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.datadir import DataDir
from gateway.departments.records import read_identities, read_relations
from gateway.linkage.standardise import standardise_record
from gateway.stores.engines import store_engine
from gateway.stores.relations import Membership

Progress = Callable[[str], None]


def read_stores(dd: DataDir, progress: Progress) -> tuple[list[dict[str, Any]], list[tuple[str, Membership]]]:
    """Standardised identity records and store-declared memberships of every store in the manifest."""
    records: list[dict[str, Any]] = []
    memberships: list[tuple[str, Membership]] = []
    for store, url in dd.store_urls().items():
        progress(f"reading {store}")
        engine = store_engine(url)
        try:
            records.extend(standardise_record(store, row) for row in read_identities(store, engine))
            memberships.extend((store, m) for m in read_relations(store, engine))
        finally:
            engine.dispose()
    return records, memberships
