"""Prometheus metrics for `GET /metrics`: requests, policy decisions, disclosure control, the audit
writer and store availability.

Labels are bounded by construction: routes are path templates (`/v1/persons/{person_id}/flags`, never
an id), decisions are labelled by their fixed `code`, never the sentence, and datasets and stores come
from the catalogue and `stores.json`. Nothing personal can reach a label.

Each application has its own registry, so several apps in one process (tests) do not share counts.
With several worker processes, each reports its own series; scrape each pod (the Helm chart's
Service does) and sum in Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class DecisionOutcome(Protocol):
    """What metrics read from a policy decision (telemetry does not depend on the policy package)."""

    @property
    def allow(self) -> bool: ...

    @property
    def code(self) -> str: ...

    @property
    def view(self) -> str: ...


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"


class GatewayMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds", "Time to the last byte of the reply", ["route"], registry=r
        )
        self.decisions = Counter(
            "gateway_policy_decisions",
            "Policy decisions by outcome, reason code and view",
            ["decision", "reason", "view"],
            registry=r,
        )
        self.suppressed = Counter(
            "gateway_suppressed_cells",
            "Aggregate cells withheld by disclosure control",
            ["dataset"],
            registry=r,
        )
        self.audit_commit = Histogram(
            "gateway_audit_commit_duration_seconds",
            "One audit transaction (a group of events), committed or failed",
            ["outcome"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.audit_events = Counter(
            "gateway_audit_events", "Audit events by commit outcome", ["outcome"], registry=r
        )
        self.audit_queue = Gauge(
            "gateway_audit_queue_depth", "Audit events waiting for the writer", registry=r
        )
        self.store_up = Gauge(
            "gateway_store_up", "1 if the store answered its last check, else 0", ["store"], registry=r
        )

    # --- hooks the service's parts call ---------------------------------------------------------
    def decision(self, d: DecisionOutcome) -> None:
        self.decisions.labels("allow" if d.allow else "deny", d.code, d.view).inc()

    def audit_committed(self, seconds: float, events: int, ok: bool) -> None:
        outcome = "committed" if ok else "failed"
        self.audit_commit.labels(outcome).observe(seconds)
        self.audit_events.labels(outcome).inc(events)

    def cells_suppressed(self, dataset: str, cells: int) -> None:
        if cells:
            self.suppressed.labels(dataset).inc(cells)

    def stores_checked(self, status: dict[str, str]) -> None:
        for store, state in status.items():
            self.store_up.labels(store).set(1 if state == "ok" else 0)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.audit_queue.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetrics:
    """Pure ASGI middleware, outermost, so it sees the status the caller really got (including the
    audit trail's 503 when an event cannot be committed)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
