"""What extracts are cut from: one record per linked resident or per case note, keyed by index person
id (which never leaves the gateway: it becomes a project pseudonym), and the names and addresses of
everyone in the stores for the free-text deny list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from gateway.analysis.people import People
from gateway.analysis.schema import SERVICE_FLAGS
from gateway.datadir import DataDir
from gateway.departments import DEPARTMENTS, labels, store_metadata
from gateway.departments.records import read_identities
from gateway.privacy.scrubbing import DenyList
from gateway.stores.engines import store_engine

# (store, table, person column, date, type, text) of every free-text table an extract may carry.
NOTE_TABLES = tuple((d.name, n.table, n.person, n.date, n.type, n.text) for d in DEPARTMENTS for n in d.notes)
# Staff who write the notes: their names are scrubbed too.
STAFF_NAMES = tuple((d.name, table, column) for d in DEPARTMENTS for table, column in d.staff_names)
# Places the notes name that say where a child lives or learns.
ORGANISATIONS = tuple((d.name, table, column) for d in DEPARTMENTS for table, column in d.organisations)
SERVICE_LABEL = {name: label[:1].lower() + label[1:] for name, label in labels().items()}

Reader = Callable[[DataDir, People], list[dict[str, Any]]]


def person_records(_dd: DataDir, people: People) -> list[dict[str, Any]]:
    rows = []
    for p in people.ids:
        row: dict[str, Any] = {
            "person_id": p,
            "family_id": people.family_of[p],
            "date_of_birth": people.birth[p],
            "sex": people.sex[p],
            "postcode": people.postcode[p],
            "ward": people.ward[p],
            "housing_benefit_weekly": round(people.weekly[p], 2) if p in people.weekly else None,
        }
        row.update({f: f in people.flags[p] for f in SERVICE_FLAGS})
        rows.append(row)
    return rows


def case_notes(dd: DataDir, people: People) -> list[dict[str, Any]]:
    rows = []
    urls = dd.store_urls()
    for store, table, person, date, kind, text in NOTE_TABLES:
        if store not in urls:
            continue
        t = store_metadata(store).tables[table]
        engine = store_engine(urls[store])
        try:
            with engine.connect() as conn:
                q = select(t.c[person], t.c[date], t.c[kind] if kind else t.c[date], t.c[text])
                for local_id, when, note_type, body in conn.execute(q):
                    pid = people.person_of.get(f"{store}:{local_id}")
                    if pid is None:
                        continue
                    rows.append(
                        {
                            "person_id": pid,
                            "family_id": people.family_of.get(pid, pid),
                            "service": SERVICE_LABEL[store],
                            "note_date": when,
                            "note_type": note_type if kind else "Early help note",
                            "note_text": body,
                        }
                    )
        finally:
            engine.dispose()
    return rows


READERS: dict[str, Reader] = {"person_records": person_records, "case_notes": case_notes}


@dataclass
class Names:
    """The deny list, plus each person's own names (to write their pseudonym in place of them)."""

    deny: DenyList = field(default_factory=DenyList)
    of_person: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def read_names(dd: DataDir, people: People | None = None) -> Names:
    """Every name and address line in the stores; with `people`, also each linked person's names."""
    names = Names()
    for store, url in dd.store_urls().items():
        engine = store_engine(url)
        try:
            for r in read_identities(store, engine):
                for part in ("first_name", "middle_name", "last_name"):
                    names.deny.add_name(r.get(part))
                names.deny.add_address(r.get("address_line"))
                if r.get("first_name") and r.get("last_name"):
                    full = f"{r['first_name']} {r['last_name']}"
                    names.deny.add_name(full)
                    names.deny.add_name(f"{r['last_name']} {r['first_name']}")  # 'SMITH, Jo' in summaries
                    pid = people.person_of.get(f"{store}:{r['local_id']}") if people else None
                    if pid:
                        names.of_person[pid].add(full)
            for staff_store, table, column in STAFF_NAMES:
                if staff_store == store:
                    for name in _column(engine, store, table, column):
                        names.deny.add_name(name)
            for org_store, table, column in ORGANISATIONS:
                if org_store == store:
                    for name in _column(engine, store, table, column):
                        names.deny.add_organisation(name)
        finally:
            engine.dispose()
    return names


def _column(engine: Engine, store: str, table: str, column: str) -> list[str | None]:
    t = store_metadata(store).tables[table]
    with engine.connect() as conn:
        return [value for (value,) in conn.execute(select(t.c[column]))]
