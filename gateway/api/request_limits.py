"""Limits on what a request may carry, checked before any route parses it: a body larger than
`max_body` bytes is 413, and a `/v1` body that is not JSON is 415. Both are ordinary refusals with the
error shape, inside the audit trail, so each is recorded like any other denied request.

Bodies are read in full (they are small JSON documents and forms) and handed on unchanged, so a body
sent in chunks without a Content-Length is bounded too.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_048_576
JSON_TYPES = ("application/json",)
BODY_METHODS = {"POST", "PUT", "PATCH"}


def is_json(content_type: str | None) -> bool:
    """`application/json` or any `application/<x>+json`, parameters (charset) ignored."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Pure ASGI middleware, placed inside the audit trail."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if int(declared) > self.max_body:
                await _refuse(send, 413, "payload_too_large", self._too_large())
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _refuse(send, 413, "payload_too_large", self._too_large())
                return
            if not message.get("more_body", False):
                break
        if (
            body
            and scope["path"].startswith("/v1/")
            and scope["method"] in BODY_METHODS
            and not is_json(headers.get("content-type"))
        ):
            sent = headers.get("content-type") or "unlabelled"
            detail = f"the body must be JSON (Content-Type: application/json), not {sent}"
            await _refuse(send, 415, "unsupported_media_type", detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body:,} bytes"
