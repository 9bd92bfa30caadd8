"""The one place an audit event is built: what a request (or a background job) records about its own
access, typed so that a misspelt field fails where it is written instead of vanishing from the
tamper-evident log, turned into the contract's event by `AuditRecord.event`. The API's audit trail
(`gateway/api/audit_trail.py`) and the extract build job both use it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from audit.store import new_event


@dataclass
class AuditRecord:
    """What a route records about its own access; the middleware adds who, when and the outcome.

    Typed, so a misspelt field fails where it is written (`AttributeError`) instead of vanishing from
    the tamper-evident log. Routes set fields as attributes, with `update(...)`, or as `record["x"] = ...`.
    """

    action: str | None = None
    resource: str | None = None
    subject_ids: list[str] = field(default_factory=list)
    purpose: str | None = None
    agreement_id: str | None = None
    reason: str | None = None
    fields_released: list[str] = field(default_factory=list)
    rows_released: int = 0
    disclosure_applied: dict[str, Any] = field(default_factory=dict)
    break_glass: bool = False
    request: Any = None  # the request as asked (a body, or its parsed form), kept even when refused

    def update(self, **values: Any) -> None:
        for name, value in values.items():
            self[name] = value

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _RECORD_FIELDS:
            raise AttributeError(f"the audit record has no field {name!r}")
        setattr(self, name, value)

    def __getitem__(self, name: str) -> Any:
        if name not in _RECORD_FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def setdefault(self, name: str, value: Any) -> Any:
        if self[name] in (None, [], {}):
            self[name] = value
        return self[name]

    def event(
        self,
        *,
        id: str,
        actor: str,
        roles: list[str],
        allowed: bool,
        trace_id: str,
        status: int,
        refusal: str | None = None,
    ) -> dict[str, Any]:
        """The event to commit. A refusal releases nothing (no fields, no rows, no disclosure beyond
        what was asked) whatever the record says was about to be released."""
        disclosure = dict(self.disclosure_applied) if allowed else {}
        if self.request is not None:
            disclosure["request"] = self.request
        return new_event(
            id=id,
            actor=actor,
            roles=roles,
            action=self.action or "",
            resource=self.resource or "",
            subject_ids=sorted(self.subject_ids),
            purpose=self.purpose,
            agreement_id=self.agreement_id,
            decision="allow" if allowed else "deny",
            reason=refusal or self.reason or ("ok" if allowed else "refused"),
            fields_released=sorted(self.fields_released) if allowed else [],
            rows_released=int(self.rows_released) if allowed else 0,
            disclosure_applied=disclosure,
            break_glass=bool(self.break_glass),
            trace_id=trace_id,
            status=status,
        )


_RECORD_FIELDS = frozenset(f.name for f in fields(AuditRecord))
