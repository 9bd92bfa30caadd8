"""The policy what-if simulator: who would gain or lose access if a proposed policy went live.

An IG officer proposes a change as files (a copy of `policies/` with an agreement added, edited or
ended, or a rule changed). The simulator loads the live and the proposed policy into two separate
engines, asks both the same questions, and reports where the answers differ. It never writes to either
directory: the change goes live only when the reviewed files are merged.

Two sets of questions are asked:

* **Access**: every (role, department, dataset, view, purpose) that any grant line of either policy
  could answer "yes" to. A question no grant line matches is refused by both policies (deny by
  default), so only these can differ. Each answer carries its basis (the agreement or rule) and the
  fields it releases, so a change of agreement or of fields shows as well as a gain or a loss.
* **Past requests**: the audit events of the last N days, replayed: each request is turned back into
  the policy questions it asked (a caseworker's flags ask every flag dataset; a table asks one dataset
  in the aggregate view) and answered by both policies for the caller's roles and department.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.identity.principal import Principal
from gateway.policy.decision import ANY, Decision, PolicyEngine

GLOB = set("*?[")
# Views answered per dataset when a request asks "what may I see of everyone's data" (the flags view).
WHOLE_VIEW_ACTIONS = {"flags.read": "flags", "family.context": "flags"}


class WhatIfError(ValueError):
    """The proposed policy cannot be simulated; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, order=True)
class Question:
    role: str
    department: str
    dataset: str
    view: str
    purpose: str

    def as_dict(self) -> dict[str, str]:
        return {
            "role": self.role,
            "department": self.department,
            "dataset": self.dataset,
            "view": self.view,
            "purpose": self.purpose,
        }


@dataclass(frozen=True)
class Outcome:
    allow: bool
    basis: str | None  # the agreement or rule that decided; None for deny by default
    fields: tuple[str, ...] | None  # None: the basis does not limit fields
    reason: str

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        fields = tuple(sorted(decision.permitted_fields)) if decision.permitted_fields is not None else None
        return cls(decision.allow, decision.rule, fields, decision.reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "basis": self.basis,
            "fields": list(self.fields) if self.fields is not None else None,
            "reason": self.reason,
        }


def _kind(before: Outcome, after: Outcome) -> str | None:
    if before.allow != after.allow:
        return "gained" if after.allow else "lost"
    if not before.allow:
        return None
    if before.fields != after.fields:
        return "fields_changed"
    if before.basis != after.basis:
        return "basis_changed"
    return None


@dataclass(frozen=True)
class Change:
    question: Question
    before: Outcome
    after: Outcome

    @property
    def kind(self) -> str:
        return _kind(self.before, self.after) or "unchanged"

    @property
    def fields_gained(self) -> list[str]:
        return (
            sorted(set(self.after.fields or ()) - set(self.before.fields or ())) if self.after.allow else []
        )

    @property
    def fields_lost(self) -> list[str]:
        if not self.before.allow:
            return []
        return sorted(
            set(self.before.fields or ()) - set(self.after.fields or () if self.after.allow else ())
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.question.as_dict(),
            "change": self.kind,
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "fields_gained": self.fields_gained,
            "fields_lost": self.fields_lost,
        }


