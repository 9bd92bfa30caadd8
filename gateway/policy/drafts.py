"""Proposed agreements on their way through the lifecycle, kept in the gateway database (migration
g0007): the text each step decides on. The decisions are audit events (see `lifecycle.py`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Column, Engine, MetaData, String, Table, Text, create_engine, delete, insert, select

from gateway.policy.agreements import Agreement

metadata = MetaData()
agreement_drafts = Table(
    "agreement_drafts",
    metadata,
    Column("agreement_id", String(60), primary_key=True),
    Column("text", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("proposed_by", String(200), nullable=False),
    Column("proposed_at", String(32), nullable=False),
)


class DraftError(ValueError):
    pass


def parse_draft(text: str) -> Agreement:
    """The draft as an agreement, or a DraftError saying what is wrong with it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DraftError(f"the draft is not YAML: {' '.join(str(exc).split())[:300]}") from exc
    try:
        return Agreement.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'agreement'}: {e['msg']}" for e in exc.errors()
        )
        raise DraftError(f"the draft is not a valid agreement: {problems}") from exc


class DraftStore:
    def __init__(self, url: str | Engine) -> None:
        self.engine = url if isinstance(url, Engine) else create_engine(url, pool_pre_ping=True)

    def put(self, agreement: Agreement, text: str, digest: str, who: str) -> None:
        """A new draft, or a new text for a draft: earlier steps (on the old digest) stop counting."""
        row = {
            "agreement_id": agreement.id,
            "text": text,
            "digest": digest,
            "proposed_by": who,
            "proposed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with self.engine.begin() as conn:
            conn.execute(delete(agreement_drafts).where(agreement_drafts.c.agreement_id == agreement.id))
            conn.execute(insert(agreement_drafts).values(**row))

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(agreement_drafts).order_by("agreement_id"))]

    def drafts(self) -> dict[str, Agreement]:
        """Every draft that parses (a stored draft always did when it was stored)."""
        out = {}
        for row in self.rows():
            try:
                out[row["agreement_id"]] = parse_draft(row["text"])
            except DraftError:
                continue
        return out

    def dispose(self) -> None:
        self.engine.dispose()


def lifecycle_gate(drafts: DraftStore, audit: Engine) -> Callable[[dict[str, Agreement]], dict[str, str]]:
    """The policy engine's gate: agreements with a draft load only once their lifecycle is complete.
    The lifecycle events are read only when an agreement of the registry has a draft (most loads read
    one small table)."""
    from gateway.policy.lifecycle import blocked

    def gate(registry: dict[str, Agreement]) -> dict[str, str]:
        if not set(r["agreement_id"] for r in drafts.rows()) & set(registry):
            return {}
        return blocked(registry, lifecycle_events(audit))

    return gate


def lifecycle_events(audit: Engine) -> list[dict[str, Any]]:
    """Every allowed lifecycle decision, oldest first."""
    from audit.review import EventFilter, stream
    from gateway.policy.lifecycle import PURPOSE

    return list(reversed(list(stream(audit, EventFilter(purpose=PURPOSE, decision="allow")))))
