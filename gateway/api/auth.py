"""Authentication as a FastAPI dependency: every `/v1` route depends on `current_principal`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from gateway.api.rate_limits import OverLimit
from gateway.api.services import services
from gateway.identity.principal import Principal
from gateway.identity.tokens import InvalidToken, Verifier
from gateway.refusal import Refused


class Unauthenticated(Refused):
    def __init__(self, detail: str) -> None:
        super().__init__(401, "unauthenticated", detail)
        self.headers = {"WWW-Authenticate": 'Bearer realm="gateway"'}


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    verifier: Verifier = services(request).verifier
    try:
        principal = verifier.verify(token.strip())
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    if services(request).revocations.is_revoked(token.strip()):
        raise Unauthenticated("this session was signed out: sign in again for a new token")
    request.state.principal = principal
    return principal


class TooManyRequests(Refused):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(429, "too_many_requests", detail)
        self.headers = {"Retry-After": str(retry_after)}


async def limited_principal(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AsyncIterator[Principal]:
    """The caller, holding one of their in-flight slots for as long as the request runs (see
    `gateway.api.rate_limits`). Async, so refusing a flood costs no worker thread."""
    limiter = services(request).limiter
    try:
        lease = limiter.acquire(principal.sub, principal.roles, request.url.path)
    except OverLimit as exc:
        raise TooManyRequests(exc.detail, exc.retry_after) from exc
    try:
        yield principal
    finally:
        limiter.release(lease)


CurrentPrincipal = Annotated[Principal, Depends(limited_principal)]
