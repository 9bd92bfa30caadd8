"""The FastAPI application: wiring only. Each concern lives in its own router module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from audit.open import open_audit
from gateway import __version__
from gateway.analysis.store import AnalysisStore
from gateway.api import (
    aggregates,
    agreements,
    audit_review,
    caseworker,
    catalogue,
    extracts,
    health,
    identity,
)
from gateway.api.audit_trail import install_audit_trail
from gateway.api.errors import document_errors, install_error_handlers
from gateway.api.rate_limits import Limiter, load_limits
from gateway.api.request_limits import RequestLimits
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.datadir import keep_files_private
from gateway.extracts.jobs import ExtractJobs
from gateway.extracts.service import ExtractService
from gateway.extracts.store import ExtractStore
from gateway.identity import dev_issuer
from gateway.identity.revocation import Revocations
from gateway.identity.tokens import Verifier, load_key_set
from gateway.index.store import IndexStore
from gateway.migrations import runner as migrations
from gateway.policy.decision import PolicyEngine
from gateway.privacy.budget import Ledger
from gateway.privacy.keys import choose_provider
from gateway.privacy.ner_model import resolve_model
from gateway.production import require_production_ready
from gateway.stores.registry import StoreRegistry
from gateway.telemetry.metrics import GatewayMetrics, RequestMetrics
from gateway.telemetry.tracing import configure_tracing, instrument, trace_sql
from gateway.web.install import install_web
from gateway.web.pages import error_page
from gateway.web.security_headers import SecurityHeaders


def _verifier(settings: Settings) -> Verifier:
    if settings.uses_dev_issuer:
        keys = dev_issuer.key_set(settings.data_dir)
    else:
        keys = load_key_set(settings.jwks_file, settings.jwks_url)
    refresh = (
        (lambda: load_key_set(None, settings.jwks_url))
        if settings.jwks_url and not settings.jwks_file
        else None
    )
    return Verifier(issuer=settings.issuer, audience=settings.audience, keys=keys, refresh=refresh)


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
        app.state.extract_jobs.resume()  # approved extracts a stopped process left behind
        yield
        await app.state.web_api.aclose()
        app.state.extract_jobs.shutdown()
        app.state.extract_store.dispose()
        app.state.audit.close()  # seals the chain with a final signed checkpoint
        app.state.index.dispose()
        app.state.analysis.dispose()
        app.state.stores.dispose()

    configure_tracing(settings.mode, settings.data_dir)
    # /docs and /redoc load Swagger UI and ReDoc from files packaged with fastapi-offline, never a CDN.
    app = FastAPIOffline(
        title="Data-sharing gateway", version=__version__, lifespan=lifespan, static_url="/docs-assets"
    )
    app.state.settings = settings
    # Loaded at start-up so that a broken policy file stops the service instead of serving half a policy.
    app.state.catalogue = load_catalogue(settings.policies_dir)
    app.state.stores = StoreRegistry.open(settings.datadir())
    app.state.verifier = _verifier(settings)
    app.state.index = IndexStore(settings.gateway_db_url())
    app.state.revocations = Revocations(app.state.index.engine)
    app.state.budgets = Ledger(app.state.index.engine)
    app.state.analysis = AnalysisStore(settings.analysis_db_url())
    app.state.caseloads = {}  # (department, worker id) -> (expiry, Caseload); see api/caseworker.py
    app.state.policy = PolicyEngine(settings.policies_dir, check_interval=settings.policy_check_interval)
    if app.state.policy.load_error:  # refuse to start on a broken policy rather than deny silently
        raise RuntimeError(f"policy could not be loaded: {app.state.policy.load_error}")
    app.state.audit = open_audit(settings)
    app.state.limiter = Limiter(load_limits(settings.policies_dir, settings.limits_file))
    app.state.metrics = metrics = GatewayMetrics()
    app.state.policy.on_decision = metrics.decision
    app.state.audit.on_commit = metrics.audit_committed
    metrics.watch_queue(app.state.audit.queue_depth)
    app.state.extract_store = ExtractStore(settings.gateway_db_url())
    app.state.extracts = ExtractService(
        settings.datadir(),
        app.state.extract_store,
        app.state.policy,
        app.state.catalogue,
        choose_provider(
            settings.data_dir,
            key_file=settings.pseudonym_key_file,
            plugin=settings.pseudonym_key_provider,
            demo=settings.mode == "demo",
        ),
        app.state.audit,
        notes_model=resolve_model(settings.scrub_spacy_model) if settings.scrub_spacy_model else None,
    )
    app.state.extract_jobs = ExtractJobs(app.state.extracts, settings.extract_workers)
    traced = (*app.state.stores.engines.values(), app.state.index.engine, app.state.extract_store.engine)
    for engine in traced:
        trace_sql(engine)
    app.state.analysis.on_engine = trace_sql
    install_error_handlers(app, html=error_page)
    document_errors(app)
    app.add_middleware(RequestLimits)  # inside the audit trail: a refused body is audited too
    install_audit_trail(app)
    app.include_router(health.router)
    app.include_router(identity.router)
    app.include_router(catalogue.router)
    app.include_router(agreements.router)
    app.include_router(audit_review.router)
    app.include_router(caseworker.router)
    app.include_router(aggregates.router)
    app.include_router(extracts.router)
    install_web(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: sees the status the caller got
    instrument(app)  # the server span wraps everything, so the audit trail runs inside the trace
    return app
