"""Authentication as a FastAPI dependency: every `/v1` route depends on `current_principal`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.api.errors import GatewayError
from gateway.identity.principal import Principal
from gateway.identity.tokens import InvalidToken, Verifier


class Unauthenticated(GatewayError):
    def __init__(self, detail: str) -> None:
        super().__init__(401, "unauthenticated", detail)
        self.headers = {"WWW-Authenticate": 'Bearer realm="gateway"'}


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    verifier: Verifier = request.app.state.verifier
    try:
        principal = verifier.verify(token.strip())
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
