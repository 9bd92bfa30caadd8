"""Mount the web interface on the gateway application: routes under `/ui`, its static files, the login
state for OIDC, and the handlers that turn refusals into pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from gateway.catalogue import Catalogue
from gateway.config import Settings
from gateway.identity.revocation import Revocations
from gateway.identity.tokens import Verifier
from gateway.policy.decision import PolicyEngine
from gateway.web import (
    analyst,
    caseworker,
    exchanges,
    governance,
    policy_change,
    reidentification,
    signin,
)
from gateway.web.api_client import ApiRefused, GatewayApi
from gateway.web.pages import error_page, render, to_sign_in
from gateway.web.services import WebServices, web_services
from gateway.web.session import FormRefused, SignInNeeded, User, load_secret

STATIC = Path(__file__).parent / "static"


async def close_web(app: FastAPI) -> None:
    await web_services(app).api.aclose()


def install_web(
    app: FastAPI,
    settings: Settings,
    *,
    catalogue: Catalogue,
    policy: PolicyEngine,
    verifier: Verifier,
    revocations: Revocations,
) -> None:
    app.state.web = WebServices(
        settings=settings,
        catalogue=catalogue,
        policy=policy,
        verifier=verifier,
        revocations=revocations,
        secret=load_secret(settings.session_secret_file),
        api=GatewayApi(app),
        oidc=signin.oidc_client(settings),
    )
    # Only the OIDC login keeps state between requests (its `state` and PKCE verifier): a short-lived
    # signed cookie on /ui. The signed-in session itself is the verified bearer token (session.py).
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.web.secret.hex(),
        session_cookie="gateway_login",
        max_age=600,
        path="/ui",
        same_site="lax",
        https_only=settings.mode == "production",
    )
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        return to_sign_in(request, exc.message)

    @app.exception_handler(ApiRefused)
    async def _refused(request: Request, exc: ApiRefused) -> Response:
        return error_page(request, exc.status, exc.code, exc.detail)

    @app.exception_handler(FormRefused)
    async def _form(request: Request, _exc: FormRefused) -> Response:
        return error_page(
            request,
            403,
            "form_expired",
            "this form has expired or did not come from this site, so nothing was done. "
            "Go back, reload the page and try again",
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    @app.get("/ui", include_in_schema=False)
    @app.get("/ui/", include_in_schema=False)
    def home(request: Request, user: User) -> Response:
        return render(request, "home.html", user)

    for module in (signin, caseworker, analyst, governance, policy_change, reidentification, exchanges):
        app.include_router(module.router)
