"""Caseworker views: their caseload, other services' flags, and a family's context.

A caseworker sees flags only for people on their caseload or in the family of a child on it; anyone
else needs `X-Break-Glass-Reason` (at least 20 characters), which the reply and the audit event both
carry and IG alerts surface. Which flags are released, for which purpose, comes from the agreements.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from gateway.api import responses as answers
from gateway.api.audit_trail import audit_ahead, audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.services import Gateway, Services
from gateway.caseworker.caseload import own_records
from gateway.caseworker.views import FlagsResult, Permissions, gather_flags
from gateway.header_text import HeaderTextError, decode_header_text
from gateway.identity.principal import Principal
from gateway.index.search import SearchInputError, SubjectQuery, find_candidates
from gateway.index.store import IndexMissing
from gateway.policy.justification import (
    BREAK_GLASS_MAX,
    BREAK_GLASS_MIN,
    BREAK_GLASS_WORDS,
    justification_problem,
)
from gateway.refusal import Refused
from gateway.telemetry.tracing import step

router = APIRouter(prefix="/v1", tags=["caseworker"])

PERSON_ID = re.compile(r"^P[0-9A-Z]{12}$")
FAMILY_ID = re.compile(r"^F[0-9A-Z]{12}$")
PURPOSE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

Purpose = Annotated[
    str, Query(pattern=PURPOSE_PATTERN, description="Why you are looking, e.g. child_protection_enquiry.")
]
BreakGlass = Annotated[str | None, Header(alias="X-Break-Glass-Reason")]


def _caseworker(request: Request, action: str) -> None:
    """Name the action for the audit event; who may act is the policy's decision, not a role list here."""
    audit_context(request)["action"] = action


def _break_glass(request: Request, reason: str | None) -> str | None:
    if reason is None:
        return None
    try:
        reason = decode_header_text(reason).strip()
    except HeaderTextError as exc:
        raise Refused(400, "bad_request", f"X-Break-Glass-Reason: {exc}") from exc
    if not BREAK_GLASS_MIN <= len(reason) <= BREAK_GLASS_MAX:
        raise Refused(
            400,
            "bad_request",
            f"X-Break-Glass-Reason must explain the need in {BREAK_GLASS_MIN} to {BREAK_GLASS_MAX} "
            "characters",
        )
    problem = justification_problem(reason, min_words=BREAK_GLASS_WORDS, what="the break-glass reason")
    if problem:
        raise Refused(400, "bad_request", problem)
    audit_context(request)["break_glass"] = True
    return reason


def _start(
    request: Request, action: str, subject: str, pattern: re.Pattern[str], kind: str, glass: str | None
) -> str | None:
    """Every view of a person or family begins alike: name the action, check the id's shape, and read
    the break-glass reason if one was given (a bad one is refused before anything is looked up)."""
    _caseworker(request, action)
    _check_id(subject, pattern, kind)
    return _break_glass(request, glass)


def _check_id(value: str, pattern: re.Pattern[str], kind: str) -> None:
    if not pattern.match(value):
        raise Refused(400, "bad_request", f"{value[:40]!r} is not a {kind} id")


def _reasons(agreements: list[str], glass: str | None) -> list[str]:
    return [f"flags under {', '.join(agreements)}", *([f"break-glass: {glass}"] if glass else [])]


def _write_ahead(
    request: Request, gateway: Services, perms: Permissions, purpose: str, glass: str | None, *own: str
) -> None:
    """With `audit_write_ahead`, commit the access (who, whom, purpose, agreements, decision, and every
    field the view may release) while the flags are fetched; what was released follows as its outcome
    (audit_trail). Otherwise the one event is written after the fetch, as for every other route."""
    if not gateway.settings.audit_write_ahead:
        return
    ctx = audit_context(request)
    agreements = sorted(perms.agreements)
    ctx.update(
        purpose=purpose,
        agreement_id=",".join(agreements) or None,
        fields_released=sorted({*perms.releasable, *own}),
        disclosure_applied={"view": "flags", "outcome": "follows"},
        reason="; ".join(_reasons(agreements, glass)),
    )
    audit_ahead(request)


def _record(request: Request, result: FlagsResult, purpose: str, glass: str | None) -> None:
    ctx = audit_context(request)
    ctx.update(
        purpose=purpose,
        agreement_id=",".join(result.agreements) or None,
        fields_released=sorted(result.fields_released),
        rows_released=result.rows_released,
        disclosure_applied={"view": "flags", "protected": result.protected},
    )
    reasons = _reasons(result.agreements, glass)
    if result.protected:
        reasons.append("protected person: involvement and contact route only")
    ctx["reason"] = "; ".join(reasons)


def _others(services: dict[str, str], principal: Principal) -> dict[str, str]:
    """Other services only: the caller's own service is the record they work in, not a flag."""
    return {s: state for s, state in services.items() if s != principal.department}


def _refuse_outside_caseload(request: Request, subject: str, kind: str) -> None:
    reason = (
        f"{kind} {subject} is not on your caseload or in the family of a child on it; "
        f"send X-Break-Glass-Reason to see them in an emergency"
    )
    audit_context(request)["reason"] = reason
    raise Refused(403, "not_on_caseload", reason)


