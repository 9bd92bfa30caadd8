"""Write-ahead audit for every `/v1` request: the event is committed before any byte of the reply leaves.

The middleware lets the route run, holds its whole reply, builds the audit event from what the route
recorded on `request.state.audit` (action, subjects, purpose, agreement, fields and rows released,
disclosure, break-glass) plus who asked and what status they get, and commits it. Only then is the
reply sent. If the audit store cannot commit, the caller gets 503 `audit_unavailable` and none of the
reply: no event, no data.

With `audit_write_ahead` on, a caseworker view writes its event ahead (`audit_ahead`, called once it has
decided and before it fetches): the access (who, about whom, purpose, agreement, decision, the fields it
may release) is then committed while the data is read, and the middleware sends the reply only when
that commit is confirmed, as before. What the reply carried (rows, fields, protection, the status sent)
follows as an `audit.outcome` event naming the access, committed with the next batch without holding
this reply: a commit that waits (a remote database) no longer adds to the request's latency.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.record import AuditRecord
from audit.store import AuditUnavailable, outcome_notice
from gateway.api.services import services
from gateway.identity.tokens import InvalidToken
from gateway.telemetry.tracing import current_trace_id, redact_path, step

log = logging.getLogger("gateway.audit")
AUDITED_PREFIX = "/v1"


def audit_context(request: Request) -> AuditRecord:
    """This request's audit record, created on first use."""
    record = getattr(request.state, "audit", None)
    if record is None:
        record = request.state.audit = AuditRecord()
    return record


def _detail(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return (
        parsed.get("detail") if isinstance(parsed, dict) and isinstance(parsed.get("detail"), str) else None
    )


def _caller(request: Request) -> Any:
    """The authenticated caller; for requests no route authenticated (an unknown path), the token is
    still checked so that the event names who knocked, if they proved it."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return services(request).verifier.verify(token.strip())
    except InvalidToken:
        return None


def build_event(request: Request, status: int, body: bytes) -> dict[str, Any]:
    ctx = audit_context(request)
    principal = _caller(request)
    allowed = status < 400
    ctx.setdefault("action", f"{request.method} {request.url.path}")
    ctx.setdefault("resource", request.url.path)
    ctx.setdefault("purpose", request.query_params.get("purpose"))
    return ctx.event(
        id=request.state.audit_id,
        actor=principal.sub if principal else "anonymous",
        roles=list(principal.roles) if principal else [],
        allowed=allowed,
        # A refusal records the reason that was sent, even when a route had already noted the policy's
        # (allowing) reason before a later check refused it.
        refusal=_detail(body) if not allowed else None,
        trace_id=request.state.trace_id,
        status=status,
    )


def audit_ahead(request: Request) -> None:
    """Commit this request's event now, as an allowed access with what the route has recorded so far,
    while the route goes on to fetch; the reply still waits for the commit (see the module)."""
    event = build_event(request, 200, b"")
    request.state.audit_ahead = services(request).audit.submit(event)


class AuditTrail:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it costs about a millisecond per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request.state.audit_id = str(uuid.uuid4())
        # The OpenTelemetry trace this request belongs to (its parent's, through `traceparent`); a
        # caller's X-Trace-Id only when tracing is off.
        request.state.trace_id = (
            current_trace_id() or request.headers.get("x-trace-id", "")[:64] or uuid.uuid4().hex
        )
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, hold)
            status, body = int(start["status"]), b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        except Exception:
            log.exception("request failed", extra={"trace_id": request.state.trace_id})
            body = json.dumps({"error": "internal_error", "detail": "the request failed"}).encode()
            status, headers = 500, [(b"content-type", b"application/json")]
        event = build_event(request, status, body)
        try:
            # An unknown route's action is its path, which may hold an id: redacted like the server span's.
            action = redact_path(event["action"])
            store = services(request).audit
            with step("audit", action=action, decision=event["decision"], status=status):
                ahead = getattr(request.state, "audit_ahead", None)
                if ahead is None:
                    await store.append_async(event)
                else:
                    access = await store.confirmed(ahead)
                    store.append_later(outcome_notice(access, event))
        except AuditUnavailable as exc:
            log.error(
                "audit unavailable, reply withheld: %s", exc, extra={"trace_id": request.state.trace_id}
            )
            refusal = JSONResponse(
                {
                    "error": "audit_unavailable",
                    "detail": "the access could not be recorded, so nothing is released",
                },
                status_code=503,
            )
            await refusal(scope, receive, send)
            return
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-audit-id", request.state.audit_id.encode()),
            (b"x-trace-id", request.state.trace_id.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install_audit_trail(app: FastAPI) -> None:
    app.add_middleware(AuditTrail)
