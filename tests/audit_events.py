"""Audit events as the caseworker views record them, for tests of the chain, the witness and review."""

from __future__ import annotations

from typing import Any

from audit.store import new_event


def flags_read(i: int, **fields: Any) -> dict[str, Any]:
    """Event number `i` of a caseworker reading person P<i>'s flags; `fields` override any field."""
    base: dict[str, Any] = dict(
        actor=f"user{i % 3}",
        roles=["caseworker"],
        action="flags.read",
        resource=f"/v1/persons/P{i:04d}/flags",
        subject_ids=[f"P{i:04d}"],
        purpose="child_protection_enquiry",
        agreement_id="AGR-CSC-001",
        decision="allow",
        reason="ok",
        fields_released=["ra_arrears_band"],
        rows_released=1,
        status=200,
    )
    return new_event(**{**base, **fields})
