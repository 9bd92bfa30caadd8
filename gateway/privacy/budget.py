"""The privacy budget: cumulative protection across every table an analyst or a project asks for.

Each distinct query costs `rho` (zCDP, which adds up across queries); the agreement sets what a
project and each analyst may spend under it. A spend is one transaction that raises every scope's
`spent` only if none would pass its allowance (a conditional UPDATE, so two gateway processes on one
database cannot overspend between them). The same query asked again, in the same project, on the same
build of the analysis store, is answered from the stored reply and costs nothing: repeating a question
gains an attacker nothing, and costs the analyst nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
budgets = Table(
    "privacy_budgets",
    metadata,
    Column("scope", String(300), primary_key=True),
    Column("allowance", Float, nullable=False),
    Column("spent", Float, nullable=False),
    Column("updated_at", String(32), nullable=False),
)
spends = Table(
    "privacy_spends",
    metadata,
    Column("spend_id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(300), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("rho", Float, nullable=False),
    Column("answer_key", String(64), nullable=False),
    Column("time", String(32), nullable=False),
    Index("ix_privacy_spends_actor", "actor"),
)
answers = Table(
    "aggregate_answers",
    metadata,
    Column("answer_key", String(64), primary_key=True),
    Column("reply", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)
EPSILON = 1e-12  # float slack, so a budget of exactly N queries admits N


@dataclass(frozen=True)
class Scope:
    """Who a spend counts against: `project:<agreement>:<project>`, `analyst:<agreement>:<sub>` or
    `agreement:<agreement>` (everyone under it)."""

    name: str
    allowance: float


@dataclass(frozen=True)
class BudgetState:
    scope: str
    allowance: float
    spent: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.allowance - self.spent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "allowance_rho": round(self.allowance, 6),
            "spent_rho": round(self.spent, 6),
            "remaining_rho": round(self.remaining, 6),
        }


class _Short(Exception):
    """A scope would pass its allowance: the whole spend is rolled back."""


class BudgetExhausted(Exception):
    def __init__(self, states: list[BudgetState], rho: float) -> None:
        short = [s for s in states if s.spent + rho > s.allowance + EPSILON]
        names = ", ".join(f"{s.scope} ({s.remaining:.4f} of {s.allowance:g} left)" for s in short)
        super().__init__(f"this table costs rho {rho:g}, more than is left in {names}")
        self.states = states


def can_spend(spent: float, allowance: float, rho: float) -> bool:
    """The accountant's one rule: a spend is allowed only if it keeps `spent` within `allowance`."""
    return rho >= 0 and spent + rho <= allowance + EPSILON


def answer_key(request: dict[str, Any], agreement: str | None, project: str, build: Any) -> str:
    """The identity of a query for "asked before": its canonical form (equivalent filters written
    differently are one query), its agreement and project, and the build of the data it reads."""
    body = json.dumps(
        {"request": request, "agreement": agreement, "project": project, "build": build},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: set[str] = set()  # scopes whose rows exist (rows are never deleted by the service)

    def stored(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(answers.c.reply).where(answers.c.answer_key == key)).first()
        return json.loads(row[0]) if row else None

    def states(self, scopes: Sequence[Scope]) -> list[BudgetState]:
        names = [s.name for s in scopes]
        with self.engine.connect() as conn:
            rows = {r.scope: r for r in conn.execute(select(budgets).where(budgets.c.scope.in_(names)))}
        return [
            BudgetState(s.name, s.allowance, float(rows[s.name].spent) if s.name in rows else 0.0)
            for s in scopes
        ]

    def spend(
        self,
        scopes: Sequence[Scope],
        rho: float,
        actor: str,
        key: str,
        reply: dict[str, Any] | None = None,
    ) -> tuple[list[BudgetState], dict[str, Any] | None]:
        """Spend `rho` from every scope at once, or from none (BudgetExhausted), and keep `reply` as the
        answer to query `key`, in the same transaction: an answer is released only if it was paid for.
        If another process stored an answer to the same query first, nothing is spent and that answer
        is returned (one query, one answer)."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                self._ensure(conn, scopes, now)
                for scope in scopes:
                    done = conn.execute(
                        update(budgets)
                        .where(
                            and_(
                                budgets.c.scope == scope.name,
                                budgets.c.spent + rho <= scope.allowance + EPSILON,
                            )
                        )
                        .values(spent=budgets.c.spent + rho, allowance=scope.allowance, updated_at=now)
                    )
                    if done.rowcount != 1:
                        raise _Short()
                conn.execute(
                    insert(spends),
                    [
                        {"scope": s.name, "actor": actor, "rho": rho, "answer_key": key, "time": now}
                        for s in scopes
                    ],
                )
                if reply is not None:
                    conn.execute(
                        insert(answers).values(answer_key=key, reply=json.dumps(reply), created_at=now)
                    )
        except _Short:
            raise BudgetExhausted(self.states(scopes), rho) from None
        except IntegrityError:
            earlier = self.stored(key) if reply is not None else None
            if earlier is None:
                raise
            return self.states(scopes), earlier
        self._known |= {s.name for s in scopes}  # committed: a refused spend rolled its new rows back
        return self.states(scopes), reply

    def _ensure(self, conn: Connection, scopes: Sequence[Scope], now: str) -> None:
        """Every scope has its row before it is spent from: made, if missing, in the spend's own
        transaction (one commit per table, not one more per new scope), and left alone if another
        process made it first."""
        missing = [
            {"scope": s.name, "allowance": s.allowance, "spent": 0.0, "updated_at": now}
            for s in scopes
            if s.name not in self._known
        ]
        if not missing:
            return
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(dialect_insert(budgets).on_conflict_do_nothing(index_elements=["scope"]), missing)

    def listing(self, actor: str | None = None) -> list[dict[str, Any]]:
        """Every budget (actor None: for IG officers), or those an analyst has spent from."""
        with self.engine.connect() as conn:
            if actor is None:
                rows = conn.execute(select(budgets).order_by(budgets.c.scope)).all()
            else:
                mine = select(spends.c.scope).where(spends.c.actor == actor).distinct()
                rows = conn.execute(
                    select(budgets).where(budgets.c.scope.in_(mine)).order_by(budgets.c.scope)
                ).all()
        return [BudgetState(r.scope, float(r.allowance), float(r.spent)).as_dict() for r in rows]
