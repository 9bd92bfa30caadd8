"""`GET /v1/me` and the development issuer's `GET /.well-known/jwks.json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gateway.api import responses as answers
from gateway.api.auth import CurrentPrincipal
from gateway.api.services import services
from gateway.identity.dev_issuer import public_jwks
from gateway.refusal import Refused

router = APIRouter(tags=["identity"])


@router.get(
    "/.well-known/jwks.json", responses={404: {"description": "production mode: no development issuer"}}
)
def jwks(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    if not settings.uses_dev_issuer:
        raise Refused(404, "not_found", "this gateway verifies tokens from an external identity provider")
    return public_jwks(settings.data_dir)


@router.get("/v1/me", response_model=answers.Me)
def me(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    agreements = services(request).policy.open_to(principal)
    purposes = sorted({p for a in agreements for p in a["purposes"]})
    return {**principal.as_dict(), "agreements": agreements, "purposes": purposes}
