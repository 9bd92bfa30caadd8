"""IG review of the audit log (role `ig_officer`): events, a person's history, verification, alerts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from audit.chain import CHAINED_FIELDS
from audit.open import SEALING_SLACK_SECONDS
from audit.review import (
    ALERT_KINDS,
    REVIEW_ACTION,
    AlertRules,
    EventFilter,
    alert_for,
    alert_resource,
    alerts,
    event_exists,
    page,
    reviews,
    stream,
)
from audit.verify import latest_checkpoint, verify_chain
from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.bodies import body_schema, parse_body
from gateway.api.services import services
from gateway.departments import department
from gateway.identity.principal import Principal
from gateway.index.search import SearchInputError, SubjectQuery, find_candidates
from gateway.index.store import IndexMissing
from gateway.policy.justification import DECISION_NOTE_WORDS, justification_problem
from gateway.refusal import Refused
from gateway.spreadsheet import neutralise
from gateway.subject_access.pack import Pack, access_history, copy_of_records, render_bundle, render_html

router = APIRouter(prefix="/v1/audit", tags=["audit"])
PURPOSE = "audit_oversight"
# Filters are identifiers, not free text: anything else is refused (422) rather than searched for.
ACTOR = r"^[A-Za-z0-9][A-Za-z0-9@._:+-]{0,199}$"
PERSON = r"^P[0-9A-Z]{1,20}$"
PURPOSE_NAME = r"^[a-z][a-z0-9_]{0,99}$"
EXPORT_FIELDS = (*CHAINED_FIELDS, "hash")


def _authorise(request: Request, principal: Principal, action: str) -> None:
    decision = services(request).policy.decide(principal, "review", "audit", PURPOSE)
    ctx = audit_context(request)
    ctx.update(action=action, purpose=PURPOSE, reason=decision.reason)
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason)


def _iso(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Refused(400, "bad_request", f"{name} must be an ISO 8601 time, not {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@router.get(
    "/events",
    response_model=None,
    responses={
        200: {
            "content": {
                "application/json": {"schema": answers.AuditEvents.model_json_schema()},
                "application/x-ndjson": answers.TEXT,
                "text/csv": answers.TEXT,
            },
            "description": "events newest first (json pages; jsonl and csv export every match)",
        }
    },
)
def events(
    request: Request,
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(pattern=ACTOR)] = None,
    subject: Annotated[str | None, Query(pattern=PERSON)] = None,
    purpose: Annotated[str | None, Query(pattern=PURPOSE_NAME)] = None,
    decision: Literal["allow", "deny"] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=1)] = None,
    format: Literal["json", "jsonl", "csv"] = "json",
) -> Any:
    _authorise(request, principal, "audit.events")
    f = EventFilter(actor, subject, purpose, decision, _iso(since, "since"), _iso(until, "until"))
    engine = services(request).audit.engine
    if format == "json":
        rows, next_cursor = page(engine, f, limit, cursor)
        audit_context(request)["rows_released"] = len(rows)
        return {"events": rows, "next_cursor": next_cursor}
    rows = list(stream(engine, f))
    audit_context(request)["rows_released"] = len(rows)
    if format == "jsonl":
        body = "".join(json.dumps({k: r[k] for k in EXPORT_FIELDS}, sort_keys=True) + "\n" for r in rows)
        return Response(body, media_type="application/x-ndjson")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {
                k: neutralise(json.dumps(r[k]) if isinstance(r[k], list | dict) else r[k])
                for k in EXPORT_FIELDS
            }
        )
    return Response(buf.getvalue(), media_type="text/csv")


@router.get("/subjects", response_model=answers.SubjectCandidates)
def find_subject(
    request: Request,
    principal: CurrentPrincipal,
    name: Annotated[str | None, Query(max_length=200, description="full name: first and last")] = None,
    date_of_birth: Annotated[dt.date | None, Query(description="YYYY-MM-DD, with a name")] = None,
    nhs_number: Annotated[str | None, Query(max_length=14, description="10 digits")] = None,
    address_line: Annotated[str | None, Query(max_length=200, description="with postcode and a name")] = None,
    postcode: Annotated[str | None, Query(max_length=10, description="with address_line and a name")] = None,
) -> dict[str, Any]:
    """Candidate people for a subject access request, best match first, scored as the linkage scores
    records (a full name with a date of birth or an address, or an NHS number). Choose one, then
    `GET /v1/audit/subjects/{person_id}`. The audit event records which
    details were given, never their values, and the candidates it returned."""
    _authorise(request, principal, "audit.subject_search")
    query = SubjectQuery(name, date_of_birth, nhs_number, address_line, postcode)
    audit_context(request).update(request={"by": query.given()})
    gateway = services(request)
    try:
        found = find_candidates(gateway.settings.datadir(), query)
    except SearchInputError as exc:
        raise Refused(422, "invalid_request", str(exc)) from exc
    except IndexMissing as exc:
        raise Refused(503, "index_unavailable", str(exc)) from exc
    candidates = [c.__dict__ for c in found]
    audit_context(request).update(subject_ids=[c.person_id for c in found], rows_released=len(found))
    return {"candidates": candidates}


@router.get("/subjects/{person_id}", response_model=answers.SubjectAccesses)
def subject(
    person_id: Annotated[str, FastApiPath(pattern=PERSON)], request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    _authorise(request, principal, "audit.subject")
    gateway = services(request)
    _, history = access_history(gateway.audit.engine, gateway.index, gateway.extract_store, person_id)
    # A person's access history is about them: the look-up is an access to that person, and alerts
    # (out of hours, volume) apply to the IG officer who made it as to anyone.
    audit_context(request).update(rows_released=len(history), subject_ids=[person_id])
    return {"person_id": person_id, "accesses": history}


PACK_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "zip": "application/zip",
}


@router.get(
    "/subjects/{person_id}/pack",
    response_model=None,
    responses={
        200: {
            "content": {
                "application/json": {"schema": answers.SubjectPack.model_json_schema()},
                "text/html": answers.TEXT,
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "the subject access pack (json), its readable form (html) or both (zip)",
        }
    },
)
async def subject_pack(
    person_id: Annotated[str, FastApiPath(pattern=PERSON)],
    request: Request,
    principal: CurrentPrincipal,
    format: Annotated[Literal["json", "html", "zip"], Query(description="json, html or zip (both)")] = "json",
) -> Response:
    """The subject access pack (Art 15): the person's records across the stores and their lineage,
    every access, and a copy of the data held with other people's details scrubbed from free text.
    Audited as an access to the person, with the rows copied."""
    _authorise(request, principal, "audit.subject_pack")
    ctx = audit_context(request)
    ctx.update(subject_ids=[person_id], request={"format": format})
    gateway = services(request)
    if not gateway.index.exists():
        raise Refused(503, "index_unavailable", "the person index has not been built: run `gateway link`")
    records = gateway.index.records_of([person_id]).get(person_id, [])
    if not records:
        raise Refused(404, "not_found", f"there is no person {person_id} in the index (search by name first)")
    pack = await run_in_threadpool(_build_pack, gateway, person_id, records)
    ctx.update(
        rows_released=pack.rows_copied,
        fields_released=sorted({f"{c.store}.{c.table}" for c in pack.copies}),
        disclosure_applied={"redactions": pack.redactions, "accesses": len(pack.accesses)},
    )
    if format == "json":
        return Response(json.dumps(pack.as_dict(), default=str), media_type=PACK_TYPES["json"])
    body = render_html(pack).encode() if format == "html" else render_bundle(pack)
    name = f"subject-access-{person_id}.{format}"
    return Response(
        body, media_type=PACK_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _build_pack(gateway: Any, person_id: str, records: list[tuple[str, str]]) -> Pack:
    from gateway.extracts.sources import read_names
    from gateway.privacy.ner_model import notes_model

    earlier, history = access_history(gateway.audit.engine, gateway.index, gateway.extract_store, person_id)
    dd = gateway.settings.datadir()
    names = read_names(dd)
    copies, redacted = copy_of_records(
        gateway.stores.engines,
        gateway.catalogue,
        records,
        names.deny,
        notes_model(Path(gateway.settings.data_dir), gateway.settings.scrub_spacy_model),
    )
    return Pack(
        person_id=person_id,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        earlier_ids=earlier,
        records=[
            {"store": s, "service": department(s).label, "local_id": local} for s, local in sorted(records)
        ],
        accesses=history,
        copies=copies,
        redactions=dict(redacted),
    )


@router.get("/verify", response_model=answers.ChainStatus)
def verify(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    _authorise(request, principal, "audit.verify")
    store = services(request).audit
    v = verify_chain(
        store.engine,
        store.key.public,
        store.witness,
        store.retired_keys,
        max_unsealed_seconds=store.checkpoint_seconds + SEALING_SLACK_SECONDS,
    )
    return {
        "warnings": v.warnings,
        "ok": v.ok,
        "entries": v.entries,
        "head_hash": v.head_hash,
        "first_bad": v.first_bad,
        "problem": v.problem,
        "checkpoints": v.checkpoints,
        "unsealed": v.unsealed,
        "latest_checkpoint": latest_checkpoint(store.engine),
    }


# What makes a role an overseer: it may review the audit log, approve extracts or approve
# re-identifications (read from the policy, so a new overseeing role is watched without a code change).
OVERSIGHT_VIEWS = (
    ("review", "audit", PURPOSE),
    ("approve", "extracts", "extract_approval"),
    ("approve", "reidentifications", "reidentification"),
)


def _may_oversee(request: Request, principal: Principal) -> bool:
    return bool(services(request).policy.decide(principal, "oversee", "audit", PURPOSE).allow)


def _overseer_roles(request: Request) -> frozenset[str]:
    policy = services(request).policy
    return frozenset(
        role
        for role in policy.roles()
        if any(
            policy.decide(Principal(sub="-", name="-", roles=(role,)), *view).allow
            for view in OVERSIGHT_VIEWS
        )
    )


def _rules(request: Request) -> AlertRules:
    s = services(request).settings
    return AlertRules(
        s.alert_subjects_per_hour,
        s.alert_working_hours,
        s.alert_timezone,
        s.alert_denials_in_ten_minutes,
        overseer_roles=_overseer_roles(request),
    )


@router.get("/alerts", response_model=answers.Alerts)
def review_alerts(
    request: Request,
    principal: CurrentPrincipal,
    since: str | None = None,
    status: Literal["all", "open", "reviewed"] = "all",
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
    order: Literal["oldest", "newest"] = "oldest",
) -> dict[str, Any]:
    """Each alert carries `reviewed` (who, when, note) or null, and `overseer` (it is about the action
    of someone who oversees others: only those who may oversee, the DPO, see it); `status` narrows to
    open or reviewed, `kind` to one kind. Oldest first unless `order=newest`; `limit` and `offset` page
    through them, `total` counts every match and `kinds` counts the matches of each kind (before `kind`
    narrows)."""
    _authorise(request, principal, "audit.alerts")
    rules = _rules(request)
    engine = services(request).audit.engine
    found = alerts(engine, rules, _iso(since, "since"))
    done = reviews(engine)
    oversee = _may_oversee(request, principal)
    for a in found:
        a["reviewed"] = done.get((a["audit_id"], a["kind"]))
        a["overseer"] = bool(rules.overseer_roles & set(a["roles"]))
    found = [a for a in found if oversee or not a["overseer"]]
    if status != "all":
        found = [a for a in found if (a["reviewed"] is None) == (status == "open")]
    kinds = dict(Counter(a["kind"] for a in found))
    if kind is not None:
        found = [a for a in found if a["kind"] == kind]
    if order == "newest":
        found.reverse()
    return {"alerts": found[offset : offset + limit], "total": len(found), "kinds": kinds}


class AlertReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audit_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$")]
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    note: Annotated[str, StringConstraints(min_length=10, max_length=500, strip_whitespace=True)] = Field(
        description="what was checked and concluded (at least three words); kept in the audit log as the "
        "review's reason"
    )


@router.post("/alerts/review", response_model=answers.AlertReviewed, openapi_extra=body_schema(AlertReview))
async def review_alert(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Mark one alert reviewed. The marking is itself an audit event, so reviews are reviewable too."""
    _authorise(request, principal, REVIEW_ACTION)
    ctx = audit_context(request)
    body = await parse_body(request, AlertReview, ctx)
    if body.kind not in ALERT_KINDS:
        raise Refused(422, "invalid_request", f"kind: {body.kind!r} is not an alert kind")
    problem = justification_problem(body.note, min_words=DECISION_NOTE_WORDS, what="the review note")
    if problem:
        raise Refused(422, "invalid_request", f"note: {problem}")
    engine = services(request).audit.engine
    if not await run_in_threadpool(event_exists, engine, body.audit_id):
        raise Refused(404, "not_found", f"there is no audit event {body.audit_id}")
    rules = _rules(request)
    alert = await run_in_threadpool(alert_for, engine, rules, body.audit_id, body.kind)
    if alert is None:
        raise Refused(404, "not_found", f"audit event {body.audit_id} raised no {body.kind} alert")
    if alert["actor"] == principal.sub:
        raise Refused(
            403,
            "forbidden",
            "nobody may review an alert about their own action (self-approval): another reviewer must",
        )
    if rules.overseer_roles & set(alert["roles"]) and not _may_oversee(request, principal):
        raise Refused(
            403, "forbidden", "alerts about an overseer's action are reviewed by the data protection officer"
        )
    ctx.update(resource=alert_resource(body.audit_id, body.kind), reason=body.note)
    return {"audit_id": body.audit_id, "kind": body.kind, "reviewed_by": principal.sub, "note": body.note}
