"""Assemble a caseworker's view: decide per flag dataset, query the services in parallel, release.

Reads top to bottom: decide which flags the purpose allows (agreements), find each person's records in
each store (person index), query every permitted service at once (a store that fails is reported as
`unavailable`, never silently dropped), then release only permitted fields, and for a protected person
only that a service is involved and how to contact it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from gateway.caseworker.flags import (
    FLAGS,
    PROTECTION_MARKERS,
    SERVICE_QUERIES,
    SERVICES,
    FlagSpec,
    RawFlag,
    protected_ids,
)
from gateway.caseworker.safeguarding import safeguarding_lines
from gateway.departments.partners import PartnerFlag, partner_flags
from gateway.exchanges.flags import partner_raw_flags
from gateway.identity.principal import Principal
from gateway.index.store import IndexStore
from gateway.policy.decision import Decision, PolicyEngine

OK, UNAVAILABLE, NOT_KNOWN, NOT_PERMITTED = "ok", "unavailable", "not_known", "not_permitted"
PROTECTED_CONTACT_FIELDS = ("role", "phone")  # the contact route, never a name or a location


@dataclass
class Permissions:
    specs: list[FlagSpec]
    contacts: dict[str, bool]  # contact dataset -> permitted with the fields a contact shows
    agreements: set[str]
    refusal: Decision | None  # why nothing is permitted, when nothing is
    # The contact route for protected people, per service (policies/safeguarding-lines.yaml).
    safeguarding_lines: dict[str, dict[str, str]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)  # every decision these rest on
    policy: Any = None  # the loaded policy they were decided under (a cache's check)
    partners: list[PartnerFlag] = field(default_factory=list)  # permitted flags from partners' files
    partner_services: tuple[str, ...] = ()  # every partner service with a flag, permitted or not

    @cached_property
    def releasable(self) -> list[str]:
        """Every field a view under these permissions may release (each permitted flag's, and its
        contact's where the contact is permitted): what an access written ahead of its fetch records.
        Worked out once, as the permissions themselves are cached per caller and purpose."""
        fields = {f"{s.dataset}.{x}" for s in self.specs for x in s.fields}
        fields |= {
            f"{s.contact_dataset}.{x}"
            for s in self.specs
            if s.contact_dataset and self.contacts.get(s.contact_dataset)
            for x in s.contact_fields
        }
        return sorted(fields)


def permissions(policy: PolicyEngine, principal: Principal, purpose: str) -> Permissions:
    allowed, agreements, first_refusal = [], set(), None
    cache: dict[str, Decision] = {}

    def decide(dataset: str) -> Decision:
        if dataset not in cache:
            cache[dataset] = policy.decide(principal, "flags", dataset, purpose)
        return cache[dataset]

    contacts: dict[str, bool] = {}
    declared = partner_flags(policy.policies_dir)
    by_spec = {p.spec: p for p in declared}
    for spec in (*FLAGS, *by_spec):
        d = decide(spec.dataset)
        if d.allow and set(spec.fields) <= set(d.permitted_fields or ()):
            allowed.append(spec)
            agreements.add(d.agreement_id or d.rule or "")
            if spec.contact_dataset and spec.contact_dataset not in contacts:
                c = decide(spec.contact_dataset)
                contacts[spec.contact_dataset] = c.allow and set(spec.contact_fields) <= set(
                    c.permitted_fields or ()
                )
        elif first_refusal is None:
            first_refusal = d
    return Permissions(
        allowed,
        contacts,
        agreements - {""},
        None if allowed else first_refusal,
        safeguarding_lines(policy.policies_dir),
        list(cache.values()),
        partners=[by_spec[s] for s in allowed if s in by_spec],
        partner_services=tuple(dict.fromkeys(p.spec.service for p in declared)),
    )


@dataclass
class PersonFlags:
    person_id: str
    flags: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)
    protected: bool = False


@dataclass
class FlagsResult:
    people: dict[str, PersonFlags]
    agreements: list[str]
    fields_released: set[str]
    rows_released: int
    protected: bool


def _query(engine: Engine, service: str, ids: list[str], as_of: dt.date) -> list[RawFlag]:
    with engine.connect() as conn:
        return SERVICE_QUERIES[service](conn, ids, as_of)


def _protected(engine: Engine, store: str, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        return protected_ids(conn, store, ids)


def gather_flags(
    person_ids: list[str],
    perms: Permissions,
    engines: dict[str, Engine],
    index: IndexStore,
    as_of: dt.date,
    pool: Executor | None = None,
) -> FlagsResult:
    """Every permitted flag of these people, each store queried once, in parallel (on `pool`, the
    service's shared one, or a pool of this call's own)."""
    records = index.records_of(person_ids)
    local: dict[str, dict[str, str]] = defaultdict(dict)  # store -> local id -> person id
    for pid, recs in records.items():
        for source, local_id in recs:
            local[source][local_id] = pid
    permitted_services = {s.service for s in perms.specs}
    to_query = [s for s in SERVICES if s in permitted_services and local.get(s) and s in engines]
    marker_stores = [s for s in PROTECTION_MARKERS if local.get(s) and s in engines]

    # A partner store is the gateway's own database, keyed by the person ids its matching found.
    for partner in perms.partners:
        local[partner.spec.service] = {pid: pid for pid in person_ids}

    own = pool is None
    runner = pool or ThreadPoolExecutor(
        max_workers=max(1, len(to_query) + len(marker_stores) + len(perms.partners))
    )
    try:
        futures = {s: runner.submit(_query, engines[s], s, sorted(local[s]), as_of) for s in to_query}
        markers = {s: runner.submit(_protected, engines[s], s, sorted(local[s])) for s in marker_stores}
        from_partners = [
            (p.spec.service, runner.submit(partner_raw_flags, index.engine, p, person_ids, as_of))
            for p in perms.partners
        ]
    finally:
        if own:
            runner.shutdown()
    status: dict[str, str] = {}
    raw: list[RawFlag] = []
    for s, fut in futures.items():
        try:
            raw.extend(fut.result())
            status[s] = OK
        except Exception:  # the store is down or unreachable: say so for that service only
            status[s] = UNAVAILABLE
    partner_held: dict[str, set[str]] = defaultdict(set)  # partner service -> people it sent about
    for s, fut in from_partners:
        try:
            found = fut.result()
            raw.extend(found)
            partner_held[s].update(f.local_id for f in found)
            status[s] = OK
        except Exception:
            status[s] = UNAVAILABLE
    protected: set[str] = set()
    for s, marked in markers.items():
        try:
            protected |= {local[s][lid] for lid in marked.result()}
        except Exception:
            # Cannot tell whether the person is protected: treat everyone asked about as protected.
            protected |= set(local[s].values())

    people = {pid: PersonFlags(pid, protected=pid in protected) for pid in person_ids}
    for pid, person in people.items():
        held = {source for source, _ in records.get(pid, [])}
        for s in SERVICES:
            if s not in permitted_services:
                person.services[s] = NOT_PERMITTED
            elif s in status and status[s] == UNAVAILABLE and s in held:
                person.services[s] = UNAVAILABLE
            elif s not in held:
                person.services[s] = NOT_KNOWN
            else:
                person.services[s] = status.get(s, UNAVAILABLE)
        for s in perms.partner_services:
            if s not in status:
                person.services[s] = NOT_PERMITTED
            elif status[s] == UNAVAILABLE:
                person.services[s] = UNAVAILABLE
            else:
                person.services[s] = OK if pid in partner_held[s] else NOT_KNOWN
    allowed = {(s.service, s.flag): s for s in perms.specs}
    fields: set[str] = set()
    rows = 0
    involved: dict[tuple[str, str], dict[str, Any]] = {}
    for f in sorted(raw, key=lambda f: (f.service, f.flag, f.local_id)):
        spec = allowed.get((f.service, f.flag))
        owner = local[f.service].get(f.local_id)
        if spec is None or owner is None:
            continue
        person = people[owner]
        contact = f.contact if spec.contact_dataset and perms.contacts.get(spec.contact_dataset) else None
        if person.protected:
            # Only that the service is involved, and the service's central safeguarding line: never the
            # involved professional's own contact, whose phone alone would locate the person.
            if (owner, f.service) not in involved:
                line = perms.safeguarding_lines.get(f.service)
                route = {k: line[k] for k in PROTECTED_CONTACT_FIELDS} if line else None
                involved[(owner, f.service)] = {
                    "service": f.service,
                    "flag": "involved",
                    "value": True,
                    "since": None,
                    "contact": route,
                }
                person.flags.append(involved[(owner, f.service)])
                rows += 1
            continue
        person.flags.append(
            {
                "service": f.service,
                "flag": f.flag,
                "value": f.value,
                "since": f.since.isoformat() if f.since else None,
                "contact": contact,
            }
        )
        fields.update(f"{spec.dataset}.{x}" for x in spec.fields)
        if contact:
            fields.update(f"{spec.contact_dataset}.{x}" for x in spec.contact_fields)
        rows += 1
    return FlagsResult(people, sorted(perms.agreements), fields, rows, bool(protected & set(person_ids)))
