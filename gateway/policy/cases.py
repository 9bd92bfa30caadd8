"""Policy unit tests as data (`policies/tests/*.yaml`): principal, request, expected decision.

An IG officer writes a case for each decision that matters ("Alice may see housing arrears flags for a
s47 enquiry", "an analyst may never see records"); `gateway policy test` and pytest both run them, so a
policy change that alters a listed decision fails review.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.identity.principal import Principal
from gateway.identity.users import load_demo_users
from gateway.policy.decision import Decision, PolicyEngine

TESTS_DIR = "tests"


class InlinePrincipal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str]
    department: str | None = None
    team: str | None = None


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: str
    dataset: str
    purpose: str
    agreement: str | None = None
    day: dt.date | None = None


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow: bool
    agreement: str | None = None
    rule: str | None = None
    fields_include: list[str] = Field(default_factory=list)
    fields_exclude: list[str] = Field(default_factory=list)
    reason_contains: str | None = None


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    user: str | None = None
    principal: InlinePrincipal | None = None
    request: Request
    expect: Expect


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: list[Case]


@dataclass(frozen=True)
class Outcome:
    file: str
    case: Case
    decision: Decision
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


class CaseFileError(ValueError):
    pass


def load_cases(policies_dir: Path) -> list[tuple[str, Case]]:
    out: list[tuple[str, Case]] = []
    for path in sorted((Path(policies_dir) / TESTS_DIR).glob("*.yaml")):
        try:
            parsed = CaseFile.model_validate(yaml.safe_load(path.read_text()))
        except (yaml.YAMLError, ValidationError) as exc:
            raise CaseFileError(f"{path.name}: {' '.join(str(exc).split())[:400]}") from exc
        out.extend((path.name, c) for c in parsed.cases)
    return out


def principal_for(case: Case, policies_dir: Path) -> Principal:
    if case.user:
        u = load_demo_users(policies_dir).get(case.user)
        return Principal(u.id, u.name, tuple(sorted(u.roles)), u.department, u.team)
    if case.principal:
        p = case.principal
        return Principal("policy-test", "policy test", tuple(sorted(p.roles)), p.department, p.team)
    raise CaseFileError(f"case {case.name!r} names neither a user nor a principal")


def check(case: Case, decision: Decision) -> tuple[str, ...]:
    e, failures = case.expect, []
    if decision.allow != e.allow:
        failures.append(
            f"expected {'allow' if e.allow else 'deny'}, got {'allow' if decision.allow else 'deny'}"
        )
    if e.agreement and decision.agreement_id != e.agreement:
        failures.append(f"expected agreement {e.agreement}, got {decision.agreement_id}")
    if e.rule and decision.rule != e.rule:
        failures.append(f"expected rule {e.rule}, got {decision.rule}")
    fields = set(decision.permitted_fields or ())
    if missing := [f for f in e.fields_include if f not in fields]:
        failures.append(f"fields not permitted: {', '.join(missing)}")
    if present := [f for f in e.fields_exclude if f in fields]:
        failures.append(f"fields permitted but must not be: {', '.join(present)}")
    if e.reason_contains and e.reason_contains not in decision.reason:
        failures.append(f"reason {decision.reason!r} does not mention {e.reason_contains!r}")
    return tuple(failures)


def run_cases(policies_dir: Path, engine: PolicyEngine | None = None) -> list[Outcome]:
    engine = engine or PolicyEngine(policies_dir)
    outcomes = []
    for filename, case in load_cases(policies_dir):
        r = case.request
        decision = engine.decide(
            principal_for(case, policies_dir), r.view, r.dataset, r.purpose, r.agreement, r.day
        )
        outcomes.append(Outcome(filename, case, decision, check(case, decision)))
    return outcomes
