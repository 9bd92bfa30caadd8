"""The agreement lifecycle over HTTP: draft, sign-off by each provider's information asset owner, the DPIA
checklist, the DPO's review. Each step is the audit event of its own request (`gateway/policy/
lifecycle.py` reads them back); the steps go in order, and a refused step says what is missing.

    GET  /v1/agreements/drafts                      drafts with their state (anyone who takes a step)
    POST /v1/agreements/drafts                      {text}: a new draft or a new text (ig_officer)
    POST /v1/agreements/drafts/{id}/sign-off        {note}: for the caller's own service (IAO)
    POST /v1/agreements/drafts/{id}/dpia            {answers: {question: {answer, note}}} (ig_officer)
    POST /v1/agreements/drafts/{id}/dpo-review      {decision: approve|reject, note} (dpo)
    GET  /v1/agreements/drafts/{id}/file            the draft's YAML, for the reviewed merge into policies/
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Path as FastApiPath
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.bodies import body_schema, parse_body
from gateway.api.services import Services, services
from gateway.identity.principal import Principal
from gateway.policy.agreements import Agreement
from gateway.policy.drafts import DraftError, lifecycle_events, parse_draft
from gateway.policy.lifecycle import (
    DPIA,
    DPO_REVIEW,
    DRAFT,
    PURPOSE,
    SIGN_OFF,
    Answer,
    Lifecycle,
    checklist_problems,
    digest,
    lifecycle_of,
    load_checklist,
    resource,
)
from gateway.policy.proposal import Proposal, materialise
from gateway.policy.whatif import WhatIfError, check_proposal
from gateway.refusal import Refused

router = APIRouter(prefix="/v1/agreements/drafts", tags=["agreements"])
AGREEMENT_ID = r"^AGR-[A-Z0-9-]{1,56}$"
VIEWS = {DRAFT: "draft", SIGN_OFF: "sign_off", DPIA: "dpia", DPO_REVIEW: "dpo_review"}


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=64 * 1024, description="the agreement file (YAML)")


class SignOffBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class DpiaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Answer]


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=2000)


def _step(request: Request, principal: Principal, action: str, agreement_id: str | None = None) -> Services:
    gateway = services(request)
    ctx = audit_context(request)
    ctx.update(
        action=action, purpose=PURPOSE, resource=resource(agreement_id) if agreement_id else "agreements"
    )
    decision = gateway.policy.decide(principal, VIEWS[action], "agreements", PURPOSE)
    ctx["reason"] = decision.reason
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason, decision)
    return gateway


def _may_read(gateway: Services, principal: Principal) -> None:
    """Drafts are for those who take a step of the lifecycle (any of its rules)."""
    if not any(gateway.policy.decide(principal, v, "agreements", PURPOSE).allow for v in VIEWS.values()):
        raise Refused(403, "forbidden", "only those who take a step of the agreement lifecycle see drafts")


def _draft(gateway: Services, agreement_id: str) -> tuple[Agreement, Lifecycle]:
    draft = gateway.drafts.drafts().get(agreement_id)
    if draft is None:
        raise Refused(404, "not_found", f"there is no draft of agreement {agreement_id}")
    return draft, lifecycle_of(draft, lifecycle_events(gateway.audit.engine))


def _record(request: Request, life: Lifecycle, **detail: Any) -> None:
    audit_context(request).update(
        request={"digest": life.digest, **detail}, reason=f"agreement {life.agreement_id}: {detail}"
    )


@router.get("", response_model=answers.Drafts)
def list_drafts(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    gateway = services(request)
    ctx = audit_context(request)
    ctx.update(action="agreement.drafts", purpose=PURPOSE, resource="agreements")
    _may_read(gateway, principal)
    events = lifecycle_events(gateway.audit.engine)
    rows = {r["agreement_id"]: r for r in gateway.drafts.rows()}
    out = []
    for agreement_id, draft in gateway.drafts.drafts().items():
        life = lifecycle_of(draft, events).as_dict()
        row = rows[agreement_id]
        out.append(
            {
                **life,
                "title": draft.title,
                "view": draft.view,
                "proposed_by": row["proposed_by"],
                "proposed_at": row["proposed_at"],
                "in_registry": agreement_id in gateway.policy.registry,
            }
        )
    checklist = load_checklist(gateway.settings.policies_dir)
    return {"drafts": out, "dpia_questions": [q.model_dump() for q in checklist.questions]}


@router.post("", status_code=201, response_model=answers.DraftProposed, openapi_extra=body_schema(DraftBody))
async def propose(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """A new draft (or a new text of one): checked as `gateway policy check` would check it beside the
    live policies; every earlier step on another text stops counting."""
    gateway = _step(request, principal, DRAFT)
    body = await parse_body(request, DraftBody, audit_context(request))
    try:
        draft = parse_draft(body.text)
    except DraftError as exc:
        raise Refused(422, "invalid_draft", str(exc)) from exc
    audit_context(request)["resource"] = resource(draft.id)

    def checked() -> None:
        with tempfile.TemporaryDirectory(prefix="draft-") as tmp:
            folder = materialise(
                Path(gateway.settings.policies_dir), Proposal(agreements=[body.text]), Path(tmp) / "p"
            )
            check_proposal(folder, gateway.policy.today())

    try:
        await run_in_threadpool(checked)
    except WhatIfError as exc:
        raise Refused(
            422, "invalid_draft", "the draft does not pass the policy check: " + "; ".join(exc.problems)
        ) from exc
    d = digest(draft)
    gateway.drafts.put(draft, body.text, d, principal.sub)
    life = lifecycle_of(draft, [])
    live = gateway.policy.registry.get(draft.id)
    # The text in force now stays in force while its amendment goes through the lifecycle.
    replaces = digest(live) if live is not None and draft.id not in gateway.policy.blocked() else None
    _record(request, life, step="draft", agreement_id=draft.id, replaces=replaces)
    return {"agreement_id": draft.id, "digest": d, "state": life.state, "missing": life.missing}


@router.post(
    "/{agreement_id}/sign-off", response_model=answers.LifecycleStep, openapi_extra=body_schema(SignOffBody)
)
async def sign_off(
    agreement_id: Annotated[str, FastApiPath(pattern=AGREEMENT_ID)],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    gateway = _step(request, principal, SIGN_OFF, agreement_id)
    body = await parse_body(request, SignOffBody, audit_context(request))
    draft, life = _draft(gateway, agreement_id)
    provider = principal.department
    if provider not in draft.providers:
        raise Refused(
            403,
            "forbidden",
            f"you are the information asset owner of {provider or 'no service'}; agreement {agreement_id} "
            f"is provided by {', '.join(draft.providers)}",
        )
    _record(request, life, step="sign_off", provider=provider, note=body.note)
    missing = [m for m in life.missing if not m.endswith(f"of {provider}")]
    return {"agreement_id": agreement_id, "signed_off_for": provider, "missing": missing}


@router.post(
    "/{agreement_id}/dpia", response_model=answers.LifecycleStep, openapi_extra=body_schema(DpiaBody)
)
async def dpia(
    agreement_id: Annotated[str, FastApiPath(pattern=AGREEMENT_ID)],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    gateway = _step(request, principal, DPIA, agreement_id)
    body = await parse_body(request, DpiaBody, audit_context(request))
    _, life = _draft(gateway, agreement_id)
    unsigned = [p for p in life.providers if p not in life.sign_offs]
    if unsigned:
        raise Refused(
            409, "out_of_order", f"the DPIA follows every sign-off; waiting for {', '.join(unsigned)}"
        )
    problems = checklist_problems(load_checklist(gateway.settings.policies_dir), body.answers)
    if problems:
        raise Refused(422, "incomplete_dpia", "the DPIA checklist is not complete: " + "; ".join(problems))
    _record(request, life, step="dpia", answers={k: a.model_dump() for k, a in body.answers.items()})
    return {"agreement_id": agreement_id, "dpia": "complete"}


@router.post(
    "/{agreement_id}/dpo-review", response_model=answers.LifecycleStep, openapi_extra=body_schema(ReviewBody)
)
async def dpo_review(
    agreement_id: Annotated[str, FastApiPath(pattern=AGREEMENT_ID)],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    gateway = _step(request, principal, DPO_REVIEW, agreement_id)
    body = await parse_body(request, ReviewBody, audit_context(request))
    _, life = _draft(gateway, agreement_id)
    before = [m for m in life.missing if "data protection officer" not in m]
    if body.decision == "approve" and before:
        raise Refused(409, "out_of_order", f"the DPO reviews last; still missing: {'; '.join(before)}")
    if body.decision == "reject" and len(body.note.split()) < 3:
        raise Refused(422, "invalid_request", "a rejection needs a note saying what to change")
    _record(request, life, step="dpo_review", decision=body.decision, note=body.note)
    gateway.policy.invalidate()  # the file, if already merged, may now come into force
    return {"agreement_id": agreement_id, "decision": body.decision}


@router.get(
    "/{agreement_id}/file",
    response_class=Response,
    responses={
        200: {"content": {"application/yaml": answers.TEXT}, "description": "the draft agreement file"}
    },
)
def draft_file(
    agreement_id: Annotated[str, FastApiPath(pattern=AGREEMENT_ID)],
    request: Request,
    principal: CurrentPrincipal,
) -> Response:
    """The draft's text, to be merged into policies/agreements/ through the usual review."""
    gateway = services(request)
    audit_context(request).update(
        action="agreement.draft_file", purpose=PURPOSE, resource=resource(agreement_id)
    )
    _may_read(gateway, principal)
    row = next((r for r in gateway.drafts.rows() if r["agreement_id"] == agreement_id), None)
    if row is None:
        raise Refused(404, "not_found", f"there is no draft of agreement {agreement_id}")
    return Response(
        row["text"],
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{agreement_id}.yaml"'},
    )
