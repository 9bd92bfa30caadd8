"""Who should be on a caseload, computed with plain SQL over the index (independently of the gateway's
caseload code): the index persons of some store records, and everyone in their index families."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def persons_and_families(root: Path, source: str, local_ids: list[str]) -> tuple[set[str], set[str]]:
    """(the persons of these records of `source`, them and every member of their families)."""
    with sqlite3.connect(root / "gateway.db") as con:
        marks = ",".join("?" * len(local_ids))
        persons = {
            r[0]
            for r in con.execute(
                f"SELECT person_id FROM index_xref WHERE source = ? AND local_id IN ({marks})",
                [source, *local_ids],
            )
        }
        marks = ",".join("?" * len(persons))
        families = [
            r[0]
            for r in con.execute(
                f"SELECT family_id FROM index_persons WHERE person_id IN ({marks})", list(persons)
            )
        ]
        marks = ",".join("?" * len(families))
        members = {
            r[0]
            for r in con.execute(
                f"SELECT person_id FROM index_persons WHERE family_id IN ({marks})", families
            )
        }
    return persons, persons | members
