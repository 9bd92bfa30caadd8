"""Liveness and readiness probes (unauthenticated, no data)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.api.services import services
from gateway.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up. Says nothing about its dependencies (that is /readyz)."""
    return {"status": "ok"}


def _check_stores(request: Request) -> dict[str, str]:
    registry = services(request).stores
    status = registry.ping() if not registry.problem else {}
    status["audit"] = "ok" if services(request).audit.can_commit() else "unavailable"
    services(request).metrics.stores_checked(status)
    return status


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
async def metrics(request: Request) -> Response:
    """Prometheus text: requests, decisions, suppressed cells, the audit writer, store availability.
    Each scrape checks the stores, so `gateway_store_up` is never older than the scrape interval."""
    await run_in_threadpool(_check_stores, request)
    return Response(services(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/readyz", responses={503: {"description": "a store or the audit store does not answer"}})
def readyz(request: Request) -> JSONResponse:
    """Ready when every departmental store answers and the audit store can commit (its newest commit did
    not fail); 503 otherwise, naming which not."""
    registry = services(request).stores
    status = _check_stores(request)
    down = sorted(name for name, s in status.items() if s != "ok")
    problems = [registry.problem] if registry.problem else []
    if down:
        problems.append(f"stores unavailable: {', '.join(down)}")
    if problems:
        return JSONResponse(
            {"error": "not_ready", "detail": "; ".join(problems), "stores": status}, status_code=503
        )
    return JSONResponse({"status": "ready", "stores": status})
