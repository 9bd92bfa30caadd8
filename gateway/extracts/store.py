"""Extract requests, project key versions and re-identification requests, in the gateway's own database.

The same database as the person index (`gateway.db`, or PostgreSQL), so that several gateway
processes share one queue: a job is claimed with a conditional UPDATE, and only the process whose
UPDATE changed the row builds it. The extract files themselves live under `<data-dir>/extracts/`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from gateway.migrations import runner as migrations

metadata = MetaData()

extracts = Table(
    "extracts",
    metadata,
    Column("extract_id", String(32), primary_key=True),
    Column("requester", String(120), nullable=False),
    Column("requester_json", Text, nullable=False),  # the requester's claims, to re-decide at build time
    Column("purpose", String(64), nullable=False),
    Column("project", String(64), nullable=False, index=True),
    Column("agreement_id", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("fields_json", Text, nullable=False),
    Column("filters_json", Text, nullable=False),
    Column("sensitive_json", Text),  # fields the requester asked to hold l-diverse (migration g0004)
    Column("pseudonyms", String(16), nullable=False),  # one_way | reversible
    Column("key_version", Integer),
    Column("status", String(24), nullable=False, index=True),
    Column("progress", Integer, nullable=False, default=0),
    Column("stage", String(200), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("decided_by", String(120)),
    Column("decided_at", String(32)),
    Column("decision_reason", Text),  # why an approver rejected it, shown to the requester (g0005)
    Column("finished_at", String(32)),
    Column("expires_at", String(32)),
    Column("rows", Integer),
    Column("report_json", Text),
    Column("error", Text),
)

# Who is in each extract: for the key-rotation mapping (old pseudonym -> new) and for IG questions
# about one person ("which extracts was I in?").
extract_subjects = Table(
    "extract_subjects",
    metadata,
    Column("extract_id", String(32), nullable=False),
    Column("person_id", String(32), nullable=False),
    PrimaryKeyConstraint("extract_id", "person_id"),
    Index("ix_extract_subjects_person", "person_id"),  # a person's extracts (migration g0006)
)

projects = Table(
    "extract_projects",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("key_version", Integer, nullable=False),
    Column("rotated_at", String(32), nullable=False),
)

reidentifications = Table(
    "reidentifications",
    metadata,
    Column("reid_id", String(32), primary_key=True),
    Column("requester", String(120), nullable=False),
    Column("project", String(64), nullable=False),
    Column("pseudonym", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved
    Column("created_at", String(32), nullable=False),
    Column("approved_at", String(32)),
    Column("person_id", String(32)),  # set only once two approvers have agreed
)

reid_approvals = Table(
    "reidentification_approvals",
    metadata,
    Column("reid_id", String(32), nullable=False),
    Column("approver", String(120), nullable=False),
    Column("approved_at", String(32), nullable=False),
    PrimaryKeyConstraint("reid_id", "approver"),  # the same person cannot approve twice
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


class ExtractStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)

    def create(self) -> None:
        """Bring the gateway database's schema to head: these tables share it with the person index."""
        migrations.upgrade(self.url, "gateway")

    def dispose(self) -> None:
        self.engine.dispose()

    # --- extracts ------------------------------------------------------------------------------
    def add(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(extracts).values(**row))

    def get(self, extract_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(extracts).where(extracts.c.extract_id == extract_id)).mappings().first()
        return _decoded(row) if row else None

    def listing(self, requester: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        q = select(extracts).order_by(extracts.c.created_at.desc())
        if requester is not None:
            q = q.where(extracts.c.requester == requester)
        if status is not None:
            q = q.where(extracts.c.status == status)
        with self.engine.connect() as conn:
            return [_decoded(r) for r in conn.execute(q.limit(500)).mappings()]

    def transition(self, extract_id: str, from_status: str | tuple[str, ...], **values: Any) -> bool:
        """Move an extract on only if it is still in `from_status`; False if another process got there
        first (or it was never there)."""
        allowed = (from_status,) if isinstance(from_status, str) else from_status
        with self.engine.begin() as conn:
            result = conn.execute(
                update(extracts)
                .where(extracts.c.extract_id == extract_id, extracts.c.status.in_(allowed))
                .values(**values)
            )
        return result.rowcount == 1

    def progress(self, extract_id: str, percent: int, stage: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(extracts)
                .where(extracts.c.extract_id == extract_id)
                .values(progress=percent, stage=stage[:200])
            )

    def set_subjects(self, extract_id: str, person_ids: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(extract_subjects.delete().where(extract_subjects.c.extract_id == extract_id))
            for start in range(0, len(person_ids), 5000):
                chunk = person_ids[start : start + 5000]
                conn.execute(
                    insert(extract_subjects), [{"extract_id": extract_id, "person_id": p} for p in chunk]
                )

    def subjects(self, extract_id: str) -> list[str]:
        with self.engine.connect() as conn:
            q = select(extract_subjects.c.person_id).where(extract_subjects.c.extract_id == extract_id)
            return [r[0] for r in conn.execute(q.order_by(extract_subjects.c.person_id))]

    def extracts_of(self, person_id: str) -> list[str]:
        """The extracts a person was built into (for their subject access request)."""
        with self.engine.connect() as conn:
            q = select(extract_subjects.c.extract_id).where(extract_subjects.c.person_id == person_id)
            return sorted(r[0] for r in conn.execute(q))

    def expired(self, at: dt.datetime) -> list[str]:
        with self.engine.connect() as conn:
            q = select(extracts.c.extract_id).where(
                extracts.c.status == "ready", extracts.c.expires_at <= iso(at)
            )
            return [r[0] for r in conn.execute(q)]

    # --- project keys --------------------------------------------------------------------------
    def key_version(self, project: str) -> int:
        """The project's current key version, creating version 1 the first time it is used."""
        with self.engine.begin() as conn:
            row = conn.execute(select(projects.c.key_version).where(projects.c.project == project)).first()
            if row:
                return int(row[0])
            conn.execute(insert(projects).values(project=project, key_version=1, rotated_at=iso(now())))
            return 1

    def known_project(self, project: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(projects.c.project).where(projects.c.project == project)).first()
                is not None
            )

    def rotate(self, project: str) -> int:
        current = self.key_version(project)
        with self.engine.begin() as conn:
            conn.execute(
                update(projects)
                .where(projects.c.project == project)
                .values(key_version=current + 1, rotated_at=iso(now()))
            )
        return current + 1

    # --- re-identification ---------------------------------------------------------------------
    def add_reid(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(reidentifications).values(**row))

    def get_reid(self, reid_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(reidentifications).where(reidentifications.c.reid_id == reid_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            approvers = [
                r[0]
                for r in conn.execute(
                    select(reid_approvals.c.approver)
                    .where(reid_approvals.c.reid_id == reid_id)
                    .order_by(reid_approvals.c.approved_at)
                )
            ]
        return {**dict(row), "approvers": approvers}

    def reid_listing(self, requester: str | None = None) -> list[dict[str, Any]]:
        """Newest first, each with its approvers; never more than 500."""
        q = select(reidentifications).order_by(reidentifications.c.created_at.desc())
        if requester is not None:
            q = q.where(reidentifications.c.requester == requester)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q.limit(500)).mappings()]
            approvers: dict[str, list[str]] = {r["reid_id"]: [] for r in rows}
            if rows:
                for reid_id, approver in conn.execute(
                    select(reid_approvals.c.reid_id, reid_approvals.c.approver)
                    .where(reid_approvals.c.reid_id.in_(list(approvers)))
                    .order_by(reid_approvals.c.approved_at)
                ):
                    approvers[reid_id].append(approver)
        return [{**r, "approvers": approvers[r["reid_id"]]} for r in rows]

    def approve_reid(self, reid_id: str, approver: str, needed: int, reveal: str) -> dict[str, Any]:
        """Record one approval; with `needed` distinct approvers the person id is stored. One
        transaction, so two approvals racing cannot both be 'the first'."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(reid_approvals).values(reid_id=reid_id, approver=approver, approved_at=iso(now()))
            )
            count = len(
                conn.execute(
                    select(reid_approvals.c.approver).where(reid_approvals.c.reid_id == reid_id)
                ).all()
            )
            if count >= needed:
                conn.execute(
                    update(reidentifications)
                    .where(reidentifications.c.reid_id == reid_id, reidentifications.c.status == "pending")
                    .values(status="approved", approved_at=iso(now()), person_id=reveal)
                )
        found = self.get_reid(reid_id)
        assert found is not None
        return found


def _decoded(row: Any) -> dict[str, Any]:
    out = dict(row)
    for name in ("fields", "filters", "report", "requester", "sensitive"):
        raw = out.pop(f"{name}_json", None)
        out[name if name != "requester" else "requester_claims"] = json.loads(raw) if raw else None
    return out
