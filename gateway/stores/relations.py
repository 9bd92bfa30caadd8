"""What the stores say about who lives with whom and who is family, in one shape.

Each row is one record's membership of a group the store keeps: children's social care and early help
record families (`ssd_family`, `eh_family_member`); benefits record the benefit unit (claimant, partner,
dependants) and, with non-dependants, the household; housing records everyone on a tenancy.

    local_id, group_id, relationship, kind   (kind: "family" or "household")
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Select, literal, select

from gateway.stores.schema import store_metadata

FAMILY, HOUSEHOLD = "family", "household"
# Benefit roles that make up the benefit unit, i.e. a family; a non-dependant shares only the home.
BENEFIT_UNIT_ROLES = ("claimant", "partner", "dependant")


@dataclass(frozen=True)
class Membership:
    local_id: str
    group_id: str
    relationship: str | None
    kind: str


def relation_selects(store: str) -> list[Select]:
    t = store_metadata(store).tables
    if store == "childrens_social_care":
        f = t["ssd_family"]
        return [select(f.c.fami_person_id, f.c.fami_family_id, f.c.fami_relationship, literal(FAMILY))]
    if store == "early_help":
        m = t["eh_family_member"]
        return [select(m.c.ehfm_person_id, m.c.ehfm_family_id, m.c.ehfm_relationship, literal(FAMILY))]
    if store == "housing":
        p = t["hsg_tenancy_persons"]
        return [select(p.c.tp_person_ref, p.c.tp_tenancy_ref, p.c.tp_relationship, literal(HOUSEHOLD))]
    if store == "benefits":
        p = t["rb_claim_persons"]
        return [
            select(p.c.cp_person_ref, p.c.cp_claim_ref, p.c.cp_role, literal(HOUSEHOLD)),
            select(p.c.cp_person_ref, p.c.cp_claim_ref, p.c.cp_role, literal(FAMILY)).where(
                p.c.cp_role.in_(BENEFIT_UNIT_ROLES)
            ),
        ]
    return []


def read_relations(store: str, engine: Engine) -> list[Membership]:
    out: list[Membership] = []
    with engine.connect() as conn:
        for query in relation_selects(store):
            for local_id, group_id, relationship, kind in conn.execute(query):
                if local_id is not None and group_id is not None:
                    out.append(Membership(str(local_id), f"{store}:{group_id}", relationship, kind))
    return out
