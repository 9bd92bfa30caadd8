"""Rare values of released attributes: a flag that fewer than k records carry is itself an identifier.

k-anonymity protects the quasi-identifiers an agreement declares; a recipient who also knows something
else about the person (the police know who is on a youth offending order, housing who is in temporary
accommodation) can use any released attribute the same way. If fewer than k records carry a value, that
value narrows the person down to fewer than k rows and reveals everything else in them. So every
released attribute is checked on the file as it will be written: a column with a value held by fewer
than k records is withheld whole (blanked), since blanking only the rare cells would mark the same rows.

Pure: rows in, rows changed in place and a report out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def withhold_rare_values(rows: list[dict[str, Any]], fields: list[str], k: int) -> dict[str, Any]:
    """Blank every column in `fields` in which some value is held by fewer than `k` of the rows
    (blanks, l-diversity's withheld cells among them, are not a value)."""
    withheld: dict[str, dict[str, int]] = {}
    for field in fields:
        counts = Counter(r.get(field) for r in rows if r.get(field) is not None)
        rare = {str(v): n for v, n in counts.items() if n < k}
        if rare:
            withheld[field] = rare
            for r in rows:
                r[field] = None
    return {
        "k": k,
        "checked": fields,
        "withheld": sorted(withheld),
        "rule": "a released attribute with a value fewer than k records hold is withheld whole",
    }
