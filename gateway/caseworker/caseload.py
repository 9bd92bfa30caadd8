"""Whose data a caseworker may see: the people allocated to them, and those people's families.

Allocations come from the caller's own department's store, as its `Casework` declares them
(children's social care involvements, early help episodes), matched to the caller through the
`worker_id` claim; people become person-index ids through the cross-reference, families through the
index's family groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from gateway.departments import DEPARTMENTS, store_tables
from gateway.departments.model import Casework
from gateway.identity.principal import Principal
from gateway.index.store import IndexStore


def casework(department: str | None) -> Casework | None:
    """How the caller's own department allocates cases, if it is a casework department."""
    return next((d.casework for d in DEPARTMENTS if d.name == department), None)


@dataclass(frozen=True)
class Caseload:
    allocated: frozenset[str]  # person ids allocated to the caller
    family_of: dict[str, str]  # person id -> family id, for everyone on the caseload
    members: frozenset[str]  # allocated and triaged people and their family members
    # People with an open front-door contact the caller screens, within the window (not allocated).
    triage: frozenset[str] = frozenset()

    def relationship(self, person_id: str) -> str | None:
        if person_id in self.allocated:
            return "allocated"
        if person_id in self.triage:
            return "triage"
        return "family" if person_id in self.members else None


def _allocated_local_ids(engine: Engine, department: str, worker_id: str) -> set[str]:
    work = casework(department)
    assert work is not None
    with engine.connect() as conn:
        return {
            row[0] for row in conn.execute(work.allocations(store_tables(department), worker_id)) if row[0]
        }


def _triaged_local_ids(engine: Engine, department: str, worker_id: str, since: str) -> set[str]:
    work = casework(department)
    if work is None or work.triage is None:
        return set()
    with engine.connect() as conn:
        query = work.triage(store_tables(department), worker_id, since)
        return {str(row[0]) for row in conn.execute(query) if row[0]}


def load_caseload(
    principal: Principal, engines: dict[str, Engine], index: IndexStore, triage_since: str | None = None
) -> Caseload:
    """`triage_since`: the ISO time from which open front-door contacts count (None: no triage)."""
    department = principal.department
    if casework(department) is None or not principal.worker_id or department not in engines:
        return Caseload(frozenset(), {}, frozenset())
    local = _allocated_local_ids(engines[department], department, principal.worker_id)
    allocated = set(index.persons_of(department, local).values())
    triaged: set[str] = set()
    if triage_since is not None:
        contacts = _triaged_local_ids(engines[department], department, principal.worker_id, triage_since)
        triaged = set(index.persons_of(department, contacts).values()) - allocated
    families = {p: row.family_id for p, row in index.people(allocated | triaged).items()}
    members = {m for ms in index.family_members(families.values()).values() for m in ms} | allocated | triaged
    family_of = {p: row.family_id for p, row in index.people(members).items()}
    return Caseload(frozenset(allocated), family_of, frozenset(members), frozenset(triaged))


def own_records(
    principal: Principal, person_ids: set[str], engines: dict[str, Engine], index: IndexStore
) -> dict[str, dict[str, Any]]:
    """Name, date of birth and family role of each person as the caller's own service records them."""
    department = principal.department
    work = casework(department)
    if work is None or department not in engines:
        return {}
    local_of: dict[str, str] = {}
    for pid, records in index.records_of(person_ids).items():
        for source, local_id in records:
            if source == department:
                local_of.setdefault(local_id, pid)
    person_table, id_col, first_col, last_col, dob_col = work.person
    t = store_tables(department)
    p = t[person_table]
    out: dict[str, dict[str, Any]] = {}
    roles: dict[str, str] = {}
    with engines[department].connect() as conn:
        rows = conn.execute(
            select(p.c[id_col], p.c[first_col], p.c[last_col], p.c[dob_col]).where(
                p.c[id_col].in_(list(local_of))
            )
        )
        if work.family is not None:
            family_table, member_col, role_col = work.family
            fam = t[family_table]
            for lid, rel in conn.execute(
                select(fam.c[member_col], fam.c[role_col]).where(fam.c[member_col].in_(list(local_of)))
            ):
                if rel:
                    roles[local_of[lid]] = rel
        for lid, first, last, dob in rows:
            pid = local_of[lid]
            if pid not in out:
                out[pid] = {"name": " ".join(x for x in (first, last) if x) or None, "date_of_birth": dob}
    for pid, rel in roles.items():
        out.setdefault(pid, {"name": None, "date_of_birth": None})["role"] = rel
    return out
