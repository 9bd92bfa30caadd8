"""The FastAPI application: wiring only. Each concern lives in its own router module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.api import catalogue, health
from gateway.api.errors import install_error_handlers
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.stores.registry import StoreRegistry


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.stores.dispose()

    app = FastAPI(title="Data-sharing gateway", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    # Loaded at start-up so that a broken policy file stops the service instead of serving half a policy.
    app.state.catalogue = load_catalogue(settings.policies_dir)
    app.state.stores = StoreRegistry.open(DataDir(settings.data_dir))
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalogue.router)
    return app