@dataclass(frozen=True)
class ReplayedRequest:
    """A past request that the proposed policy would decide differently from the live one."""

    event: dict[str, Any]
    department: str | None
    changes: list[Change]
    # Whether some of the request's other questions, answered alike by both policies, were allowed.
    kept_allowed: bool = False

    @property
    def verdict(self) -> str:
        """A request is refused when none of its questions is allowed (a caseworker's flags with no
        service open to them are refused, not an empty page)."""
        before = self.kept_allowed or any(c.before.allow for c in self.changes)
        after = self.kept_allowed or any(c.after.allow for c in self.changes)
        if before and not after:
            return "now_refused"
        if after and not before:
            return "now_allowed"
        return "now_different"

    def as_dict(self) -> dict[str, Any]:
        e = self.event
        return {
            "audit_id": e.get("id"),
            "time": e.get("time"),
            "actor": e.get("actor"),
            "roles": e.get("roles"),
            "department": self.department,
            "action": e.get("action"),
            "purpose": e.get("purpose"),
            "recorded_decision": e.get("decision"),
            "recorded_agreement": e.get("agreement_id"),
            "verdict": self.verdict,
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass
class Simulation:
    day: dt.date
    access: list[Change]
    requests: list[ReplayedRequest] = field(default_factory=list)
    replayed: int = 0
    not_replayable: int = 0

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.access:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        return {
            "day": self.day.isoformat(),
            "summary": counts,
            "access": [c.as_dict() for c in self.access],
            "past_requests": {
                "replayed": self.replayed,
                "not_replayable": self.not_replayable,
                "decided_differently": [r.as_dict() for r in self.requests],
            },
        }


# --- loading ------------------------------------------------------------------------------------


def load_engine(policies_dir: Path, day: dt.date) -> PolicyEngine:
    """An engine over `policies_dir` that never reloads: what it says is what the files said."""
    engine = PolicyEngine(Path(policies_dir), check_interval=float("inf"), today=lambda: day)
    if engine.load_error:
        raise WhatIfError([engine.load_error])
    return engine


def check_proposal(proposed_dir: Path, day: dt.date) -> None:
    """Refuse a proposal that does not load or does not pass `gateway policy check`, naming each problem."""
    from gateway.policy.check import check_policies

    proposed_dir = Path(proposed_dir)
    if not (proposed_dir / "model.conf").is_file():
        raise WhatIfError(
            [f"{proposed_dir} is not a policies directory (it has no model.conf): copy policies/ and edit"]
        )
    problems = [str(p) for p in check_policies(proposed_dir, today=day)]
    # An agreement past its review date is worth telling, not a reason to refuse the simulation.
    blocking = [p for p in problems if "review date" not in p]
    if blocking:
        raise WhatIfError(blocking)


# --- the questions ------------------------------------------------------------------------------


def _lines(engine: PolicyEngine) -> tuple[list[list[str]], list[list[str]]]:
    enforcer = engine.current().enforcer
    assert enforcer is not None  # load_engine refused a policy that does not load
    return [list(p) for p in enforcer.get_policy()], [list(g) for g in enforcer.get_grouping_policy()]


def _expand(pattern: str, known: Iterable[str]) -> set[str]:
    if not GLOB & set(pattern):
        return {pattern}
    return {k for k in known if fnmatch.fnmatchcase(k, pattern)}


def _inheritors(role: str, g_lines: list[list[str]]) -> set[str]:
    """`role` and every role that inherits it, directly or through others."""
    found, frontier = {role}, [role]
    while frontier:
        current = frontier.pop()
        for child, parent in (line[:2] for line in g_lines):
            if parent == current and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def questions(
    engines: Iterable[PolicyEngine], departments: Iterable[str], datasets: Iterable[str]
) -> list[Question]:
    """Every question a grant line of any engine could answer "yes" to; the rest are refused by all."""
    engines = list(engines)
    per_engine = [_lines(e) for e in engines]
    p_all = [p for p, _ in per_engine]
    known_datasets = set(datasets) | {p[2] for lines in p_all for p in lines if not GLOB & set(p[2])}
    known_purposes = {p[4] for lines in p_all for p in lines if not GLOB & set(p[4])}
    known_departments = set(departments) | {p[1] for lines in p_all for p in lines if p[1] != ANY}
    out: set[Question] = set()
    for p_lines, g_lines in per_engine:
        for role, dept, dataset, view, purpose, *_rest, effect in p_lines:
            if effect != "allow":
                continue
            for r in _inheritors(role, g_lines):
                for d in known_departments if dept == ANY else {dept}:
                    for ds in _expand(dataset, known_datasets):
                        for pu in _expand(purpose, known_purposes):
                            out.add(Question(r, d, ds, view, pu))
    return sorted(out)


def _principal(role: str, department: str | None) -> Principal:
    return Principal(sub="what-if", name="what-if", roles=(role,), department=department or None)


def compare(
    live: PolicyEngine, proposed: PolicyEngine, asked: Iterable[Question], day: dt.date
) -> list[Change]:
    """The questions the two policies answer differently (allow, basis or fields)."""
    out = []
    for q in asked:
        principal = _principal(q.role, q.department)
        before = Outcome.of(live.decide(principal, q.view, q.dataset, q.purpose, day=day))
        after = Outcome.of(proposed.decide(principal, q.view, q.dataset, q.purpose, day=day))
        if _kind(before, after):
            out.append(Change(q, before, after))
    return out


# --- past requests ------------------------------------------------------------------------------


def _request_questions(
    event: dict[str, Any], flag_datasets: list[str], department: str | None
) -> Iterator[tuple[str, str, str, str | None]]:
    """(view, dataset, purpose, agreement) asked by a recorded request; nothing for requests that are
    not decided by data-sharing policy (signing in, health checks, unknown paths)."""
    action, purpose = event.get("action") or "", event.get("purpose")
    asked = (event.get("disclosure_applied") or {}).get("request") or {}
    if not purpose:
        return
    if action in WHOLE_VIEW_ACTIONS:
        for dataset in flag_datasets:
            yield WHOLE_VIEW_ACTIONS[action], dataset, purpose, None
    elif action == "aggregates.query" and isinstance(asked.get("dataset"), str):
        yield "aggregate", asked["dataset"], purpose, asked.get("agreement")
    elif action == "extracts.request" and isinstance(asked.get("dataset"), str):
        yield "extract", asked["dataset"], purpose, asked.get("agreement")
    elif action == "caseload.read" and department:
        yield "caseload", f"{department}.caseload", purpose, None
    elif action.startswith("audit."):
        yield "review", "audit", purpose, None


def replay(
    events: Iterable[dict[str, Any]],
    live: PolicyEngine,
    proposed: PolicyEngine,
    day: dt.date,
    department_of: Callable[[str], str | None],
) -> tuple[list[ReplayedRequest], int, int]:
    """Past requests the proposed policy decides differently, how many were replayed, and how many
    could not be (no purpose, or an action no data-sharing policy decides)."""
    flag_datasets = sorted({q.dataset for q in questions([live, proposed], [], []) if q.view == "flags"})
    changed: list[ReplayedRequest] = []
    replayed = skipped = 0
    for event in events:
        department = department_of(event.get("actor") or "")
        asked = list(_request_questions(event, flag_datasets, department))
        if not asked or not event.get("roles"):
            skipped += 1
            continue
        replayed += 1
        principal = Principal(
            sub=event.get("actor") or "", name="", roles=tuple(event["roles"]), department=department
        )
        changes: list[Change] = []
        kept_allowed = False
        for view, dataset, purpose, agreement in asked:
            b = Outcome.of(live.decide(principal, view, dataset, purpose, agreement, day=day))
            a = Outcome.of(proposed.decide(principal, view, dataset, purpose, agreement, day=day))
            role = "/".join(principal.roles)
            if _kind(b, a):
                changes.append(Change(Question(role, department or "", dataset, view, purpose), b, a))
            else:
                kept_allowed |= b.allow
        if changes:
            changed.append(ReplayedRequest(event, department, changes, kept_allowed))
    return changed, replayed, skipped


def simulate(
    live_dir: Path,
    proposed_dir: Path,
    day: dt.date,
    departments: Iterable[str],
    datasets: Iterable[str],
    events: Iterable[dict[str, Any]] = (),
    department_of: Callable[[str], str | None] = lambda _actor: None,
) -> Simulation:
    """Compare the two policy directories on `day`; neither is written to."""
    if Path(live_dir).resolve() == Path(proposed_dir).resolve():
        raise WhatIfError(["the proposed policy is the live policy directory: propose a copy"])
    check_proposal(proposed_dir, day)
    live, proposed = load_engine(live_dir, day), load_engine(proposed_dir, day)
    access = compare(live, proposed, questions([live, proposed], departments, datasets), day)
    requests, replayed, skipped = replay(events, live, proposed, day, department_of)
    return Simulation(day, access, requests, replayed, skipped)


# --- against a running gateway's policies and audit log ------------------------------------------


def users_departments(policies_dir: Path) -> dict[str, str | None]:
    """user id -> department, from the users file beside the live policy (the demo directory); a
    deployment whose departments come from the identity provider replays with no department."""
    from gateway.identity.users import load_demo_users

    try:
        return {u.id: u.department for u in load_demo_users(policies_dir).users}
    except (OSError, ValueError):
        return {}


def simulate_live(
    live_dir: Path,
    proposed_dir: Path,
    day: dt.date,
    days: int,
    audit: Any | None,
    now: dt.datetime | None = None,
) -> Simulation:
    """`simulate` with the universe of departments and datasets the gateway knows and the audited
    requests of the last `days` days read from `audit` (a SQLAlchemy engine; None: no replay)."""
    from audit.review import EventFilter, stream
    from gateway.catalogue import load_catalogue
    from gateway.departments import STORE_NAMES

    users = users_departments(live_dir)
    datasets: set[str] = set()
    for folder in (live_dir, proposed_dir):
        try:
            datasets |= {d.name for d in load_catalogue(folder).datasets}
        except Exception:  # a broken catalogue is reported by check_proposal
            continue
    departments = set(STORE_NAMES) | {d for d in users.values() if d}
    events: Iterable[dict[str, Any]] = ()
    if audit is not None and days > 0:
        now = now or dt.datetime.now(dt.UTC)
        since = (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
        events = stream(audit, EventFilter(since=since))
    return simulate(live_dir, proposed_dir, day, departments, datasets, events, users.get)
