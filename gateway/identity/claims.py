"""From a directory's token to a principal: which claim holds the user's groups, and which group grants
which role of the policy in which department (`policies/identity-claims.yaml`, reviewed by IG).

Councils manage access in their directory (Entra ID, Keycloak, ADFS) by group membership, not by
editing the gateway: a starter joins "GW-CSC-Caseworkers" and becomes a caseworker in children's social
care. Groups the file does not list grant nothing. A user whose groups give roles in two departments is
given no role (the policy decides per department, and guessing would widen access); the refusal says
why, so the directory can be fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

CLAIMS_FILE = "identity-claims.yaml"
# Set on a principal that holds no role: the sentence a refusal gives instead of "holds no role".
NO_ROLE_CLAIM = "gateway_no_role"


class ClaimNames(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: str = "groups"
    name: str = "name"
    worker_id: str | None = None
    team: str | None = None


class GroupGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(min_length=1)
    department: str | None = None


class ClaimMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claims: ClaimNames = Field(default_factory=ClaimNames)
    groups: dict[str, GroupGrant]

    def identity(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The principal's fields from the token's claims: sub, name, roles, department, team, worker_id,
        and, when no role results, why (under NO_ROLE_CLAIM)."""
        raw = claims.get(self.claims.groups, [])
        groups = (
            [raw]
            if isinstance(raw, str)
            else [g for g in raw if isinstance(g, str)]
            if isinstance(raw, list)
            else []
        )
        grants = [self.groups[g] for g in groups if g in self.groups]
        departments = sorted({g.department for g in grants if g.department})
        roles = sorted({r for g in grants for r in g.roles})
        why = None
        if not grants:
            shown = ", ".join(groups[:10]) or "none"
            why = (
                f"your directory groups ({shown}) give no role in the gateway "
                f"(policies/{CLAIMS_FILE} lists the groups that do): ask your IG team"
            )
        elif len(departments) > 1:
            why = (
                f"your directory groups give roles in {len(departments)} departments "
                f"({', '.join(departments)}), and the gateway decides per department: ask your IG team to "
                "fix the groups"
            )
            roles, departments = [], []

        def claim(name: str | None) -> str | None:
            value = claims.get(name) if name else None
            return str(value) if value is not None else None

        return {
            "name": str(claims.get(self.claims.name) or claims["sub"]),
            "roles": tuple(roles),
            "department": departments[0] if departments else None,
            "team": claim(self.claims.team),
            "worker_id": claim(self.claims.worker_id),
            "why_no_role": why,
        }


def load_claim_mapping(path: Path) -> ClaimMapping:
    return ClaimMapping.model_validate(yaml.safe_load(Path(path).read_text()))
