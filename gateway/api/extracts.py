"""De-identified extracts and controlled re-identification over HTTP.

Every call is a `/v1` request, so the audit trail records each step (asked, approved, status, data,
re-identification asked, approved, revealed); the build itself is audited by the job.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.bodies import body_schema, parse_body
from gateway.api.services import services
from gateway.extracts.request import Approval, ExtractRequest, ReidentificationRequest, Rejection
from gateway.extracts.service import REID_APPROVERS, ExtractService
from gateway.policy.justification import DECISION_NOTE_WORDS, justification_problem
from gateway.privacy.keys import KeyUnavailable
from gateway.refusal import Refused

router = APIRouter(prefix="/v1", tags=["extracts"])
MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def _service(request: Request) -> ExtractService:
    return services(request).extracts


def _public(e: dict[str, Any], warnings: list[dict[str, str]]) -> dict[str, Any]:
    """What the requester (or an approver) is told about an extract."""
    return {
        "extract_id": e["extract_id"],
        "status": e["status"],
        "progress": e["progress"],
        "stage": e["stage"],
        "requester": e["requester"],
        "purpose": e["purpose"],
        "project": e["project"],
        "agreement_id": e["agreement_id"],
        "dataset": e["dataset"],
        "fields": e["fields"],
        "filters": e["filters"],
        "sensitive": e.get("sensitive") or [],
        "pseudonyms": e["pseudonyms"],
        "created_at": e["created_at"],
        "decided_by": e["decided_by"],
        "decided_at": e["decided_at"],
        "decision_reason": e.get("decision_reason"),
        "finished_at": e["finished_at"],
        "expires_at": e["expires_at"],
        "rows": e["rows"],
        "disclosure": e["report"],
        "error": e["error"],
        "warnings": warnings,
    }


async def _call(request: Request, fn: Any, *args: Any) -> Any:
    """Run a service call off the event loop; its refusals reach the one `Refused` handler as raised."""
    try:
        return await run_in_threadpool(fn, *args)
    except KeyUnavailable as exc:
        raise Refused(503, "keys_unavailable", f"pseudonymisation keys are unavailable: {exc}") from exc


@router.post(
    "/extracts",
    status_code=202,
    response_model=answers.ExtractAccepted,
    openapi_extra=body_schema(ExtractRequest),
)
async def request_extract(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    ctx = audit_context(request)
    ctx["action"] = "extracts.request"
    req = await parse_body(request, ExtractRequest, ctx)
    ctx.update(purpose=req.purpose, resource=f"extracts/{req.dataset}", request=req.model_dump(mode="json"))
    extract, decision = await _call(request, _service(request).submit, req, principal)
    ctx.update(
        agreement_id=decision.agreement_id,
        reason=decision.reason,
        resource=f"extracts/{extract['extract_id']}",
    )
    return JSONResponse(
        {
            "extract_id": extract["extract_id"],
            "status": extract["status"],
            "audit_id": request.state.audit_id,
        },
        status_code=202,
    )


@router.get("/extracts", response_model=answers.Extracts)
async def list_extracts(
    request: Request,
    principal: CurrentPrincipal,
    status: Literal["pending_approval", "approved", "building", "ready", "failed", "rejected", "expired"]
    | None = None,
    approvals: bool = False,
) -> dict[str, Any]:
    """Your own extract requests; an IG officer sees everyone's (the approvals queue). With
    `approvals=true` the caller asks for the queue itself: 403 for anyone who may not approve."""
    ctx = audit_context(request)
    ctx["action"] = "extracts.list"
    service = _service(request)
    approver = await run_in_threadpool(service.may_approve, principal)
    if approvals and not approver:
        raise Refused(
            403,
            "forbidden",
            "approving extract requests is for information-governance officers; "
            "your own requests are listed without approvals=true",
        )
    found = await run_in_threadpool(service.store.listing, None if approver else principal.sub, status)
    return {"extracts": [_public(e, service.warnings(e)) for e in found]}


@router.get("/extracts/{extract_id}", response_model=answers.ExtractStatus)
async def extract_status(extract_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx.update(action="extracts.status", resource=f"extracts/{extract_id}")
    found = await _call(request, _service(request).visible, extract_id, principal)
    ctx.update(purpose=found["purpose"], agreement_id=found["agreement_id"])
    return _public(found, _service(request).warnings(found))


@router.post(
    "/extracts/{extract_id}/approve",
    status_code=202,
    response_model=answers.ExtractDecided,
    openapi_extra=body_schema(Approval),
)
async def approve_extract(extract_id: str, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    """Approve a pending request. If its status lists `warnings`, name each one's code in
    `acknowledge` to show it was read; otherwise 409 `acknowledgement_needed` with the warning."""
    ctx = audit_context(request)
    ctx.update(action="extracts.approve", resource=f"extracts/{extract_id}", purpose="extract_approval")
    body = await parse_body(request, Approval, ctx) if await request.body() else None
    acknowledged = frozenset(body.acknowledge if body else ())
    found = await _call(request, _service(request).approve, extract_id, principal, acknowledged)
    reason = f"approved the request of {found['requester']}"
    if acknowledged:
        reason += f"; acknowledged: {', '.join(sorted(acknowledged))}"
    ctx.update(agreement_id=found["agreement_id"], reason=reason)
    services(request).extract_jobs.submit(extract_id)
    return JSONResponse({"extract_id": extract_id, "status": found["status"]}, status_code=202)


@router.post(
    "/extracts/{extract_id}/reject",
    response_model=answers.ExtractDecided,
    openapi_extra=body_schema(Rejection),
)
async def reject_extract(extract_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Refuse a pending request, saying why: the requester sees the reason on their extract."""
    ctx = audit_context(request)
    ctx.update(action="extracts.reject", resource=f"extracts/{extract_id}", purpose="extract_approval")
    body = await parse_body(request, Rejection, ctx)
    problem = justification_problem(body.reason, min_words=DECISION_NOTE_WORDS, what="the reason")
    if problem:
        raise Refused(422, "invalid_request", f"reason: {problem}")
    found = await _call(request, _service(request).reject, extract_id, principal, body.reason)
    ctx.update(
        agreement_id=found["agreement_id"],
        reason=f"rejected the request of {found['requester']}: {body.reason}",
    )
    return {"extract_id": extract_id, "status": found["status"]}


