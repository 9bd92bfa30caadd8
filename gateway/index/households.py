"""Households (who lives at one dwelling) and families (children with their parents and carers).

Splink links records to people; it has no household step. Households here follow Camden's approach:
group people by the property (UPRN) of their current address, then join anyone a store says shares a
home (a tenancy, a benefit claim). Families come from what the stores record about family membership
(children's social care and early help families, the benefit unit); people no store places in a family
form one family with the other such people in their household, and the family says so (`basis`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.departments import DEPARTMENTS
from gateway.index.graph import connected_components
from gateway.stores.relations import FAMILY, HOUSEHOLD, Membership

# Whose address to believe when a person's records disagree is each department's `address_rank`: the
# tenancy *is* the address; benefit claims are verified; the school census is refreshed each term; the
# rest are as current as the last contact. Ties go to the address most records agree on.
DECLARED, CO_RESIDENT = "declared", "co-resident"


@dataclass(frozen=True)
class Grouping:
    household_of: dict[str, str]  # person label -> household label
    family_of: dict[str, str]  # person label -> family label
    family_basis: dict[str, str]  # family label -> declared | co-resident
    dwelling_of: dict[str, str | None]  # person label -> "uprn:<n>" or "address:<key>"


def gazetteer(records: Iterable[Mapping]) -> dict[str, str]:
    """address key -> UPRN, learned from the records that hold both (the most frequent pairing)."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if r.get("address_key") and r.get("uprn"):
            seen[r["address_key"]][r["uprn"]] += 1
    return {key: counts.most_common(1)[0][0] for key, counts in seen.items()}


def dwelling(record: Mapping, lookup: Mapping[str, str]) -> str | None:
    uprn = record.get("uprn") or lookup.get(record.get("address_key") or "")
    if uprn:
        return f"uprn:{uprn}"
    return f"address:{record['address_key']}" if record.get("address_key") else None


def current_dwellings(
    records: Sequence[Mapping[str, Any]], person_of: Mapping[str, str]
) -> dict[str, str | None]:
    lookup = gazetteer(records)
    rank = {d.name: d.address_rank for d in DEPARTMENTS}
    votes: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in records:
        d = dwelling(r, lookup)
        if d:
            votes[person_of[r["unique_id"]]].append(
                (rank.get(r["source"], max(rank.values(), default=0) + 1), d)
            )
    out: dict[str, str | None] = {p: None for p in set(person_of.values())}
    for person, vs in votes.items():
        best = min(rank for rank, _ in vs)
        counts = Counter(d for rank, d in vs if rank == best)
        out[person] = sorted(counts, key=lambda d: (-counts[d], d))[0]
    return out


def _group_edges(
    memberships: Iterable[tuple[str, Membership]], person_of: Mapping[str, str], kind: str
) -> list[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for source, m in memberships:
        person = person_of.get(f"{source}:{m.local_id}")
        if person is not None and m.kind == kind:
            groups[m.group_id].append(person)
    return [(members[0], other) for members in groups.values() for other in members[1:]]


def group_people(
    records: Sequence[Mapping[str, Any]],
    person_of: Mapping[str, str],
    memberships: list[tuple[str, Membership]],
) -> Grouping:
    """`person_of`: record unique id -> person label; `memberships`: (store, membership) pairs."""
    people = sorted(set(person_of.values()))
    dwellings = current_dwellings(records, person_of)
    at: dict[str, list[str]] = defaultdict(list)
    for person, d in dwellings.items():
        if d:
            at[d].append(person)
    household_edges = [(ps[0], p) for ps in at.values() for p in ps[1:]]
    household_edges += _group_edges(memberships, person_of, HOUSEHOLD)
    household_of = connected_components(people, household_edges)

    family_edges = _group_edges(memberships, person_of, FAMILY)
    declared = {p for edge in family_edges for p in edge}
    # Undeclared people join the other undeclared people of their household.
    undeclared_by_household: dict[str, list[str]] = defaultdict(list)
    for p in people:
        if p not in declared:
            undeclared_by_household[household_of[p]].append(p)
    co_resident_edges = [(ps[0], p) for ps in undeclared_by_household.values() for p in ps[1:]]
    family_of = connected_components(people, family_edges + co_resident_edges)
    basis = {family_of[p]: (DECLARED if p in declared else CO_RESIDENT) for p in people}
    return Grouping(household_of, family_of, basis, dwellings)
