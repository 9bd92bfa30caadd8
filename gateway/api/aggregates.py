"""`POST /v1/aggregates`: cross-department tables for analysts, under differential privacy and a budget;
`GET /v1/budgets`: what is left of it.

The body is parsed here rather than by FastAPI so that even a malformed request is recorded in the
audit event (what was asked, and why it was refused).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any

from fastapi import APIRouter, Request

from gateway.aggregates.request import AggregateRequest
from gateway.aggregates.service import run_aggregate
from gateway.analysis.store import AnalysisUnavailable
from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.bodies import body_schema, parse_body
from gateway.api.services import services
from gateway.freshness import Freshness, parse_time
from gateway.refusal import Refused

router = APIRouter(prefix="/v1", tags=["analyst"])


@router.post(
    "/aggregates", response_model=answers.AggregateTable, openapi_extra=body_schema(AggregateRequest)
)
async def aggregates(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx["action"] = "aggregates.query"
    req = await parse_body(request, AggregateRequest, ctx)
    ctx.update(request=req.normalised(), purpose=req.purpose, resource=f"analysis/{req.dataset}")
    state = services(request)
    tables = state.limiter.limits.tables
    try:
        # At most `tables.threads` tables at once (the rest wait here, holding no thread), and each
        # starts when no caseworker request is in flight (or after `tables.yield_seconds`), so a flood
        # of tables queues behind caseworkers instead of beside them.
        async with state.table_threads():
            await state.limiter.yield_to(tables.yield_to, tables.yield_seconds)
            # On the tables' own lower-priority threads, in this request's context (its trace).
            reply = await asyncio.get_running_loop().run_in_executor(
                state.table_pool(),
                functools.partial(
                    contextvars.copy_context().run,
                    run_aggregate,
                    req,
                    principal,
                    state.policy,
                    state.catalogue,
                    state.analysis,
                    state.budgets,
                    tables.max_cost,
                ),
            )
    except AnalysisUnavailable as exc:
        raise Refused(503, "analysis_unavailable", str(exc)) from exc
    ctx.update(
        agreement_id=reply.decision.agreement_id,
        reason=reply.decision.reason,
        fields_released=reply.fields_released,
        rows_released=reply.published,
        disclosure_applied={**reply.disclosure, "cells": reply.cells},
    )
    state.metrics.cells_suppressed(req.dataset, sum(1 for r in reply.rows if r["status"] == "suppressed"))
    built = Freshness(
        parse_time(state.analysis.last_build().get("built_at")), state.settings.stale_after_hours
    )
    return {
        "rows": reply.rows,
        "disclosure": reply.disclosure,
        "data": built.as_dict(),
        "audit_id": request.state.audit_id,
    }


@router.get("/budgets", response_model=answers.Budgets)
def budgets(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Privacy budgets: an analyst's own (those they have spent from: as an analyst, and their
    projects'); every budget for those who may review the audit log (IG officers, the DPO)."""
    ctx = audit_context(request)
    ctx.update(action="budgets.read", purpose="privacy_budget")
    overseer = services(request).policy.decide(principal, "review", "audit", "audit_oversight").allow
    listed = services(request).budgets.listing(None if overseer else principal.sub)
    ctx["rows_released"] = len(listed)
    return {"budgets": listed, "scope": "all" if overseer else "yours"}
