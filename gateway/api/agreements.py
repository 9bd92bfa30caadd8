"""`GET /v1/agreements` and `GET /v1/agreements/{id}`: the legal-gateway registry, with status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gateway.api import responses as answers
from gateway.api.auth import CurrentPrincipal
from gateway.api.services import services
from gateway.policy.drafts import lifecycle_events
from gateway.policy.lifecycle import lifecycle_of
from gateway.policy.ropa import COLUMNS, ropa_rows
from gateway.refusal import Refused

router = APIRouter(prefix="/v1", tags=["agreements"])


def _engine_or_503(request: Request) -> Any:
    engine = services(request).policy
    if engine.load_error:
        raise Refused(503, "policy_unavailable", f"the policy could not be loaded: {engine.load_error}")
    return engine


@router.get("/agreements", response_model=answers.Agreements)
def list_agreements(request: Request, _principal: CurrentPrincipal) -> dict[str, Any]:
    """Each agreement with its status and where it stands in the lifecycle: adopted before it, signed
    off (by whom, when, and how many days from draft to approval), or held back (and what is missing)."""
    engine = _engine_or_503(request)
    day = engine.today()
    gateway = services(request)
    blocked = engine.blocked()
    drafted = {r["agreement_id"] for r in gateway.drafts.rows()}
    events = lifecycle_events(gateway.audit.engine) if drafted & set(engine.registry) else []
    out = []
    for a in sorted(engine.registry.values(), key=lambda a: a.id):
        public = a.public(day)
        if a.id in blocked:
            public["status"] = "held_back"
            public["lifecycle"] = {"state": "held_back", "reason": blocked[a.id]}
        elif a.id in drafted and (life := lifecycle_of(a, events)).state == "approved":
            public["lifecycle"] = {**life.as_dict(), "state": "signed_off"}
        else:
            public["lifecycle"] = {"state": "adopted_before_lifecycle"}
        out.append(public)
    return {"agreements": out}


@router.get("/agreements/{agreement_id}", response_model=answers.PublicAgreement)
def get_agreement(agreement_id: str, request: Request, _principal: CurrentPrincipal) -> dict[str, Any]:
    engine = _engine_or_503(request)
    found = engine.registry.get(agreement_id)
    if found is None:
        raise Refused(404, "not_found", f"there is no agreement {agreement_id!r} in the registry")
    return found.public(engine.today())


@router.get("/ropa", response_model=answers.ArticleThirty)
def article_30_record(request: Request, _principal: CurrentPrincipal) -> dict[str, Any]:
    """The Article 30 record of processing, generated from the registry (as `gateway policy ropa`)."""
    engine = _engine_or_503(request)
    rows = ropa_rows(services(request).settings.policies_dir, engine.today())
    return {"columns": list(COLUMNS), "rows": rows}
