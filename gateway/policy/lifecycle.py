"""The agreement lifecycle: a proposed agreement is drafted, signed off by the information asset owner of
each providing service, assessed (the DPIA checklist in `policies/dpia-checklist.yaml`), reviewed by
the data protection officer, and only then may it come into force.

Every step is a decision recorded as an audit event (`agreement.draft`, `agreement.sign_off`,
`agreement.dpia`, `agreement.dpo_review`, purpose `agreement_lifecycle`, resource `agreements/<id>`),
so the record of who agreed what and when is the tamper-evident chain itself. Each step names the
draft's digest (SHA-256 of the agreement as parsed): a changed draft needs every step again.

`policies/agreements/` stays the reviewed source. The policy engine loads an agreement that has a
lifecycle history only as a text that completed every step, or as the text that was in force when an
amendment was drafted (`blocked`); otherwise its grants do not apply and decisions say which step is
missing. Agreements adopted before the lifecycle existed (no history) load as before.

These functions are pure: the events and drafts come from the stores (`drafts.py`, the audit log).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from gateway.policy.agreements import Agreement

PURPOSE = "agreement_lifecycle"
DRAFT, SIGN_OFF, DPIA, DPO_REVIEW = (
    "agreement.draft",
    "agreement.sign_off",
    "agreement.dpia",
    "agreement.dpo_review",
)
STEPS = (DRAFT, SIGN_OFF, DPIA, DPO_REVIEW)
CHECKLIST_FILE = "dpia-checklist.yaml"


def digest(agreement: Agreement) -> str:
    """The agreement as parsed, not as typed: reformatting the YAML keeps the sign-offs."""
    canonical = json.dumps(agreement.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def resource(agreement_id: str) -> str:
    return f"agreements/{agreement_id}"


# --- the DPIA checklist ---------------------------------------------------------------------------


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: str


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[Question] = Field(min_length=1)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Literal["yes", "no", "not_applicable"]
    note: str = Field(default="", max_length=2000)


def load_checklist(policies_dir: Path) -> Checklist:
    return Checklist.model_validate(yaml.safe_load((Path(policies_dir) / CHECKLIST_FILE).read_text()))


def checklist_problems(checklist: Checklist, answers: Mapping[str, Answer]) -> list[str]:
    """What stops the DPIA counting as complete: a question unanswered, a "no" without a note saying how
    the risk is handled, an answer to a question the checklist does not ask."""
    asked = {q.id for q in checklist.questions}
    problems = [f"question {q.id!r} is not answered" for q in checklist.questions if q.id not in answers]
    problems += [f"{k!r} is not a question of the checklist" for k in answers if k not in asked]
    problems += [
        f"question {k!r} is answered no: say in a note how the risk is handled"
        for k, a in answers.items()
        if a.answer == "no" and len(a.note.split()) < 3
    ]
    return problems


# --- the state of one draft -----------------------------------------------------------------------


@dataclass
class Step:
    who: str
    when: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lifecycle:
    agreement_id: str
    digest: str
    providers: list[str]
    drafted: Step | None = None
    sign_offs: dict[str, Step] = field(default_factory=dict)
    dpia: Step | None = None
    dpo: Step | None = None

    @property
    def missing(self) -> list[str]:
        """The steps still to take, in order, as sentences."""
        out = [
            f"sign-off by the information asset owner of {p}"
            for p in self.providers
            if p not in self.sign_offs
        ]
        if self.dpia is None:
            out.append("the DPIA checklist")
        if self.dpo is None or self.dpo.detail.get("decision") != "approve":
            out.append("approval by the data protection officer")
        return out

    @property
    def state(self) -> str:
        if self.dpo is not None and self.dpo.detail.get("decision") == "reject":
            return "rejected"
        if any(p not in self.sign_offs for p in self.providers):
            return "awaiting_sign_off"
        if self.dpia is None:
            return "awaiting_dpia"
        if self.dpo is None:
            return "awaiting_dpo_review"
        return "approved"

    def days_to_approval(self) -> int | None:
        if self.state != "approved" or self.drafted is None or self.dpo is None:
            return None
        start = dt.datetime.fromisoformat(self.drafted.when.replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(self.dpo.when.replace("Z", "+00:00"))
        return (end - start).days

    def as_dict(self) -> dict[str, Any]:
        def step(s: Step | None) -> dict[str, Any] | None:
            return None if s is None else {"who": s.who, "when": s.when, **s.detail}

        return {
            "agreement_id": self.agreement_id,
            "digest": self.digest,
            "state": self.state,
            "providers": self.providers,
            "drafted": step(self.drafted),
            "sign_offs": {p: step(s) for p, s in sorted(self.sign_offs.items())},
            "dpia": step(self.dpia),
            "dpo_review": step(self.dpo),
            "missing": self.missing,
            "days_from_draft_to_approval": self.days_to_approval(),
        }


def lifecycle_of(agreement: Agreement, events: Iterable[Mapping[str, Any]]) -> Lifecycle:
    """The draft's state from the allowed lifecycle events about it, oldest first. Steps taken on an
    earlier text of the draft (another digest) do not count; a later decision replaces an earlier one
    (a DPO who rejected may approve a corrected draft)."""
    d = digest(agreement)
    out = Lifecycle(agreement.id, d, sorted(agreement.providers))
    for e in events:
        detail = dict((e.get("disclosure_applied") or {}).get("request") or {})
        if (
            e.get("decision") != "allow"
            or e.get("resource") != resource(agreement.id)
            or detail.get("digest") != d
        ):
            continue
        step = Step(
            str(e.get("actor")), str(e.get("time")), {k: v for k, v in detail.items() if k != "digest"}
        )
        action = e.get("action")
        if action == DRAFT:
            out.drafted = step
        elif action == SIGN_OFF and detail.get("provider") in agreement.providers:
            out.sign_offs[str(detail["provider"])] = step
        elif action == DPIA:
            out.dpia = step
        elif action == DPO_REVIEW:
            out.dpo = step
    return out


def blocked(registry: Mapping[str, Agreement], events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Agreement id -> why its file in policies/ may not be in force. An agreement with no lifecycle
    event was adopted before the lifecycle and stays in force. One with a history is in force only as a
    text that completed every step, or as the text that was in force when an amendment was drafted
    (recorded on the draft as `replaces`): merging a draft before its sign-offs, or a text nobody
    signed off, keeps its grants out."""
    out: dict[str, str] = {}
    for agreement_id, agreement in registry.items():
        history = [
            e for e in events if e.get("resource") == resource(agreement_id) and e.get("decision") == "allow"
        ]
        if not history:
            continue
        d = digest(agreement)
        drafts = [
            dict((e.get("disclosure_applied") or {}).get("request") or {})
            for e in history
            if e.get("action") == DRAFT
        ]
        if d in {r.get("replaces") for r in drafts}:
            continue
        life = lifecycle_of(agreement, history)
        if life.state == "approved":
            continue
        if d in {r.get("digest") for r in drafts}:
            out[agreement_id] = (
                f"agreement {agreement_id} is not in force until its lifecycle is complete: "
                f"missing {'; '.join(life.missing)}"
            )
        else:
            out[agreement_id] = (
                f"agreement {agreement_id} in policies/ is not a text that went through sign-off; "
                "draft the change and take it through the lifecycle"
            )
    return out
