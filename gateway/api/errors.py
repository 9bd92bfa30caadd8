"""Every error leaves as `{"error": "<machine_code>", "detail": "<human sentence>"}` (CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api.audit_trail import audit_context
from gateway.api.bodies import describe
from gateway.refusal import Refused

# Pages (gateway.web) answer errors with an HTML page a person can act on; the API keeps its JSON shape.
HtmlErrorPage = Callable[[Request, int, str, str], Response]

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def install_error_handlers(app: FastAPI, html: HtmlErrorPage | None = None, html_prefix: str = "/ui") -> None:
    def _page(req: Request) -> bool:
        return html is not None and (
            req.url.path == html_prefix or req.url.path.startswith(html_prefix + "/")
        )

    @app.exception_handler(Refused)
    async def _refused(req: Request, exc: Refused) -> Response:
        # The refusal's sentence and agreement go on the request's audit record (routes may have set a
        # more specific reason already).
        record = audit_context(req)
        record.setdefault("reason", exc.detail)
        if exc.decision is not None and exc.decision.agreement_id:
            record.setdefault("agreement_id", exc.decision.agreement_id)
        if _page(req):
            return html(req, exc.status, exc.code, exc.detail)  # type: ignore[misc]
        headers = getattr(exc, "headers", None)
        body = {**exc.extra, **error_body(exc.code, exc.detail)}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if _page(req):
            return html(req, exc.status_code, code, detail)  # type: ignore[misc]
        return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(req: Request, exc: RequestValidationError) -> Response:
        detail = describe(list(exc.errors()))
        if _page(req):
            return html(req, 422, "invalid_request", detail)  # type: ignore[misc]
        return JSONResponse(error_body("invalid_request", detail), status_code=422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DisconnectionError)
    async def _database_gone(req: Request, _exc: Exception) -> Response:
        # A database that does not answer (a store, the index, the audit store read by a review) is an
        # outage, not a bug: 503 and nothing released, as for the audit trail itself.
        detail = "a database the gateway depends on did not answer; nothing was released, try again shortly"
        if _page(req):
            return html(req, 503, "unavailable", detail)  # type: ignore[misc]
        return JSONResponse(error_body("unavailable", detail), 503)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, _exc: Exception) -> Response:
        # Fail closed and say nothing about internals (no stack traces, DSNs or personal data).
        detail = "the gateway could not complete this request"
        if _page(req):
            return html(req, 500, "internal_error", detail)  # type: ignore[misc]
        return JSONResponse(error_body("internal_error", detail), 500)


# Every refusal a /v1 operation can answer with, in the one error shape: declared in the OpenAPI
# document so that clients (and the schemathesis fuzzing in tests/test_fuzz.py) can rely on it.
ERROR_STATUSES = {
    400: "the request is malformed",
    401: "no valid bearer token",
    403: "the policy refuses this caller, view or purpose",
    404: "no such resource (or not visible to this caller)",
    409: "the resource is not in a state that allows this",
    410: "the resource has expired",
    413: "the request body is too large",
    415: "the request body is not JSON",
    422: "a parameter or body field is invalid",
    429: "over a per-caller or per-role limit (policies/limits.yaml): see Retry-After",
    503: "a store or the audit log is unavailable: nothing was released",
}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "machine code"},
        "detail": {"type": "string", "description": "a sentence saying what to do"},
    },
}


def document_errors(app: FastAPI, prefix: str = "/v1/") -> None:
    """Replace FastAPI's default 422 body (which this API never sends) with the error shape, and
    declare every refusal status on every operation under `prefix`."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in doc["paths"].items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if path.startswith(prefix):
                    for status, why in ERROR_STATUSES.items():
                        responses[str(status)] = {"description": why, "content": error}
                elif "422" in responses:
                    responses["422"] = {"description": ERROR_STATUSES[422], "content": error}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