@router.get(
    "/extracts/{extract_id}/data",
    response_class=FileResponse,
    responses={
        200: {"content": {m: answers.FILE for m in MEDIA.values()}, "description": "the de-identified rows"}
    },
)
async def extract_data(
    extract_id: str,
    request: Request,
    principal: CurrentPrincipal,
    format: Literal["csv", "parquet"] = Query("csv", description="csv or parquet"),
) -> FileResponse:
    ctx = audit_context(request)
    ctx.update(action="extracts.download", resource=f"extracts/{extract_id}")
    path, found = await _call(request, _service(request).data_file, extract_id, principal, format)
    ctx.update(
        purpose=found["purpose"],
        agreement_id=found["agreement_id"],
        reason=f"downloaded extract {extract_id} ({format})",
        fields_released=["pseudonym", *found["fields"]],
        rows_released=found["rows"] or 0,
        disclosure_applied={"extract_id": extract_id, "project": found["project"], **(found["report"] or {})},
    )
    return FileResponse(path, media_type=MEDIA[format], filename=f"extract-{extract_id}.{format}")


@router.get(
    "/extracts/{extract_id}/rotation",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": answers.TEXT}, "description": "old and new pseudonyms"}},
)
async def extract_rotation(
    extract_id: str, request: Request, principal: CurrentPrincipal
) -> PlainTextResponse:
    """After the project's key is rotated: CSV of old -> new pseudonyms for this extract's people."""
    ctx = audit_context(request)
    ctx.update(action="extracts.rotation", resource=f"extracts/{extract_id}")
    pairs, found = await _call(request, _service(request).rotation, extract_id, principal)
    ctx.update(
        purpose=found["purpose"],
        agreement_id=found["agreement_id"],
        rows_released=len(pairs),
        fields_released=["old_pseudonym", "new_pseudonym"],
    )
    body = "old_pseudonym,new_pseudonym\n" + "".join(f"{a},{b}\n" for a, b in pairs)
    return PlainTextResponse(body, media_type="text/csv")


def _reid_public(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "reidentification_id": r["reid_id"],
        "status": r["status"],
        "project": r["project"],
        "pseudonym": r["pseudonym"],
        "reason": r["reason"],
        "requester": r["requester"],
        "approvers": r["approvers"],
        "created_at": r["created_at"],
        "approved_at": r["approved_at"],
        "person_id": r.get("person_id"),
    }


@router.post(
    "/reidentifications",
    status_code=202,
    response_model=answers.ReidentificationAccepted,
    openapi_extra=body_schema(ReidentificationRequest),
)
async def request_reidentification(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    ctx = audit_context(request)
    ctx["action"] = "reidentifications.request"
    req = await parse_body(request, ReidentificationRequest, ctx)
    ctx.update(purpose="reidentification", resource=f"projects/{req.project}", request=req.model_dump())
    found, decision = await _call(request, _service(request).request_reid, req, principal)
    ctx.update(reason=f"asked: {req.reason}"[:500], resource=f"reidentifications/{found['reid_id']}")
    ctx["agreement_id"] = decision.agreement_id
    body = {
        "reidentification_id": found["reid_id"],
        "status": found["status"],
        "audit_id": request.state.audit_id,
    }
    return JSONResponse(body, status_code=202)


@router.get("/reidentifications", response_model=answers.Reidentifications)
async def list_reidentifications(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """A re-identification approver's queue, or the caller's own requests; never the answers."""
    ctx = audit_context(request)
    ctx.update(action="reidentifications.list", purpose="reidentification")
    found = await _call(request, _service(request).reid_requests, principal)
    ctx["rows_released"] = len(found)
    return {"reidentifications": [_reid_public(r) for r in found]}


@router.post("/reidentifications/{reid_id}/approve", response_model=answers.Reidentification)
async def approve_reidentification(
    reid_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx.update(
        action="reidentifications.approve",
        resource=f"reidentifications/{reid_id}",
        purpose="reidentification",
    )
    found, _decision = await _call(request, _service(request).approve_reid, reid_id, principal)
    approval = f"approval {len(found['approvers'])} of {REID_APPROVERS}"
    ctx["reason"] = f"{approval} for {found['requester']}: {found['reason']}"[:500]
    return {**_reid_public(found), "person_id": None}


@router.get("/reidentifications/{reid_id}", response_model=answers.Reidentification)
async def reidentification_status(
    reid_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx.update(
        action="reidentifications.status", resource=f"reidentifications/{reid_id}", purpose="reidentification"
    )
    found = await _call(request, _service(request).reid_status, reid_id, principal)
    if found.get("person_id"):
        ctx.update(
            action="reidentifications.reveal",
            subject_ids=[found["person_id"]],
            reason=f"re-identified {found['pseudonym']} for {found['requester']}: {found['reason']}"[:500],
            fields_released=["person_id"],
            rows_released=1,
        )
    return _reid_public(found)
