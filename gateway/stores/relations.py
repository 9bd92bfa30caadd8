"""What the stores say about who lives with whom and who is family, in one shape.

Each row is one record's membership of a group the store keeps: children's social care and early help
record families (`ssd_family`, `eh_family_member`); benefits record the benefit unit (claimant, partner,
dependants) and, with non-dependants, the household; housing records everyone on a tenancy.

    local_id, group_id, relationship, kind   (kind: "family" or "household")

Each department's `relations` queries (`gateway/departments/`) select them.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILY, HOUSEHOLD = "family", "household"


@dataclass(frozen=True)
class Membership:
    local_id: str
    group_id: str
    relationship: str | None
    kind: str
