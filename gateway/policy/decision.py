"""The decision every endpoint calls: may this principal do this to this dataset, for this purpose?

`PolicyEngine.decide(principal, view, dataset, purpose, agreement=None) -> Decision`. Deny by default.
The pycasbin enforcer finds the first matching line (refusals first); a grant names its agreement, whose
permitted fields and disclosure settings travel with the decision. A refusal always carries a sentence
saying why: the rule that refused, or the nearest agreement and what it lacks (ended, not started,
another purpose). Decisions are cached per principal and request; the cache is dropped whenever a file
under `policies/` changes, which is checked at most once a second, so edits apply without a restart.
If the policy cannot be loaded, every decision is a refusal naming the error (fail closed).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casbin

from gateway.identity.claims import NO_ROLE_CLAIM
from gateway.identity.principal import Principal
from gateway.policy.agreements import Agreement, Disclosure, RegistryError, load_registry
from gateway.policy.enforcer import RulesError, build_enforcer, read_rules
from gateway.telemetry.tracing import step

ANY = "*"


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    view: str
    dataset: str
    purpose: str
    agreement: Agreement | None = None
    rule: str | None = None  # the basis of the matching line: an agreement id or a rule id
    permitted_fields: tuple[str, ...] | None = None  # None: the rule does not limit fields
    disclosure: Disclosure | None = None
    # Why, as a short fixed code (for metrics and dashboards; `reason` is the sentence for people).
    code: str = "allowed"

    @property
    def agreement_id(self) -> str | None:
        return self.agreement.id if self.agreement else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "reason": self.reason,
            "view": self.view,
            "dataset": self.dataset,
            "purpose": self.purpose,
            "agreement_id": self.agreement_id,
            "rule": self.rule,
            "permitted_fields": list(self.permitted_fields) if self.permitted_fields is not None else None,
            "disclosure": self.disclosure.model_dump(exclude_none=True) if self.disclosure else None,
        }


@dataclass
class _Loaded:
    enforcer: casbin.Enforcer | None
    registry: dict[str, Agreement]
    error: str | None
    signature: tuple
    # Agreements in the registry whose grants do not apply, and why (an unfinished lifecycle).
    blocked: dict[str, str] = field(default_factory=dict)


def _signature(policies_dir: Path) -> tuple:
    files = sorted(p for p in Path(policies_dir).rglob("*") if p.is_file())
    out = []
    for p in files:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _roles(loaded: _Loaded, principal: Principal) -> set[str]:
    """The principal's roles plus every role they inherit through `g` lines in rules.csv."""
    roles = set(principal.roles)
    for role in principal.roles:
        roles.update(loaded.enforcer.get_implicit_roles_for_user(role) if loaded.enforcer else [])
    return roles


