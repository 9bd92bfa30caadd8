"""Who is calling: the verified claims of a bearer token, as the policy engine reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str
    roles: tuple[str, ...]
    department: str | None = None
    team: str | None = None
    # The caller's id in their own department's system, for caseload lookups (optional claim).
    worker_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def cache_key(self) -> tuple[str, tuple[str, ...], str | None, str | None]:
        return (self.sub, self.roles, self.department, self.team)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "name": self.name,
            "roles": list(self.roles),
            "department": self.department,
            "team": self.team,
            "worker_id": self.worker_id,
        }
