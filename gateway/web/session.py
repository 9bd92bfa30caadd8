"""Who is signed in: the bearer token kept in an HttpOnly cookie, and the form token that goes with it.

The cookie holds the token the identity provider (or, in demo mode, the dev issuer) signed, so it is
verified on every page like any bearer token and needs no server-side session table. It is scoped to
`/ui`: a browser never presents it to the API, which only accepts `Authorization: Bearer`. POST forms
carry a CSRF token derived from the session token with a server secret; SameSite=Lax is the second line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from gateway.identity.principal import Principal
from gateway.identity.tokens import InvalidToken
from gateway.web.services import web_services

COOKIE = "gateway_session"
COOKIE_PATH = "/ui"
SESSION_SECONDS = 8 * 3600  # a working day; the token's own expiry ends the session sooner


class SignInNeeded(Exception):
    """No valid session: the page handler turns this into a redirect to the sign-in page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FormRefused(Exception):
    """A POST without the right form token (expired page, or a request from another site)."""


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    token: str
    csrf: str

    def has(self, *roles: str) -> bool:
        return any(r in self.principal.roles for r in roles)


def load_secret(secret_file: Path | None) -> bytes:
    """The server secret for form tokens and the OIDC login state.

    Replicas behind a load balancer must share it (a file from a Kubernetes secret); with none
    configured each process makes its own, which is right for one process and the demo.
    """
    if secret_file is not None:
        return Path(secret_file).read_bytes().strip()
    return secrets.token_bytes(32)


def csrf_for(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def signed_in(request: Request) -> SignedIn:
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise SignInNeeded("Sign in to continue.")
    try:
        principal = web_services(request).verifier.verify(token)
    except InvalidToken as exc:
        raise SignInNeeded("Your session has ended. Sign in again to continue.") from exc
    if web_services(request).revocations.is_revoked(token):
        raise SignInNeeded("You have signed out. Sign in again to continue.")
    return SignedIn(principal, token, csrf_for(web_services(request).secret, token))


User = Annotated[SignedIn, Depends(signed_in)]


async def checked_form(request: Request, user: SignedIn) -> FormData:
    """The posted form, if it carries this session's form token; else FormRefused."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, user.csrf):
        raise FormRefused()
    return form


def start_session(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def end_session(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure)
