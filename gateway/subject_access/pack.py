"""The subject access pack (UK GDPR Art 15): everything the gateway can tell a person about themselves.

* **Who they are to the gateway**: their person id, the ids the index gave them before records merged
  or split (lineage), and every store record linked to them.
* **Accesses** (Art 15(1)): every audited access to them, under any of those ids, including the
  extracts they were built into (the build and each download), break-glass views and partner matches.
* **A copy of the data held** (Art 15(3)): the rows about them in each departmental store, read through
  the department's declared tables. Free text is scrubbed of other people's names and identifiers (the
  scrubber the extracts use), so third parties and the protected people among them are not disclosed;
  the requester's own name is kept as `<PERSON:you>`.

Built for an IG officer, who checks it before it is sent; the request is audited as an access to the
person, with how many rows were copied.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, select

from audit.review import subject_history
from gateway.catalogue import Catalogue, Classification
from gateway.departments import department, store_tables
from gateway.departments.records import identity_select, subject_tables
from gateway.privacy.scrubbing import DenyList, Scrubber, known_names

SUBJECT_LABEL = "you"
TEMPLATES = Path(__file__).parent


@dataclass
class TableCopy:
    store: str
    service: str
    table: str
    description: str
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Pack:
    person_id: str
    generated: str
    earlier_ids: list[str]
    records: list[dict[str, str]]  # {store, service, local_id}
    accesses: list[dict[str, Any]]
    copies: list[TableCopy] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)

    @property
    def rows_copied(self) -> int:
        return sum(len(c.rows) for c in self.copies)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "generated": self.generated,
            "earlier_ids": self.earlier_ids,
            "records": self.records,
            "accesses": self.accesses,
            "data_held": [asdict(c) for c in self.copies],
            "redactions": self.redactions,
            "notes": NOTES,
        }


NOTES = [
    "Accesses lists every time someone reached your information through the data-sharing gateway, who "
    "they were, why, and under which agreement or rule, including extracts you were part of.",
    "Data held is a copy of the records each service keeps about you, as the gateway reads them.",
    "Other people's names and identifiers are removed from free text (shown as <PERSON>, <ADDRESS> and "
    "so on); your own name is shown as <PERSON:you>.",
]


def access_history(
    audit: Engine, index: Any, extract_store: Any, person_id: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """Earlier ids and every audited access to the person under any of them (the access report)."""
    earlier = tuple(index.earlier_ids(person_id)) if index.exists() else ()
    extracts = tuple(sorted({e for i in (person_id, *earlier) for e in extract_store.extracts_of(i)}))
    return list(earlier), subject_history(audit, person_id, extracts, earlier)


def _coerce(engine_column: Any, local_id: str) -> Any:
    """The local id as the column's type (an integer column compared with text fails on PostgreSQL)."""
    try:
        python_type = engine_column.type.python_type
    except NotImplementedError:
        return local_id
    return int(local_id) if python_type is int and local_id.lstrip("-").isdigit() else local_id


def _names_of(engine: Engine, store: str, local_id: str) -> list[str]:
    q = identity_select(store).subquery()
    with engine.connect() as conn:
        row = conn.execute(select(q).where(q.c.local_id == local_id)).mappings().first()
    if row is None:
        return []
    first, last = row.get("first_name"), row.get("last_name")
    full = " ".join(p for p in (first, row.get("middle_name"), last) if p)
    return [n for n in {full, f"{first or ''} {last or ''}".strip()} if n]


def copy_of_records(
    engines: dict[str, Engine],
    catalogue: Catalogue,
    records: list[tuple[str, str]],
    deny: DenyList,
    model: str | None = None,
) -> tuple[list[TableCopy], Counter[str]]:
    """The rows about the person in each store, free text scrubbed of everyone but them."""
    subject_names: list[str] = []
    for store, local_id in records:
        if store in engines:
            subject_names += _names_of(engines[store], store, local_id)
    known = known_names([(SUBJECT_LABEL, subject_names)])
    scrubber = Scrubber(deny, model=model)
    redacted: Counter[str] = Counter()
    copies: list[TableCopy] = []
    for store, local_id in sorted(records):
        engine = engines.get(store)
        if engine is None:
            continue
        tables = store_tables(store)
        for table_name, column in subject_tables(store):
            table = tables[table_name]
            dataset = catalogue.dataset(f"{store}.{table_name}")
            classes = dataset.fields if dataset else {}
            query = select(table).where(table.c[column] == _coerce(table.c[column], local_id))
            with engine.connect() as conn:
                rows = [dict(r) for r in conn.execute(query).mappings()]
            if not rows:
                continue
            for row in rows:
                for name, value in row.items():
                    if classes.get(name) == Classification.free_text and isinstance(value, str):
                        scrubbed = scrubber.scrub(value, known)
                        row[name] = scrubbed.text
                        redacted.update(scrubbed.replaced)
                    elif isinstance(value, dt.date | dt.datetime):
                        row[name] = value.isoformat()
            copies.append(
                TableCopy(
                    store=store,
                    service=department(store).label,
                    table=table_name,
                    description=dataset.description if dataset else table_name,
                    columns=list(rows[0]),
                    rows=rows,
                )
            )
    return copies, redacted


def render_html(pack: Pack) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("pack.html").render(pack=pack, data=pack.as_dict())


def render_bundle(pack: Pack) -> bytes:
    """A zip holding the readable pack (HTML, printable to PDF) and the machine-readable JSON."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"subject-access-{pack.person_id}.html", render_html(pack))
        zf.writestr(
            f"subject-access-{pack.person_id}.json", json.dumps(pack.as_dict(), indent=2, default=str)
        )
    return buf.getvalue()
