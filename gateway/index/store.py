"""Read and write the person index in the gateway's database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select
from sqlalchemy.exc import OperationalError

from gateway.index import schema
from gateway.index.ids import Change
from gateway.migrations import runner as migrations
from gateway.stores.engines import store_engine

CHUNK = 5_000


class IndexMissing(LookupError):
    """No linkage run has been written yet."""


@dataclass(frozen=True)
class XrefRow:
    source: str
    local_id: str
    person_id: str
    match_probability: float | None
    match_weight: float | None


@dataclass(frozen=True)
class PersonRow:
    person_id: str
    household_id: str
    family_id: str
    records: int


@dataclass(frozen=True)
class ReviewPair:
    left_id: str
    right_id: str
    match_weight: float
    match_probability: float
    linked: bool
    # Records whose person would change if the reviewer overturned the model (`gateway.index.review`),
    # and that number weighted by the chance the model is wrong: the queue's order.
    records_affected: int = 0
    expected_change: float = 0.0


@dataclass
class IndexWrite:
    """Everything one `gateway link` run writes, replaced atomically."""

    run: dict[str, Any]
    persons: list[PersonRow]
    xref: list[XrefRow]
    households: list[dict[str, Any]]
    families: list[dict[str, Any]]
    changes: list[tuple[str, Change]]  # (entity, change)
    review: list[ReviewPair]


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


class IndexStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = store_engine(url)

    def create(self) -> None:
        """Bring the gateway database's schema to head (creating the PostgreSQL database if missing)."""
        migrations.upgrade(self.url, "gateway")

    def exists(self) -> bool:
        try:
            return self._has_run()
        except OperationalError:  # e.g. the PostgreSQL database has not been created yet
            return False

    def _has_run(self) -> bool:
        if not inspect(self.engine).has_table(schema.runs.name):
            return False
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.runs)).scalar_one() > 0

    def require(self) -> None:
        if not self.exists():
            raise IndexMissing("no person index yet: run `gateway link` first")

    # --- reading -----------------------------------------------------------------------------
    def person_of_record(self) -> dict[str, str]:
        """`source:local_id` -> person id, for every indexed record (empty before the first run)."""
        if not self.exists():
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.xref.c.source, schema.xref.c.local_id, schema.xref.c.person_id))
            return {f"{s}:{lid}": pid for s, lid, pid in rows}

    def groups_of_person(self) -> tuple[dict[str, str], dict[str, str]]:
        """(person id -> household id, person id -> family id) from the last run."""
        if not self.exists():
            return {}, {}
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(
                        schema.persons.c.person_id, schema.persons.c.household_id, schema.persons.c.family_id
                    )
                )
            )
        return {p: h for p, h, _ in rows}, {p: f for p, _, f in rows}

    # --- lookups for the service (indexed, one query each) -------------------------------------
    def records_of(self, person_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """person id -> its (source, local_id) records."""
        ids = sorted(set(person_ids))
        out: dict[str, list[tuple[str, str]]] = {p: [] for p in ids}
        if not ids:
            return out
        x = schema.xref
        with self.engine.connect() as conn:
            query = select(x.c.person_id, x.c.source, x.c.local_id).where(x.c.person_id.in_(ids))
            for pid, source, local_id in conn.execute(query):
                out[pid].append((source, local_id))
        return out

    def persons_of(self, source: str, local_ids: Iterable[str]) -> dict[str, str]:
        """local id -> person id for records of one source."""
        ids = sorted(set(local_ids))
        if not ids:
            return {}
        x = schema.xref
        with self.engine.connect() as conn:
            query = select(x.c.local_id, x.c.person_id).where((x.c.source == source) & x.c.local_id.in_(ids))
            return dict(conn.execute(query).all())

    def people(self, person_ids: Iterable[str]) -> dict[str, PersonRow]:
        ids = sorted(set(person_ids))
        if not ids:
            return {}
        p = schema.persons
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(p.c.person_id, p.c.household_id, p.c.family_id, p.c.records).where(
                    p.c.person_id.in_(ids)
                )
            )
            return {r[0]: PersonRow(*r) for r in rows}

    def family_members(self, family_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = sorted(set(family_ids))
        out: dict[str, list[str]] = {f: [] for f in ids}
        if not ids:
            return out
        p = schema.persons
        with self.engine.connect() as conn:
            query = select(p.c.family_id, p.c.person_id).where(p.c.family_id.in_(ids)).order_by(p.c.person_id)
            for fid, pid in conn.execute(query):
                out[fid].append(pid)
        return out

    def last_run(self) -> dict[str, Any]:
        self.require()
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.runs).order_by(schema.runs.c.run_id.desc()).limit(1)).one()
        run = dict(row._mapping)
        run["model"] = json.loads(run.pop("model_json"))
        return run

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """source, local_id, person_id, household_id, family_id for every record, in a stable order."""
        self.require()
        x, p = schema.xref, schema.persons
        query = (
            select(x.c.source, x.c.local_id, x.c.person_id, p.c.household_id, p.c.family_id)
            .select_from(x.join(p, p.c.person_id == x.c.person_id))
            .order_by(x.c.source, x.c.local_id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(row._mapping)

    def review_queue(self, limit: int | None = None, unlabelled_only: bool = True) -> list[ReviewPair]:
        """The borderline pairs whose decision would change the most records' persons first (see
        `gateway.index.review.prioritise`)."""
        self.require()
        r, lab = schema.review, schema.labels
        query = select(r.c.left_id, r.c.right_id, r.c.match_weight, r.c.match_probability, r.c.linked)
        if unlabelled_only:
            query = query.outerjoin(
                lab, (lab.c.left_id == r.c.left_id) & (lab.c.right_id == r.c.right_id)
            ).where(lab.c.is_match.is_(None))
        with self.engine.connect() as conn:
            pairs = [ReviewPair(a, b, w, p, bool(k)) for a, b, w, p, k in conn.execute(query)]
        from gateway.index.review import prioritise

        threshold = float(self.last_run()["match_threshold"])
        ranked = prioritise(pairs, self.person_of_record(), math.log2(threshold / (1 - threshold)))
        return ranked[:limit] if limit else ranked

    def labels(self) -> dict[tuple[str, str], bool]:
        if not inspect(self.engine).has_table(schema.labels.name):
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.labels.c.left_id, schema.labels.c.right_id, schema.labels.c.is_match)
            )
            return {(a, b): bool(m) for a, b, m in rows}

    # --- writing -----------------------------------------------------------------------------
    def save_labels(self, rows: Iterable[tuple[str, str, bool, str | None]]) -> int:
        """Record clerical decisions (left id, right id, is match, reviewer); a later label wins."""
        self.create()
        now = dt.datetime.now(dt.UTC)
        n = 0
        with self.engine.begin() as conn:
            for left, right, is_match, reviewer in rows:
                a, b = sorted((left, right))
                conn.execute(
                    delete(schema.labels).where(
                        (schema.labels.c.left_id == a) & (schema.labels.c.right_id == b)
                    )
                )
                conn.execute(
                    insert(schema.labels).values(
                        left_id=a, right_id=b, is_match=int(is_match), reviewer=reviewer, labelled_at=now
                    )
                )
                n += 1
        return n

    def write(self, w: IndexWrite) -> int:
        """Replace the index with this run's, in one transaction: readers see the old or the new."""
        self.create()
        with self.engine.begin() as conn:
            inserted = conn.execute(insert(schema.runs).values(**w.run)).inserted_primary_key
            assert inserted is not None
            run_id = inserted[0]
            for table in (schema.review, schema.xref, schema.persons, schema.households, schema.families):
                conn.execute(delete(table))
            self._insert(conn, schema.households, w.households)
            self._insert(conn, schema.families, w.families)
            self._insert(conn, schema.persons, [{**p.__dict__, "run_id": run_id} for p in w.persons])
            self._insert(conn, schema.xref, [x.__dict__ for x in w.xref])
            self._insert(
                conn,
                schema.lineage,
                [
                    {"run_id": run_id, "entity": e, "old_id": c.old_id, "new_id": c.new_id, "change": c.kind}
                    for e, c in w.changes
                ],
            )
            self._insert(
                conn,
                schema.review,
                [{**r.__dict__, "linked": int(r.linked), "run_id": run_id} for r in w.review],
            )
        return int(run_id)

    @staticmethod
    def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            conn.execute(insert(table), list(chunk))

    def lineage(self, entity: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(schema.lineage).order_by(schema.lineage.c.id)
            if entity:
                query = query.where(schema.lineage.c.entity == entity)
            return [dict(r._mapping) for r in conn.execute(query)]

    def earlier_ids(self, person_id: str) -> list[str]:
        """Every id this person was known by before merges and splits, following the lineage back
        (a person merged from A and B, where A was split from C, was A, B and C)."""
        found: set[str] = set()
        todo = [person_id]
        with self.engine.connect() as conn:
            while todo:
                current = todo.pop()
                rows = conn.execute(
                    select(schema.lineage.c.old_id).where(
                        schema.lineage.c.entity == "person", schema.lineage.c.new_id == current
                    )
                )
                for (old,) in rows:
                    if old not in found and old != person_id:
                        found.add(old)
                        todo.append(old)
        return sorted(found)

    def dispose(self) -> None:
        self.engine.dispose()
