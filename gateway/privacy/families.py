"""The family link as a quasi-identifier. `family_pseudonym` groups the members of a family, so the set
of their released quasi-identifiers (a family of a 1984 woman, a 1986 man and children of 2012 and 2015
in one ward) is a fingerprint that can be matched to the families a council officer or a data broker
knows, even when every single row is k-anonymous. The link is kept only for families whose composition,
as released, is shared by at least k families of the extract; for the others it is dropped (null), so
their rows stay in the extract but cannot be grouped.

Pure: rows in, rows changed in place, a report out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

LINK = "family_pseudonym"


def composition(members: list[dict[str, Any]], quasi_identifiers: list[str]) -> tuple[tuple[Any, ...], ...]:
    """A family's fingerprint: its members' released quasi-identifiers, in a fixed order."""
    return tuple(sorted(tuple(str(m.get(q)) for q in quasi_identifiers) for m in members))


def k_anonymous_families(rows: list[dict[str, Any]], quasi_identifiers: list[str], k: int) -> dict[str, Any]:
    families: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get(LINK) is not None:
            families[row[LINK]].append(row)
    prints = {f: composition(members, quasi_identifiers) for f, members in families.items()}
    shared = Counter(prints.values())
    unlinked = [f for f, p in prints.items() if shared[p] < k]
    for f in unlinked:
        for row in families[f]:
            row[LINK] = None
    return {
        "k": k,
        "families": len(families),
        "linked": len(families) - len(unlinked),
        "unlinked": len(unlinked),
        "rule": "a family's link is kept only if its composition is shared by at least k families",
    }
