"""Every error leaves as `{"error": "<machine_code>", "detail": "<human sentence>"}` (CONTRACT.md)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


class GatewayError(Exception):
    """Raised by handlers for a refusal with a machine code and a sentence the user can act on."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(_req: Request, exc: GatewayError) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        return JSONResponse(error_body(exc.code, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        detail = (
            f"{where}: {first.get('msg', 'invalid value')}"
            if where
            else str(first.get("msg", "invalid request"))
        )
        return JSONResponse(error_body("invalid_request", detail), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, _exc: Exception) -> JSONResponse:
        # Fail closed and say nothing about internals (no stack traces, DSNs or personal data).
        return JSONResponse(error_body("internal_error", "the gateway could not complete this request"), 500)
