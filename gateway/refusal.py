"""One refusal for the whole gateway: an HTTP status, a machine code, a sentence the caller can act on,
and the policy decision behind it when a policy took one.

Services raise it (the extract workflow, analyst tables, routes); the API turns it into the contract's
error shape (`{"error": code, "detail": sentence}`) in one handler, which also puts the sentence and the
agreement on the request's audit record, so every refusal is logged with its reason the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.policy.decision import Decision


class Refused(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        decision: Decision | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.decision = status, code, detail, decision
        self.headers = headers
        # More of the answer beside error and detail (a partner file's line-by-line `errors`).
        self.extra = extra or {}
