"""Authentication as a FastAPI dependency: every `/v1` route depends on `current_principal`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gateway.api.rate_limits import OverLimit
from gateway.api.services import services
from gateway.identity.principal import Principal
from gateway.identity.revocation import Revocations
from gateway.identity.tokens import InvalidToken, Verifier
from gateway.refusal import Refused


class Unauthenticated(Refused):
    def __init__(self, detail: str) -> None:
        super().__init__(401, "unauthenticated", detail)
        self.headers = {"WWW-Authenticate": 'Bearer realm="gateway"'}


async def current_principal(request: Request) -> Principal:
    """The caller, from their bearer token. Async: a token this process verified moments ago and knows
    is not revoked is taken on the event loop; only a new token (its signature checked, perhaps the
    provider's keys re-read) or a revocation re-check (a database read) goes to a worker thread."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    gateway = services(request)
    cached = gateway.verifier.verified(token)
    known = gateway.revocations.known_state(token)
    if cached is not None and known is not None:
        principal, revoked = cached, known
    else:
        principal, revoked = await run_in_threadpool(
            _authenticate, gateway.verifier, gateway.revocations, token
        )
    if revoked:
        raise Unauthenticated("this session was signed out: sign in again for a new token")
    request.state.principal = principal
    return principal


def _authenticate(verifier: Verifier, revocations: Revocations, token: str) -> tuple[Principal, bool]:
    try:
        principal = verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    return principal, revocations.is_revoked(token)


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
