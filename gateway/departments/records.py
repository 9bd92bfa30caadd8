"""Each store's identity rows and group memberships, read through its department's declared queries."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, Select

from gateway.departments import department, store_metadata
from gateway.stores.relations import Membership


def identity_select(store: str, md: MetaData | None = None) -> Select:
    return department(store).identity((md or store_metadata(store)).tables)


def read_identities(store: str, engine: Engine) -> list[dict]:
    """All identity rows of one store, ordered by local id (a stable order for every engine)."""
    query = identity_select(store).order_by("local_id")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def read_relations(store: str, engine: Engine) -> list[Membership]:
    d = department(store)
    queries = d.relations(d.tables()) if d.relations else []
    out: list[Membership] = []
    with engine.connect() as conn:
        for query in queries:
            for local_id, group_id, relationship, kind in conn.execute(query):
                if local_id is not None and group_id is not None:
                    out.append(Membership(str(local_id), f"{store}:{group_id}", relationship, kind))
    return out


def subject_tables(store: str) -> list[tuple[str, str]]:
    """(table, column) of every table that holds rows about one person of this store, by the stores'
    naming convention: the column shares the person id column's name after its table prefix
    (`pers_person_id` -> `cina_person_id`, `pup_pupil_id` -> `att_pupil_id`). Tables about a household
    or a claim (a tenancy, a rent account) are reached through those, not listed here."""
    d = department(store)
    table, id_column = d.person_table
    suffix = id_column.split("_", 1)[1]
    out = [(table, id_column)]
    for t in store_metadata(store).sorted_tables:
        if t.name == table:
            continue
        out += [(t.name, c.name) for c in t.columns if c.name.split("_", 1)[-1] == suffix]
    return out