@dataclass
class PolicyEngine:
    policies_dir: Path
    check_interval: float = 1.0
    today: Callable[[], dt.date] = dt.date.today
    # Told every decision handed out (cached or fresh): the service's metrics hook in here.
    on_decision: Callable[[Decision], None] | None = field(default=None, repr=False)
    # Which agreements of the registry may not be in force yet, and why (the agreement lifecycle:
    # `gateway/policy/lifecycle.py`). Asked on every load; if it fails, nothing is allowed and the
    # load is tried again at the next check.
    gate: Callable[[dict[str, Agreement]], dict[str, str]] | None = field(default=None, repr=False)
    _loaded: _Loaded | None = field(default=None, init=False, repr=False)
    _checked_at: float = field(default=0.0, init=False, repr=False)
    _cache: dict[tuple, Decision] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # casbin compiles its matcher with ast.parse on every enforce; CPython 3.11 before 3.11.8 can raise
    # "AST constructor recursion depth mismatch" when threads parse at once (cpython gh-106905), and
    # the enforcer is not documented as thread-safe. Enforcement is microseconds and decisions are
    # cached, so one lock costs nothing measurable.
    _enforce_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # --- loading -------------------------------------------------------------------------------
    def _load(self, signature: tuple) -> _Loaded:
        try:
            registry = load_registry(self.policies_dir)
            rules = read_rules(self.policies_dir)
        except (RegistryError, RulesError, OSError, ValueError, RuntimeError) as exc:
            return _Loaded(None, {}, " ".join(str(exc).split()), signature)
        try:
            blocked = self.gate(registry) if self.gate else {}
        except Exception as exc:  # fail closed, and load again at the next check
            reason = f"the agreement lifecycle could not be read ({type(exc).__name__})"
            return _Loaded(None, registry, reason, ())
        try:
            in_force = {k: a for k, a in registry.items() if k not in blocked}
            enforcer = build_enforcer(self.policies_dir, in_force, rules)
        except (RegistryError, RulesError, OSError, ValueError, RuntimeError) as exc:
            return _Loaded(None, {}, " ".join(str(exc).split()), signature)
        return _Loaded(enforcer, registry, None, signature, blocked)

    def invalidate(self) -> None:
        """Load again at the next decision (a lifecycle step changed what may be in force)."""
        with self._lock:
            self._checked_at = 0.0
            if self._loaded is not None:
                self._loaded.signature = ()

    def blocked(self) -> dict[str, str]:
        return dict(self.current().blocked)

    def current(self) -> _Loaded:
        now = time.monotonic()
        with self._lock:
            if self._loaded is None or now - self._checked_at >= self.check_interval:
                self._checked_at = now
                signature = _signature(self.policies_dir)
                if self._loaded is None or signature != self._loaded.signature:
                    self._loaded = self._load(signature)
                    self._cache.clear()
            return self._loaded

    @property
    def registry(self) -> dict[str, Agreement]:
        return self.current().registry

    def roles(self) -> set[str]:
        """Every role the loaded policy names (in its grants, refusals and role inheritance)."""
        enforcer = self.current().enforcer
        if enforcer is None:
            return set()
        named = {line[0] for line in enforcer.get_policy()}
        return named | {role for line in enforcer.get_grouping_policy() for role in line[:2]}

    @property
    def load_error(self) -> str | None:
        return self.current().error

    # --- deciding ------------------------------------------------------------------------------
    def decide(
        self,
        principal: Principal,
        view: str,
        dataset: str,
        purpose: str,
        agreement: str | None = None,
        day: dt.date | None = None,
    ) -> Decision:
        loaded = self.current()
        day = day or self.today()
        key = (principal.cache_key, view, dataset, purpose, agreement, day)
        with step("decide", view=view, dataset=dataset, purpose=purpose) as span:
            decision = self._cache.get(key)
            if decision is None:
                try:
                    decision = self._decide(loaded, principal, view, dataset, purpose, agreement, day)
                except Exception as exc:  # fail closed, and do not cache: the next call evaluates again
                    decision = Decision(
                        False,
                        f"the policy could not be evaluated ({type(exc).__name__}), so nothing is allowed",
                        view,
                        dataset,
                        purpose,
                        code="policy_unavailable",
                    )
                else:
                    self._cache[key] = decision
            span.set_attribute("decision", "allow" if decision.allow else "deny")
            span.set_attribute("decision.code", decision.code)
        if self.on_decision is not None:
            self.on_decision(decision)
        return decision

    def _decide(
        self,
        loaded: _Loaded,
        principal: Principal,
        view: str,
        dataset: str,
        purpose: str,
        agreement_id: str | None,
        day: dt.date,
    ) -> Decision:
        def deny(reason: str, code: str, rule: str | None = None) -> Decision:
            return Decision(False, reason, view, dataset, purpose, rule=rule, code=code)

        if loaded.enforcer is None:
            return deny(
                f"policy could not be loaded, so nothing is allowed: {loaded.error}", "policy_unavailable"
            )
        if not principal.roles:
            return deny(principal.claims.get(NO_ROLE_CLAIM) or "the caller holds no role", "no_role")
        if agreement_id is not None and agreement_id not in loaded.registry:
            return deny(f"there is no agreement {agreement_id} in the registry", "unknown_agreement")
        dept = principal.department or ""
        iso = day.isoformat()
        granted: tuple[str, list[str]] | None = None
        for role in principal.roles:
            with self._enforce_lock:
                ok, line = loaded.enforcer.enforce_ex(
                    role, dept, dataset, view, purpose, agreement_id or ANY, iso
                )
            if line and line[-1] == "deny":
                return deny(
                    f"refused by rule {line[5]} ({line[0]} may not use {line[3]} views)",
                    "refused_by_rule",
                    line[5],
                )
            if ok and granted is None:
                granted = (role, line)
        if granted is None:
            return deny(
                self._explain(loaded, principal, view, dataset, purpose, agreement_id, day), "no_agreement"
            )
        role, line = granted
        basis = line[5]
        found = loaded.registry.get(basis)
        if found is None:
            return Decision(
                True,
                f"allowed by rule {basis} for role {role}",
                view,
                dataset,
                purpose,
                rule=basis,
                code="allowed_by_rule",
            )
        return Decision(
            True,
            f"allowed by agreement {found.id} ({found.title}) for {role} in {line[1]} and purpose {purpose}",
            view,
            dataset,
            purpose,
            agreement=found,
            rule=basis,
            permitted_fields=tuple(found.datasets.get(dataset, ())),
            disclosure=found.disclosure,
            code="allowed_by_agreement",
        )

    @staticmethod
    def _explain(
        loaded: _Loaded,
        principal: Principal,
        view: str,
        dataset: str,
        purpose: str,
        agreement_id: str | None,
        day: dt.date,
    ) -> str:
        """The nearest agreement to the request and what it lacks, as one sentence."""
        roles = _roles(loaded, principal)
        candidates = [
            a
            for a in loaded.registry.values()
            if (agreement_id is None or a.id == agreement_id)
            and any(r.role in roles and r.department in {ANY, principal.department} for r in a.recipients)
            and dataset in a.datasets
            and a.view == view
        ]
        for a in candidates:
            if purpose in a.purposes and a.id in loaded.blocked:
                return loaded.blocked[a.id]
            if purpose in a.purposes and not a.in_force(day):
                if day > a.end:
                    return f"agreement {a.id} ({a.title}) ended on {a.end.isoformat()}"
                return f"agreement {a.id} ({a.title}) does not start until {a.start.isoformat()}"
        if candidates:
            a = candidates[0]
            return (
                f"purpose {purpose!r} is not a purpose of agreement {a.id}; "
                f"it allows {', '.join(sorted(a.purposes))}"
            )
        if agreement_id is not None:
            return (
                f"agreement {agreement_id} does not let {'/'.join(principal.roles)} in "
                f"{principal.department or 'no department'} use {view} of {dataset}"
            )
        who = f"{'/'.join(principal.roles)} in {principal.department or 'no department'}"
        return f"no agreement or rule lets {who} use {view} of {dataset} for {purpose} (deny by default)"

    # --- what is open to a principal ------------------------------------------------------------
    def permitted(
        self, principal: Principal, view: str, purpose: str, day: dt.date | None = None
    ) -> dict[str, tuple[str, ...]]:
        """dataset -> fields the principal may receive in `view` for `purpose`, in one policy query.

        Reads the matching grant lines with pycasbin's filtered policy instead of asking dataset by
        dataset, so a caller can turn "what may I see" into one SQL select list per dataset; each
        dataset is still confirmed through `decide` so refusals in rules.csv keep winning.
        """
        loaded = self.current()
        if loaded.enforcer is None:
            return {}
        day = day or self.today()
        roles = _roles(loaded, principal)
        out: dict[str, tuple[str, ...]] = {}
        for role in sorted(roles):
            for line in loaded.enforcer.get_filtered_policy(0, role, "", "", view, "", "", "", "", "allow"):
                agreement = loaded.registry.get(line[5])
                if agreement is None or line[2] in out:
                    continue
                decision = self.decide(principal, view, line[2], purpose, day=day)
                if decision.allow and decision.permitted_fields is not None:
                    out[line[2]] = decision.permitted_fields
        return out

    def open_to(self, principal: Principal, day: dt.date | None = None) -> list[dict[str, Any]]:
        """In-force agreements whose recipients include the principal, with their purposes and view."""
        loaded = self.current()
        day = day or self.today()
        if loaded.enforcer is None:
            return []
        roles = _roles(loaded, principal)
        out = []
        for a in sorted(loaded.registry.values(), key=lambda a: a.id):
            if a.id in loaded.blocked:
                continue
            if a.in_force(day) and any(
                r.role in roles and r.department in {ANY, principal.department} for r in a.recipients
            ):
                out.append({"id": a.id, "title": a.title, "view": a.view, "purposes": sorted(a.purposes)})
        return out
