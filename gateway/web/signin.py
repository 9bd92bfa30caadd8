"""Signing in and out.

Demo mode (the dev issuer) shows a page to pick one of `policies/demo-users.yaml`; the dev issuer signs
the same token `gateway token USER` would print. Production uses the council's identity provider with
an OpenID Connect authorization-code login (authlib, PKCE): the access token the provider issues for
the gateway's audience becomes the session, and is verified exactly as an API bearer token is.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.config import Settings
from gateway.identity.dev_issuer import sign_token
from gateway.identity.tokens import InvalidToken
from gateway.identity.users import load_demo_users
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import (
    SESSION_SECONDS,
    FormRefused,
    User,
    checked_form,
    end_session,
    start_session,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
PROVIDER = "council"


def safe_next(target: str | None) -> str:
    """Only a path of this interface: never an absolute URL, so sign-in cannot redirect off-site."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def oidc_client(settings: Settings) -> OAuth | None:
    if settings.uses_dev_issuer or not settings.oidc_client_id:
        return None
    oauth = OAuth()
    oauth.register(
        name=PROVIDER,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret(),
        server_metadata_url=settings.oidc_metadata_url
        or settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"},
    )
    return oauth


def _secure(request: Request) -> bool:
    """Secure cookies in production and wherever TLS is in front (uvicorn's proxy headers set the
    scheme from X-Forwarded-Proto for trusted proxies)."""
    return web_services(request).settings.mode == "production" or request.url.scheme == "https"


SIGN_IN_CSRF = "sign_in_csrf"


def _sign_in_token(request: Request) -> str:
    """The sign-in form's own CSRF token: there is no session yet, so it lives in the short-lived
    signed login cookie (SessionMiddleware), as the OIDC state does."""
    token = request.session.get(SIGN_IN_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[SIGN_IN_CSRF] = token
    return token


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None, message: str | None = None) -> Response:
    settings: Settings = web_services(request).settings
    users = load_demo_users(settings.policies_dir).users if settings.uses_dev_issuer else []
    return render(
        request,
        "sign_in.html",
        None,
        demo=settings.uses_dev_issuer,
        users=users,
        oidc=web_services(request).oidc is not None,
        next=safe_next(next),
        message=message,
        csrf=_sign_in_token(request),
    )


@router.post("/sign-in")
def sign_in_demo(
    request: Request, user: str = Form(...), next: str = Form("/ui/"), csrf: str = Form("")
) -> Response:
    """Demo only: sign in as a demo user. Production refuses, as `gateway token` does."""
    settings: Settings = web_services(request).settings
    expected = request.session.pop(SIGN_IN_CSRF, None)
    if not isinstance(expected, str) or not hmac.compare_digest(csrf, expected):
        raise FormRefused()
    if not settings.uses_dev_issuer:
        return render(
            request,
            "sign_in.html",
            None,
            status_code=403,
            demo=False,
            users=[],
            oidc=web_services(request).oidc is not None,
            next="/ui/",
            message="Demo sign-in is switched off: sign in with your council account.",
        )
    try:
        demo_user = load_demo_users(settings.policies_dir).get(user)
    except KeyError:
        return RedirectResponse("/ui/sign-in?message=Pick+a+user+from+the+list.", status_code=303)
    token = sign_token(settings.data_dir, demo_user, ttl=SESSION_SECONDS)
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(response, token, _secure(request))
    return response


@router.get("/oidc/login")
async def oidc_login(request: Request, next: str | None = None) -> Response:
    oauth: OAuth | None = web_services(request).oidc
    if oauth is None:
        return RedirectResponse("/ui/sign-in", status_code=303)
    request.session["next"] = safe_next(next)
    client: Any = oauth.create_client(PROVIDER)
    return await client.authorize_redirect(request, str(request.url_for("oidc_callback")))


@router.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    oauth: OAuth | None = web_services(request).oidc
    if oauth is None:
        return RedirectResponse("/ui/sign-in", status_code=303)
    client: Any = oauth.create_client(PROVIDER)
    try:
        token = await client.authorize_access_token(request)
        access = token["access_token"]
        web_services(request).verifier.verify(access)
    except (OAuthError, KeyError) as exc:
        return _failed(request, f"The identity provider did not complete the sign-in ({exc}).")
    except InvalidToken as exc:
        return _failed(
            request,
            f"The identity provider's access token is not accepted by the gateway ({exc}). The gateway "
            "needs a JWT for its audience from the configured issuer: ask your identity team.",
        )
    response = RedirectResponse(safe_next(request.session.pop("next", None)), status_code=303)
    if token.get("id_token"):  # for RP-initiated logout: the provider ends its session too
        request.session["id_token"] = token["id_token"]
    start_session(response, access, _secure(request))
    return response


def _failed(request: Request, message: str) -> Response:
    return render(
        request,
        "sign_in.html",
        None,
        status_code=401,
        demo=False,
        users=[],
        oidc=True,
        next="/ui/",
        message=message,
    )


@router.post("/sign-out")
async def sign_out(request: Request, user: User) -> Response:
    await checked_form(request, user)
    expires = dt.datetime.fromtimestamp(int(user.principal.claims.get("exp", 0)), dt.UTC)
    await run_in_threadpool(web_services(request).revocations.revoke, user.token, expires)
    target = "/ui/sign-in?message=You+have+signed+out."
    oauth: OAuth | None = web_services(request).oidc
    if oauth is not None:
        target = await _provider_logout(request, oauth, target)
    response = RedirectResponse(target, status_code=303)
    end_session(response, _secure(request))
    return response


async def _provider_logout(request: Request, oauth: OAuth, back: str) -> str:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the provider's end-session endpoint,
    so that signing out of the gateway also ends the directory session (a shared PC stays signed out).
    Without the endpoint in the provider's metadata, the gateway's own session ends alone."""
    client: Any = oauth.create_client(PROVIDER)
    try:
        metadata = await client.load_server_metadata()
    except Exception:  # the provider is unreachable: the gateway's session still ends
        return back
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return back
    params = {
        "client_id": client.client_id,
        "post_logout_redirect_uri": str(request.url_for("signed_out")),
    }
    id_token = request.session.pop("id_token", None)
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


@router.get("/signed-out", name="signed_out")
async def signed_out() -> Response:
    """Where the provider sends the browser back after ending its session."""
    return RedirectResponse("/ui/sign-in?message=You+have+signed+out.", status_code=303)
