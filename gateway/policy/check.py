"""`gateway policy check`: everything under `policies/` validated, every problem on its own line.

Errors (exit 1): files that do not parse or fit their schema; agreements naming unknown datasets,
fields, providers or roles; agreements without a legal basis; in-force agreements past their review
date; refusals in rules.csv that contradict an agreement's grant; policy tests naming unknown users.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from gateway.catalogue import load_catalogue
from gateway.departments import STORE_NAMES
from gateway.departments.partners import DATASET_PREFIX, EXCHANGE_SCHEMAS, partner_flags
from gateway.identity.claims import CLAIMS_FILE, load_claim_mapping
from gateway.identity.users import load_demo_users
from gateway.linkage.profile import ProfileError, load_profile
from gateway.policy.agreements import Agreement, RegistryError, load_registry
from gateway.policy.cases import CaseFileError, load_cases
from gateway.policy.enforcer import MODEL_FILE, RuleLine, RulesError, build_enforcer, read_rules
from gateway.policy.processing_record import PROCESSING_FILE, ProcessingRecordError, load_processing_record
from gateway.privacy.generalise import levels_of

# Roles the gateway's endpoints know; anything else in a policy is a typo or an unbuilt feature.
KNOWN_ROLES = {
    "caseworker",
    "senior_practitioner",
    "front_door_screener",
    "analyst",
    "ig_officer",
    "reidentification_approver",
    "partner",
}


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _overlaps(rule: RuleLine, a: Agreement, roles_of: dict[str, set[str]]) -> str | None:
    role, dept, dataset, view, purpose, basis, start, end, _ = rule.values
    for r in a.recipients:
        if role not in roles_of.get(r.role, {r.role}):
            continue
        if dept not in {"*", r.department} and r.department != "*":
            continue
        if view != a.view:
            continue
        if not any(fnmatch.fnmatchcase(d, dataset) for d in a.datasets):
            continue
        if not any(fnmatch.fnmatchcase(p, purpose) for p in a.purposes):
            continue
        if start > a.end.isoformat() or end < a.start.isoformat():
            continue
        return f"rule {basis} (rules.csv line {rule.line}) refuses what agreement {a.id} grants to {r.role}"
    return None


def roles_named(rules: list[RuleLine], registry: dict[str, Agreement]) -> set[str]:
    """Every role a rule or an agreement names (and every role that inherits one)."""
    named = {r.values[0] for r in rules if r.kind == "p"} | {
        v for r in rules if r.kind == "g" for v in r.values
    }
    return named | {rec.role for a in registry.values() for rec in a.recipients}


def check_policies(policies_dir: Path, today: dt.date | None = None) -> list[Problem]:
    policies_dir = Path(policies_dir)
    today = today or dt.date.today()
    problems: list[Problem] = []

    try:
        catalogue = load_catalogue(policies_dir)
    except Exception as exc:  # parse or schema: report, keep checking the rest
        problems.append(Problem("catalogue.yaml", " ".join(str(exc).split())[:400]))
        catalogue = None
    try:
        registry = load_registry(policies_dir)
    except RegistryError as exc:
        problems.extend(Problem("agreements", p) for p in exc.problems)
        registry = {}
    try:
        rules = read_rules(policies_dir)
    except (RulesError, OSError) as exc:
        problems.append(Problem("rules.csv", str(exc)))
        rules = []
    try:
        users = load_demo_users(policies_dir)
    except Exception as exc:
        problems.append(Problem("demo-users.yaml", " ".join(str(exc).split())[:400]))
        users = None
    try:
        load_profile(policies_dir)
    except ProfileError as exc:
        problems.append(Problem("linkage.yaml", str(exc)))
    claims_file = policies_dir / CLAIMS_FILE
    if claims_file.is_file():
        try:
            mapping = load_claim_mapping(claims_file)
        except Exception as exc:
            problems.append(Problem(CLAIMS_FILE, " ".join(str(exc).split())[:400]))
        else:
            policy_roles = roles_named(rules, registry)
            for group, grant in mapping.groups.items():
                for role in grant.roles:
                    if role not in policy_roles:
                        problems.append(
                            Problem(
                                CLAIMS_FILE,
                                f"group {group!r} grants {role!r}, a role no rule or agreement names",
                            )
                        )
                if (
                    grant.department
                    and grant.department not in STORE_NAMES
                    and grant.department
                    not in {r.department for a in registry.values() for r in a.recipients}
                    | {u.department for u in (users.users if users else [])}
                ):
                    problems.append(
                        Problem(CLAIMS_FILE, f"group {group!r} names unknown department {grant.department!r}")
                    )
    try:
        processing = load_processing_record(policies_dir)
    except ProcessingRecordError as exc:
        problems.append(Problem(PROCESSING_FILE, str(exc)))
    else:
        rule_ids = {r.values[5] for r in rules if r.kind == "p"}
        for activity in processing.activities:
            for rule_id in activity.rules:
                if rule_id not in rule_ids:
                    problems.append(
                        Problem(
                            PROCESSING_FILE, f"activity {activity.id} names rule {rule_id}, not in rules.csv"
                        )
                    )
            for source in activity.sources:
                if source not in STORE_NAMES:
                    problems.append(
                        Problem(PROCESSING_FILE, f"activity {activity.id}: unknown source {source!r}")
                    )
    try:
        build_enforcer(policies_dir, registry, rules)
    except Exception as exc:
        problems.append(Problem(MODEL_FILE, f"the access model does not load: {' '.join(str(exc).split())}"))

    inherits: dict[str, set[str]] = {}
    for r in rules:
        if r.kind == "g":
            inherits.setdefault(r.values[1], {r.values[1]}).add(r.values[0])
    roles_known = KNOWN_ROLES | {r.values[0] for r in rules if r.kind == "g"}

    try:
        partner_datasets = {p.spec.dataset: p for p in partner_flags(policies_dir)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(Problem("exchanges", f"an exchange schema's flag (x-flag) cannot be read: {exc}"))
        partner_datasets = {}
    partners = {p.spec.service for p in partner_datasets.values()}
    for a in registry.values():
        where = f"agreement {a.id}"
        if not a.legal_basis:
            problems.append(Problem(where, "has no legal basis"))
        if a.in_force(today) and a.review < today:
            problems.append(
                Problem(where, f"is in force but its review date {a.review.isoformat()} has passed")
            )
        for provider in a.providers:
            if provider not in STORE_NAMES and provider not in partners:
                problems.append(Problem(where, f"unknown provider {provider!r}"))
        for recipient in a.recipients:
            if recipient.role not in roles_known:
                problems.append(Problem(where, f"unknown recipient role {recipient.role!r}"))
        if a.view == "aggregate" and a.disclosure.threshold is None:
            problems.append(Problem(where, "an aggregate agreement needs a disclosure threshold"))
        if a.view == "extract" and a.disclosure.k is None:
            problems.append(Problem(where, "an extract agreement needs disclosure k"))
        if catalogue is not None:
            for name, fields in a.datasets.items():
                dataset = catalogue.dataset(name)
                if dataset is None:
                    problems.append(Problem(where, f"unknown dataset {name!r}"))
                    continue
                for f in fields:
                    if f not in dataset.fields:
                        problems.append(Problem(where, f"unknown field {f!r} in dataset {name!r}"))
                for f, level in a.disclosure.generalise.items():
                    if f not in dataset.hierarchies:
                        continue
                    if level not in levels_of(dataset.hierarchies[f]):
                        problems.append(Problem(where, f"{name}.{f} cannot be generalised to {level!r}"))
                if a.view == "exchange" and (
                    dataset.kind != "exchange"
                    or not (
                        policies_dir / EXCHANGE_SCHEMAS / f"{name.removeprefix(DATASET_PREFIX)}.schema.json"
                    ).is_file()
                ):
                    problems.append(Problem(where, f"dataset {name!r} is not a published exchange schema"))
                if a.view == "flags" and dataset.kind == "exchange":
                    flag = partner_datasets.get(name)
                    if flag is None:
                        problems.append(Problem(where, f"dataset {name!r}'s schema declares no x-flag"))
                    elif flag.spec.service not in a.providers:
                        problems.append(
                            Problem(where, f"dataset {name!r} is from {flag.spec.service!r}, not a provider")
                        )
                if a.view == "extract" and dataset.kind != "extract":
                    problems.append(Problem(where, f"dataset {name!r} is not an extract dataset"))
                if dataset.store and dataset.store not in a.providers:
                    problems.append(Problem(where, f"dataset {name!r} is not from one of its providers"))
            released = {f for fields in a.datasets.values() for f in fields}
            for f in a.disclosure.sensitive:
                if f not in released:
                    problems.append(
                        Problem(where, f"sensitive field {f!r} is not a field the agreement releases")
                    )

    for rule in rules:
        if rule.kind == "p" and rule.values[-1] == "deny":
            for a in registry.values():
                if clash := _overlaps(rule, a, inherits):
                    problems.append(Problem("rules.csv", f"contradictory rules: {clash}"))

    try:
        cases = load_cases(policies_dir)
    except CaseFileError as exc:
        problems.append(Problem("tests", str(exc)))
        cases = []
    if users is not None:
        known = {u.id for u in users.users}
        for filename, case in cases:
            if case.user and case.user not in known:
                problems.append(
                    Problem(f"tests/{filename}", f"case {case.name!r} names unknown user {case.user!r}")
                )
            if case.request.agreement and case.request.agreement not in registry:
                problems.append(
                    Problem(
                        f"tests/{filename}",
                        f"case {case.name!r} names unknown agreement {case.request.agreement!r}",
                    )
                )
    return problems
