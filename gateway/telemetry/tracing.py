"""OpenTelemetry traces: one trace per request, with the FastAPI server span and spans for the governed
steps (decide, fetch, transform, audit); its trace id is the audit event's `trace_id`, so an IG
officer's event and an operator's trace are the same request. Each SQL statement on a store, the
person index, the analysis store and the extract queue is a child span (`trace_sql`).

Export follows the standard variables: `OTEL_TRACES_EXPORTER` (`otlp`, `console` or `none`) and
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_SERVICE_NAME`. With nothing
set, production exports nothing and demo mode writes spans as JSON lines to `<data-dir>/traces.jsonl`
(the console exporter, aimed at a file so the terminal stays readable).

Span attributes never carry personal data: the steps record views, datasets, purposes, decision codes
and counts; the server span's URL attributes have person, family and extract ids replaced by `{id}`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

tracer = trace.get_tracer("gateway")
# Ids that name a person, family, extract or audit event in a path: never a span attribute.
ID_IN_PATH = re.compile(r"(?<=/)(?:[PF][0-9A-Z]{12}|[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$|\?)")
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "http.route")


def redact_path(value: str) -> str:
    return ID_IN_PATH.sub("{id}", value)


def redact_url(value: str) -> str:
    """Ids become `{id}` and every query value `{value}` (a query value may be personal data: a
    subject search's name, date of birth or NHS number). Spans and log lines keep the shape of a
    request, never whom it was about."""
    path, mark, query = value.partition("?")
    return f"{redact_path(path)}?{redact_query(query)}" if mark else redact_path(path)


def redact_query(query: str) -> str:
    return "&".join(
        f"{name}={{value}}" if sep else name
        for name, sep, _ in (part.partition("=") for part in query.split("&"))
    )


class RedactedAccessLog(logging.Filter):
    """uvicorn's access-log line with the path redacted as spans are (ids and query values)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


class XTraceIdPropagator(TextMapPropagator):
    """A caller's `X-Trace-Id` of 32 hex digits starts the trace when no `traceparent` came: the
    gateway has always kept a caller's trace id in the audit event, and still does."""

    HEADER = "x-trace-id"

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter = default_getter
    ) -> Context:
        if trace.get_current_span(context).get_span_context().is_valid:
            return context if context is not None else Context()
        values = getter.get(carrier, self.HEADER) or []
        wanted = values[0].strip().lower() if values else ""
        if not re.fullmatch(r"[0-9a-f]{32}", wanted) or int(wanted, 16) == 0:
            return context if context is not None else Context()
        parent = trace.SpanContext(
            trace_id=int(wanted, 16),
            span_id=int.from_bytes(os.urandom(8), "big") or 1,
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(parent), context)

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter = default_setter
    ) -> None:
        return None  # outgoing calls carry `traceparent`

    @property
    def fields(self) -> set[str]:
        return {self.HEADER}


def _exporter(mode: str, data_dir: Path) -> SpanExporter | None:
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not chosen:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        chosen = "otlp" if endpoint else ("console" if mode == "demo" else "none")
    if chosen == "none":
        return None
    if chosen == "console":
        path = Path(data_dir) / "traces.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8")
        return ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    if chosen == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # reads the OTEL_EXPORTER_OTLP_* variables itself
    raise ValueError(f"OTEL_TRACES_EXPORTER={chosen!r}: use otlp, console or none")


def provider() -> TracerProvider:
    """The process's tracer provider, made once: OpenTelemetry allows one global provider."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    made = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "gateway")})
    )
    trace.set_tracer_provider(made)
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), XTraceIdPropagator()])
    )
    return made


def configure_tracing(mode: str, data_dir: Path) -> TracerProvider:
    made = provider()
    exporter = _exporter(mode, data_dir)
    if exporter is not None and not getattr(made, "_gateway_exporting", False):
        made.add_span_processor(BatchSpanProcessor(exporter))
        made._gateway_exporting = True  # type: ignore[attr-defined]
    return made


def _redact_server_span(span: Any, _scope: dict[str, Any]) -> None:
    if span is None or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, redact_url(value))
    if isinstance(attributes.get("url.query"), str):
        span.set_attribute("url.query", redact_query(attributes["url.query"]))


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The server span's name and route: the path with its ids replaced by `{id}`.

    FastAPI's instrumentor names the span by matching the path against every route of the app again
    (about 3% of the server's CPU per flags request in issue 24's profile); the redacted path names
    the request without a second routing, never carries a person's id, and `RouteSpanName` puts the
    route's template in its place once the router has matched."""
    route = redact_path(str(scope.get("path", "")))
    return f"{str(scope.get('method', 'HTTP')).strip() or 'HTTP'} {route}", {"http.route": route}


class RouteSpanName:
    """Once the router has matched, names the server span by the route's template, as
    `GET /v1/persons/{person_id}/flags`: the name a dashboard groups by, found without routing twice.
    Sits just inside the OpenTelemetry middleware, so the current span is the server span, and names
    it as the reply starts (the span ends with the reply)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()

        async def named(message: Message) -> None:
            route = getattr(scope.get("route"), "path", None)
            if message["type"] == "http.response.start" and isinstance(route, str) and span.is_recording():
                span.update_name(f"{scope.get('method', 'HTTP')} {route}")
                span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, named)


def instrument(app: FastAPI) -> None:
    """A server span per request, outermost, so that everything the request does runs inside it."""
    app.add_middleware(RouteSpanName)
    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider(),
        default_span_details=_span_details,
        server_request_hook=_redact_server_span,
        excluded_urls="healthz,readyz,metrics,ui/static",
        exclude_spans=["receive", "send"],
    )


def trace_sql(engine: Engine) -> None:
    """SQL statement spans for one engine: the statement text with its placeholders, never the values.

    The instrumentation is attached per engine rather than by patching `create_engine` (which misses
    modules that imported it first, and is once per process while tests make many apps). Its package
    declares SQLAlchemy below 2.1 only as an optional extra; the engine events it uses are unchanged in
    2.1. The audit writer's engine is left out on purpose: it commits batches for many requests at once
    from its own thread, and each request's wait is the `audit` span.
    """
    if getattr(engine, "_gateway_traced", False):
        return
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    usage = metrics.get_meter("gateway.sql").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer("gateway.sql", tracer_provider=provider()), engine, usage)
    engine._gateway_traced = True  # type: ignore[attr-defined]


@contextmanager
def step(name: str, **attributes: Any) -> Iterator[Any]:
    """A span for one governed step; attributes must be ids-free (views, datasets, codes, counts)."""
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
