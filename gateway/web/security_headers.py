"""Security headers on every response: pages show names and dates of birth, so they must not be
framed, cached, sniffed into another type, or leak their URL (which holds person ids) to another site.

Pages get a Content-Security-Policy that allows only the gateway's own scripts, plus inline scripts
carrying this response's nonce (`request.state.csp_nonce`, used by the two pages that script their
forms); styles may be inline because the server-drawn SVG charts carry theirs.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_PREFIX = "/ui"
ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))


def content_security_policy(nonce: str, form_targets: tuple[str, ...] = ()) -> bytes:
    """`form_targets`: other origins a form may lead to (the identity provider, where signing out
    continues: CSP's form-action also governs the redirect a form's answer makes)."""
    targets = " ".join(("'self'", *form_targets))
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "object-src 'none'; "
        "base-uri 'none'; "
        f"form-action {targets}; "
        "frame-ancestors 'none'"
    ).encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        self.form_targets = form_targets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        path: str = scope["path"]
        page = path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")
        personal = page or path.startswith("/v1/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in ALWAYS if h[0] not in present]
                if personal and not path.startswith(PAGE_PREFIX + "/static/"):
                    extra += [h for h in NO_STORE if h[0] not in present]
                if page:
                    extra.append(
                        (b"content-security-policy", content_security_policy(nonce, self.form_targets))
                    )
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
