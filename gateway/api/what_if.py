"""`POST /v1/policy/what-if`: an IG officer tries a proposed policy change before it goes live.

The proposal is written as a copy of the live policies in a temporary directory, compared with the live
policy by the simulator (`gateway/policy/whatif.py`) over every grant and the audited requests of the
last N days, and thrown away. The live `policies/` is only read; the request is audited with what the
proposal changes (which agreements, not their text).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.bodies import body_schema, parse_body
from gateway.api.services import services
from gateway.policy.proposal import Proposal, materialise
from gateway.policy.whatif import WhatIfError, simulate_live
from gateway.refusal import Refused

router = APIRouter(prefix="/v1/policy", tags=["policy"])
PURPOSE = "policy_change"


class WhatIfRequest(Proposal):
    days: int = Field(default=30, ge=0, le=366, description="replay the audited requests of the last N days")
    on: dt.date | None = Field(default=None, description="decide as on this day (default today)")


@router.post("/what-if", response_model=answers.WhatIf, openapi_extra=body_schema(WhatIfRequest))
async def what_if(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Who gains or loses access to what, and which recent requests would be decided differently."""
    ctx = audit_context(request)
    ctx.update(action="policy.what_if", resource="policies", purpose=PURPOSE)
    gateway = services(request)
    decision = gateway.policy.decide(principal, "simulate", "policies", PURPOSE)
    ctx["reason"] = decision.reason
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason, decision)
    body = await parse_body(request, WhatIfRequest, ctx)
    proposal = Proposal.model_validate(body.model_dump(include=set(Proposal.model_fields)))
    ctx["request"] = {**proposal.described(), "days": body.days, "on": body.on and body.on.isoformat()}
    day = body.on or gateway.policy.today()

    def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="what-if-") as tmp:
            proposed = materialise(Path(gateway.settings.policies_dir), proposal, Path(tmp) / "policies")
            return simulate_live(
                Path(gateway.settings.policies_dir), proposed, day, body.days, gateway.audit.engine
            ).as_dict()

    try:
        return await run_in_threadpool(run)
    except WhatIfError as exc:
        raise Refused(
            422, "invalid_proposal", "the proposal cannot be simulated: " + "; ".join(exc.problems)
        ) from exc
