"""`POST /v1/aggregates`: cross-department tables for analysts, with statistical disclosure control.

The body is parsed here rather than by FastAPI so that even a malformed request is recorded in the
audit event (what was asked, and why it was refused).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from gateway.aggregates.request import AggregateRequest
from gateway.aggregates.service import AggregateRefused, run_aggregate
from gateway.analysis.store import AnalysisUnavailable
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.errors import GatewayError

router = APIRouter(prefix="/v1", tags=["analyst"])
MAX_BODY = 64 * 1024
AUDITED_BODY_CHARS = 4000


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


@router.post(
    "/aggregates",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AggregateRequest.model_json_schema()}},
        }
    },
)
async def aggregates(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx["action"] = "aggregates.query"
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GatewayError(413, "payload_too_large", f"the request body is over {MAX_BODY // 1024} KiB")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise GatewayError(400, "bad_request", "the request body is not JSON") from exc
    ctx["request"] = {"raw": json.dumps(body, sort_keys=True)[:AUDITED_BODY_CHARS]}
    try:
        req = AggregateRequest.model_validate(body)
    except ValidationError as exc:
        raise GatewayError(422, "invalid_request", _first_error(exc)) from exc
    ctx.update(request=req.normalised(), purpose=req.purpose, resource=f"analysis/{req.dataset}")
    state = request.app.state
    try:
        reply = await run_in_threadpool(
            run_aggregate, req, principal, state.policy, state.catalogue, state.analysis
        )
    except AggregateRefused as exc:
        ctx["reason"] = exc.detail
        raise GatewayError(exc.status, exc.code, exc.detail) from exc
    except AnalysisUnavailable as exc:
        raise GatewayError(503, "analysis_unavailable", str(exc)) from exc
    ctx.update(
        agreement_id=reply.decision.agreement_id,
        reason=reply.decision.reason,
        fields_released=reply.fields_released,
        rows_released=reply.published,
        disclosure_applied={**reply.disclosure, "cells": reply.cells},
    )
    return {"rows": reply.rows, "disclosure": reply.disclosure, "audit_id": request.state.audit_id}
