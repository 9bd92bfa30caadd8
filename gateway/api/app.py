"""The FastAPI application: wiring only. Each concern lives in its own router module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from audit.open import open_audit
from gateway import __version__
from gateway.analysis.store import AnalysisStore
from gateway.api import aggregates, agreements, audit_review, caseworker, catalogue, health, identity
from gateway.api.audit_trail import install_audit_trail
from gateway.api.errors import install_error_handlers
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity import dev_issuer
from gateway.identity.tokens import Verifier, load_key_set
from gateway.index.store import IndexStore
from gateway.policy.decision import PolicyEngine
from gateway.stores.registry import StoreRegistry


def _verifier(settings: Settings) -> Verifier:
    if settings.uses_dev_issuer:
        keys = dev_issuer.key_set(settings.data_dir)
    else:
        keys = load_key_set(settings.jwks_file, settings.jwks_url)
    return Verifier(issuer=settings.issuer, audience=settings.audience, keys=keys)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.audit.close()  # seals the chain with a final signed checkpoint
        app.state.index.dispose()
        app.state.analysis.dispose()
        app.state.stores.dispose()

    app = FastAPI(title="Data-sharing gateway", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    # Loaded at start-up so that a broken policy file stops the service instead of serving half a policy.
    app.state.catalogue = load_catalogue(settings.policies_dir)
    app.state.stores = StoreRegistry.open(DataDir(settings.data_dir))
    app.state.verifier = _verifier(settings)
    app.state.index = IndexStore(DataDir(settings.data_dir).index_url())
    app.state.analysis = AnalysisStore(DataDir(settings.data_dir).analysis_url())
    app.state.caseloads = {}  # (department, worker id) -> (expiry, Caseload); see api/caseworker.py
    app.state.policy = PolicyEngine(settings.policies_dir, check_interval=settings.policy_check_interval)
    if app.state.policy.load_error:  # refuse to start on a broken policy rather than deny silently
        raise RuntimeError(f"policy could not be loaded: {app.state.policy.load_error}")
    app.state.audit = open_audit(settings)
    app.state.audit.create()
    install_error_handlers(app)
    install_audit_trail(app)
    app.include_router(health.router)
    app.include_router(identity.router)
    app.include_router(catalogue.router)
    app.include_router(agreements.router)
    app.include_router(audit_review.router)
    app.include_router(caseworker.router)
    app.include_router(aggregates.router)
    return app
