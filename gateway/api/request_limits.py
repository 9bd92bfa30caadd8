"""Limits on what a request may carry, checked before any route parses it: a body larger than
`max_body` bytes is 413, and a `/v1` body that is not JSON is 415. Both are ordinary refusals with the
error shape, inside the audit trail, so each is recorded like any other denied request.

A JSON body is also held to strict JSON before any route parses it: `NaN`, `Infinity` and
`-Infinity` (which Python's parser accepts, and which once made a refused request's audit event
unreadable for every reviewer) are 400, and so is nesting deeper than `MAX_DEPTH` (a 2 KB body of a
thousand brackets otherwise ends in a RecursionError).

Bodies are read in full (they are small JSON documents and forms) and handed on unchanged, so a body
sent in chunks without a Content-Length is bounded too.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_048_576
# Partner files arrive as multipart uploads, larger than any JSON request (exchanges.py checks them).
UPLOAD_PATHS = {"/v1/exchanges": 8 * 1_048_576}
JSON_TYPES = ("application/json",)
BODY_METHODS = {"POST", "PUT", "PATCH"}
MAX_DEPTH = 32  # the deepest legitimate body (an aggregate's filters) nests four levels


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted; linear and
    without recursion, so it is safe on any input."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def strict_json_problem(body: bytes, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `body` is not strict JSON, or None. Only what the standard parser would wrongly let through
    is judged here; malformed JSON is left to the route's own message."""
    if nesting_depth(body) > max_depth:
        return f"the JSON body nests deeper than {max_depth} levels"
    try:
        json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        if "is not a JSON number" in str(exc):
            return "the JSON body holds NaN or Infinity, which are not JSON numbers: send a finite number"
    except RecursionError:
        return f"the JSON body nests deeper than {max_depth} levels"
    return None


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
        upload = scope["path"] in UPLOAD_PATHS and scope["method"] == "POST"
        limit = UPLOAD_PATHS[scope["path"]] if upload else self.max_body
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if int(declared) > limit:
                await _refuse(send, 413, "payload_too_large", self._too_large(limit))
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(send, 413, "payload_too_large", self._too_large(limit))
                return
            if not message.get("more_body", False):
                break
        if (
            body
            and scope["path"].startswith("/v1/")
            and scope["method"] in BODY_METHODS
            and not is_json(headers.get("content-type"))
            and not (upload and (headers.get("content-type") or "").startswith("multipart/form-data"))
        ):
            sent = headers.get("content-type") or "unlabelled"
            detail = f"the body must be JSON (Content-Type: application/json), not {sent}"
            await _refuse(send, 415, "unsupported_media_type", detail)
            return
        if body and is_json(headers.get("content-type")):
            problem = strict_json_problem(bytes(body))
            if problem:
                await _refuse(send, 400, "invalid_json", problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, limit: int | None = None) -> str:
        return f"the request body is larger than {limit or self.max_body:,} bytes"
