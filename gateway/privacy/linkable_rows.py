"""Whole released rows shared by at least k records: what stops two extracts being joined by content.

k-anonymity on the quasi-identifiers stops a recipient finding a person from what they know of them.
But two extracts of the same people, for two projects or under two agreements, carry different
pseudonyms and may still be joined row to row on everything they both release: a row whose whole
content (age band, sex, ward and its flags) no other row shares is a fingerprint that finds the same
person in the other file, and the join puts both files' columns on one person, which neither approval
allowed. So the whole row must be shared by k records too.

Where the attributes split a quasi-identifier class into groups smaller than k, the attributes of the
whole class are withheld (blanked), which keeps l-diversity's rule that a class shows its sensitive
values in full or not at all; the class then shares one content with k or more rows. An attacker who
joins two such files picks among at least k rows with the same content: at most 1 in k is right.

Pure: rows in, rows changed in place and a report out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


def k_anonymous_rows(
    rows: list[dict[str, Any]], quasi_identifiers: list[str], attributes: list[str], k: int
) -> dict[str, Any]:
    """Blank `attributes` for every quasi-identifier class in which some whole row is held by fewer
    than `k` records."""
    columns = [*quasi_identifiers, *attributes]
    whole = Counter(tuple(r.get(c) for c in columns) for r in rows)
    classes: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        classes[tuple(r.get(q) for q in quasi_identifiers)].append(r)
    withheld_classes = withheld_rows = 0
    if attributes:
        for members in classes.values():
            if any(whole[tuple(r.get(c) for c in columns)] < k for r in members):
                withheld_classes += 1
                withheld_rows += len(members)
                for r in members:
                    for a in attributes:
                        r[a] = None
    after = Counter(tuple(r.get(c) for c in columns) for r in rows)
    return {
        "k": k,
        "columns": columns,
        "classes_withheld": withheld_classes,
        "rows_with_attributes_withheld": withheld_rows,
        "smallest_row_group": min(after.values(), default=0),
        "rule": "every released row, all its columns together, is shared by at least k records",
    }