def _permissions(request: Request, gateway: Services, principal: Principal, purpose: str) -> Permissions:
    with step("decide", view="flags", purpose=purpose) as span:
        perms = gateway.casework.permissions(principal, purpose)
        span.set_attribute("decision", "deny" if perms.refusal is not None else "allow")
        span.set_attribute("datasets", len(perms.decisions))
    if perms.refusal is not None:
        audit_context(request)["reason"] = perms.refusal.reason
        raise Refused(403, "forbidden", perms.refusal.reason)
    return perms


@router.get("/caseload", response_model=list[answers.CaseloadEntry])
def caseload(request: Request, principal: CurrentPrincipal, gateway: Gateway) -> list[dict[str, Any]]:
    _caseworker(request, "caseload.read")
    decision = gateway.policy.decide(
        principal, "caseload", f"{principal.department}.caseload", "case_management"
    )
    audit_context(request).update(purpose="case_management", reason=decision.reason)
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason)
    index = gateway.casework.index()
    load = gateway.casework.caseload(principal)
    own = own_records(principal, set(load.members), gateway.stores.engines, index)
    items = []
    for pid in sorted(load.members, key=lambda p: (load.family_of.get(p, ""), p not in load.allocated, p)):
        rec = own.get(pid, {})
        dob = rec.get("date_of_birth")
        items.append(
            {
                "person_id": pid,
                "family_id": load.family_of.get(pid),
                "name": rec.get("name"),
                "date_of_birth": dob.isoformat() if dob else None,
                "relationship": load.relationship(pid)
                if pid in load.allocated | load.triage
                else (rec.get("role") or "family member"),
            }
        )
    audit_context(request).update(
        subject_ids=[i["person_id"] for i in items],
        fields_released=[f"{principal.department}.name", f"{principal.department}.date_of_birth"],
        rows_released=len(items),
    )
    return items


SEARCH_POOL = 200  # candidates scored before the caller's own are picked: theirs may not be the best
SEARCH_RESULTS = 10
# Below this the index's model says "probably not them": such candidates would name strangers (under
# break-glass) without helping to find the person asked for.
SEARCH_FLOOR = 0.5


@router.get("/persons/search", response_model=answers.PersonSearch)
def search_persons(
    request: Request,
    principal: CurrentPrincipal,
    gateway: Gateway,
    purpose: Purpose,
    name: Annotated[str, Query(max_length=200)] = "",
    date_of_birth: Annotated[str, Query(max_length=10)] = "",
    nhs_number: Annotated[str, Query(max_length=20)] = "",
    address_line: Annotated[str, Query(max_length=200)] = "",
    postcode: Annotated[str, Query(max_length=10)] = "",
    break_glass: BreakGlass = None,
) -> dict[str, Any]:
    """People the caller may see who match a name with a date of birth or an address, or an NHS
    number, best first,
    scored with the index's standardisation and model. Without break-glass only the caller's caseload
    (allocated people and their families) is searched, and nothing says whether anyone else matched;
    with `X-Break-Glass-Reason` anyone may be found (audited and alerted, as a break-glass view is).
    The audit event names which details were given, never their values, and the people returned."""
    _caseworker(request, "persons.search")
    glass = _break_glass(request, break_glass)
    audit_context(request).update(purpose=purpose)
    _permissions(request, gateway, principal, purpose)
    try:
        born = dt.date.fromisoformat(date_of_birth) if date_of_birth else None
    except ValueError as exc:
        raise Refused(
            422, "invalid_request", f"date_of_birth must be a date like 2015-03-01, not {date_of_birth!r}"
        ) from exc
    query = SubjectQuery(
        name.strip() or None,
        born,
        nhs_number.strip() or None,
        address_line.strip() or None,
        postcode.strip() or None,
    )
    given = query.given()
    audit_context(request)["request"] = {"by": given}
    load = gateway.casework.caseload(principal)
    gateway.casework.index()
    try:
        found = find_candidates(gateway.settings.datadir(), query, limit=SEARCH_POOL)
    except SearchInputError as exc:
        raise Refused(422, "invalid_request", str(exc)) from exc
    except IndexMissing as exc:
        raise Refused(503, "index_unavailable", str(exc)) from exc
    visible = [
        c
        for c in found
        if c.match_probability >= SEARCH_FLOOR and (glass or load.relationship(c.person_id) is not None)
    ][:SEARCH_RESULTS]
    outside = [c.person_id for c in visible if load.relationship(c.person_id) is None]
    families = (
        {p: row.family_id for p, row in gateway.casework.index().people(outside).items()} if outside else {}
    )
    own = own_records(
        principal,
        {c.person_id for c in visible if load.relationship(c.person_id)},
        gateway.stores.engines,
        gateway.casework.index(),
    )
    results = []
    for c in visible:
        relationship = load.relationship(c.person_id)
        rec = own.get(c.person_id, {}) if relationship else {}
        dob = rec.get("date_of_birth")
        results.append(
            {
                "person_id": c.person_id,
                "match_probability": c.match_probability,
                "relationship": relationship or "break_glass",
                # Under break-glass the family id too: the family page is where the flags are shown.
                "family_id": load.family_of.get(c.person_id) if relationship else families.get(c.person_id),
                "name": rec.get("name"),
                "date_of_birth": dob.isoformat() if dob else None,
            }
        )
    audit_context(request).update(
        subject_ids=[r["person_id"] for r in results],
        rows_released=len(results),
        reason=f"person search ({', '.join(given)})" + (f"; break-glass: {glass}" if glass else ""),
    )
    return {"candidates": results, "searched": "everyone (break-glass)" if glass else "your caseload"}


