"""The FastAPI application: wiring only. Each concern lives in its own router module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from gateway import __version__
from gateway.api import (
    aggregates,
    agreement_lifecycle,
    agreements,
    audit_review,
    caseworker,
    catalogue,
    exchanges,
    extracts,
    health,
    identity,
    what_if,
)
from gateway.api.audit_trail import install_audit_trail
from gateway.api.errors import document_errors, install_error_handlers
from gateway.api.request_limits import RequestLimits
from gateway.api.services import build_services
from gateway.config import Settings
from gateway.datadir import keep_files_private
from gateway.migrations import runner as migrations
from gateway.production import require_production_ready
from gateway.telemetry.metrics import RequestMetrics
from gateway.telemetry.tracing import configure_tracing, instrument
from gateway.web.install import close_web, install_web
from gateway.web.pages import error_page
from gateway.web.security_headers import SecurityHeaders


def _schemas(settings: Settings) -> None:
    """Demo mode migrates on start; production only checks, the upgrade being its own deliberate step."""
    for name, url in (("gateway", settings.gateway_db_url()), ("audit", settings.audit_db_url())):
        if settings.mode == "production":
            migrations.require_head(url, name)
        else:
            migrations.upgrade(url, name)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    keep_files_private()
    require_production_ready(settings)  # before anything is opened: no dev default reaches production
    _schemas(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway.extract_jobs.resume()  # approved extracts a stopped process left behind
        yield
        await close_web(app)
        gateway.close()

    configure_tracing(settings.mode, settings.data_dir)
    # /docs and /redoc load Swagger UI and ReDoc from files packaged with fastapi-offline, never a CDN.
    app = FastAPIOffline(
        title="Data-sharing gateway", version=__version__, lifespan=lifespan, static_url="/docs-assets"
    )
    app.state.services = gateway = build_services(settings)
    install_error_handlers(app, html=error_page)
    document_errors(app)
    app.add_middleware(RequestLimits)  # inside the audit trail: a refused body is audited too
    install_audit_trail(app)
    app.include_router(health.router)
    app.include_router(identity.router)
    app.include_router(catalogue.router)
    app.include_router(agreement_lifecycle.router)  # before /agreements/{id}
    app.include_router(agreements.router)
    app.include_router(what_if.router)
    app.include_router(audit_review.router)
    app.include_router(caseworker.router)
    app.include_router(aggregates.router)
    app.include_router(extracts.router)
    app.include_router(exchanges.router)
    install_web(
        app,
        settings,
        catalogue=gateway.catalogue,
        policy=gateway.policy,
        verifier=gateway.verifier,
        revocations=gateway.revocations,
    )
    # Signing out continues at the identity provider (RP-initiated logout): its origin may be a form's end.
    provider = urlsplit(settings.issuer)
    oidc = settings.oidc_client_id and not settings.uses_dev_issuer and provider.scheme in ("http", "https")
    app.add_middleware(
        SecurityHeaders, form_targets=(f"{provider.scheme}://{provider.netloc}",) if oidc else ()
    )
    app.add_middleware(RequestMetrics, metrics=gateway.metrics)  # outermost: sees the status the caller got
    instrument(app)  # the server span wraps everything, so the audit trail runs inside the trace
    return app
