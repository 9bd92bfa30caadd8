"""Who should be on a caseload, computed with plain SQL over the index (independently of the gateway's
caseload code): the index persons of some store records, and everyone in their index families; and a
person's details as a store holds them, for files a partner would send about them."""

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


def csc_details(root: Path, person_id: str) -> tuple[str, str, str, str]:
    """A person's forename, surname, date of birth and postcode as children's social care holds them."""
    with sqlite3.connect(root / "gateway.db") as con:
        local = con.execute(
            "SELECT local_id FROM index_xref WHERE source = 'childrens_social_care' AND person_id = ?",
            (person_id,),
        ).fetchone()[0]
    with sqlite3.connect(root / "stores" / "childrens_social_care.db") as con:
        return con.execute(
            "SELECT p.pers_forename, p.pers_surname, p.pers_dob, COALESCE(a.addr_address_postcode, '') "
            "FROM ssd_person p LEFT JOIN ssd_address a ON a.addr_person_id = p.pers_person_id "
            "AND a.addr_address_end_date IS NULL WHERE p.pers_person_id = ?",
            (local,),
        ).fetchone()