@router.get("/persons/{person_id}/flags", response_model=answers.PersonFlags)
def person_flags(
    person_id: str,
    request: Request,
    principal: CurrentPrincipal,
    gateway: Gateway,
    purpose: Purpose,
    break_glass: BreakGlass = None,
) -> dict[str, Any]:
    glass = _start(request, "flags.read", person_id, PERSON_ID, "person", break_glass)
    audit_context(request).update(subject_ids=[person_id], purpose=purpose)
    index = gateway.casework.index()
    load = gateway.casework.caseload(principal)
    relationship = load.relationship(person_id)
    # Outside the caseload, "no such person" and "not yours" are one answer (403), so the index cannot
    # be probed for who exists; only an audited, alerted break-glass learns that an id is unknown.
    if relationship is None and glass is None:
        _refuse_outside_caseload(request, person_id, "person")
    if relationship is None and person_id not in index.people([person_id]):
        raise Refused(404, "not_found", f"there is no person {person_id} in the index")
    perms = _permissions(request, gateway, principal, purpose)
    _write_ahead(request, gateway, perms, purpose, glass)
    with step("fetch", view="flags", people=1):
        result = gather_flags(
            [person_id], perms, gateway.stores.engines, index, gateway.casework.as_of(), gateway.casework.pool
        )
    _record(request, result, purpose, glass)
    person = result.people[person_id]
    return {
        "person_id": person_id,
        "relationship": relationship or "break_glass",
        "flags": person.flags,
        "services": _others(person.services, principal),
        "protected": person.protected,
        "break_glass": glass is not None,
        "agreements": result.agreements,
        "linked": gateway.casework.linked().as_dict(),
        "audit_id": request.state.audit_id,
    }


@router.get("/families/{family_id}/context", response_model=answers.FamilyContext)
def family_context(
    family_id: str,
    request: Request,
    principal: CurrentPrincipal,
    gateway: Gateway,
    purpose: Purpose,
    break_glass: BreakGlass = None,
) -> dict[str, Any]:
    glass = _start(request, "family.context", family_id, FAMILY_ID, "family", break_glass)
    audit_context(request).update(purpose=purpose)
    index = gateway.casework.index()
    members = index.family_members([family_id])[family_id]
    load = gateway.casework.caseload(principal)
    if not set(members) & load.members and glass is None:  # unknown or not yours: one answer
        _refuse_outside_caseload(request, family_id, "family")
    if not members:
        raise Refused(404, "not_found", f"there is no family {family_id} in the index")
    audit_context(request)["subject_ids"] = members
    engines = gateway.stores.engines
    perms = _permissions(request, gateway, principal, purpose)
    own_fields = (f"{principal.department}.name", f"{principal.department}.date_of_birth")
    _write_ahead(request, gateway, perms, purpose, glass, *own_fields)
    with step("fetch", view="flags", people=len(members)):
        result = gather_flags(members, perms, engines, index, gateway.casework.as_of(), gateway.casework.pool)
    _record(request, result, purpose, glass)
    own = own_records(principal, set(members), engines, index)
    professionals: dict[tuple, dict[str, Any]] = {}
    out_members = []
    for pid in members:
        person = result.people[pid]
        for f in person.flags:
            if f["contact"]:
                key = (f["service"], *(f["contact"].get(k) for k in ("name", "role", "team", "phone")))
                professionals.setdefault(key, {"service": f["service"], **f["contact"]})
        rec = own.get(pid, {})
        dob = rec.get("date_of_birth")
        out_members.append(
            {
                "person_id": pid,
                # As the caller's own service records them (null if it holds no record of this person).
                "name": rec.get("name"),
                "date_of_birth": dob.isoformat() if dob else None,
                "relationship": (load.relationship(pid) == "allocated" and "allocated")
                or rec.get("role")
                or "family member",
                "flags": person.flags,
                "services": _others(person.services, principal),
                "protected": person.protected,
            }
        )
    if own:
        ctx = audit_context(request)
        ctx["fields_released"] = sorted({*ctx["fields_released"], *own_fields})
    return {
        "family_id": family_id,
        "members": out_members,
        "professionals": list(professionals.values()),
        "break_glass": glass is not None,
        "agreements": result.agreements,
        "linked": gateway.casework.linked().as_dict(),
        "audit_id": request.state.audit_id,
    }
