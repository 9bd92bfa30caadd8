"""The pages' only way to data: the gateway's own `/v1` API, called in process over ASGI.

Each call carries the signed-in user's bearer token and the page's trace id, and goes through the same
middleware as an external client (authentication, policy, write-ahead audit). A refusal comes back as
`ApiRefused` with the API's machine code and sentence, which the page shows or acts on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from opentelemetry.propagate import inject

from gateway.telemetry.tracing import current_trace_id
from gateway.web.session import SignedIn

INTERNAL_BASE = "http://gateway.internal"


class ApiRefused(Exception):
    def __init__(self, status: int, code: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.extra = extra or {}  # the rest of the refusal (a partner file's line-by-line errors)

    @property
    def about_the_request(self) -> bool:
        """A refusal of what was asked, shown beside the form so it can be changed; a lost session or
        an outage gets its own page instead."""
        return self.status != 401 and self.status < 500


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    filename: str | None


def _refusal(reply: httpx.Response) -> ApiRefused:
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiRefused(
        reply.status_code,
        str(body.get("error") or "error"),
        str(body.get("detail") or "the gateway refused this request"),
        {k: v for k, v in body.items() if k not in ("error", "detail")},
    )


class GatewayApi:
    """One per application; each page makes a `PageCalls` bound to its user and trace id."""

    def __init__(self, app: FastAPI) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=INTERNAL_BASE, timeout=120.0
        )

    def for_page(self, request: Request, user: SignedIn) -> PageCalls:
        """Calls for one page view: one trace id, and the audit ids collected for the page's footer."""
        if not hasattr(request.state, "audit_ids"):
            request.state.audit_ids = []
            request.state.trace_id = current_trace_id() or uuid.uuid4().hex
        return PageCalls(self._client, user, request.state.trace_id, request.state.audit_ids)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class PageCalls:
    client: httpx.AsyncClient
    user: SignedIn
    trace_id: str
    audit_ids: list[str]

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.user.token}", "X-Trace-Id": self.trace_id, **(extra or {})}
        inject(headers)  # `traceparent`: the API call's spans join the page's trace
        return headers

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str] | None,
        form: tuple[dict[str, str], tuple[str, str, bytes, str | None]] | None = None,
    ) -> httpx.Response:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        if form is not None:
            fields, (name, filename, content, kind) = form
            reply = await self.client.request(
                method,
                path,
                data=fields,
                files={name: (filename, content, kind or "application/octet-stream")},
                headers=self._headers(headers),
            )
        else:
            reply = await self.client.request(
                method, path, params=clean, json=body, headers=self._headers(headers)
            )
        if "x-audit-id" in reply.headers:
            self.audit_ids.append(reply.headers["x-audit-id"])
        if reply.status_code >= 400:
            raise _refusal(reply)
        return reply

    async def get(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return (await self._send("GET", path, params, None, headers)).json()

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return (await self._send("POST", path, None, body if body is not None else {}, headers)).json()

    async def upload(
        self, path: str, fields: dict[str, str], file: tuple[str, str, bytes, str | None]
    ) -> Any:
        """A multipart POST: form fields and one file (name, filename, content, content type)."""
        return (await self._send("POST", path, None, None, None, form=(fields, file))).json()

    async def download(self, path: str, params: dict[str, Any] | None = None) -> Download:
        reply = await self._send("GET", path, params, None, None)
        disposition = reply.headers.get("content-disposition", "")
        filename = disposition.split("filename=", 1)[1].strip('"') if "filename=" in disposition else None
        return Download(
            reply.content, reply.headers.get("content-type", "application/octet-stream"), filename
        )
