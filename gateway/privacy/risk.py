"""How identifying a released extract is, measured on the file itself: per quasi-identifier column, how
many values it takes and what share of records hold a value no other record holds; per record, the
size of its class (records sharing every quasi-identifier) and the prosecutor re-identification
probability 1 / class size (an attacker who knows the person is in the extract and knows their
quasi-identifiers). Reported with every extract, so an approver and a recipient see the risk, not only
the k that was asked for.

Pure: rows in, a report out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def disclosure_risk(rows: list[dict[str, Any]], quasi_identifiers: list[str]) -> dict[str, Any]:
    if not rows:
        return {"records": 0, "columns": {}, "classes": 0}
    columns = {}
    for q in quasi_identifiers:
        counts = Counter(str(r.get(q)) for r in rows)
        columns[q] = {
            "distinct": len(counts),
            "unique_share": round(sum(1 for r in rows if counts[str(r.get(q))] == 1) / len(rows), 4),
        }
    classes = Counter(tuple(str(r.get(q)) for q in quasi_identifiers) for r in rows)
    sizes = [classes[tuple(str(r.get(q)) for q in quasi_identifiers)] for r in rows]
    return {
        "records": len(rows),
        "classes": len(classes),
        "smallest_class": min(sizes),
        "unique_records": sum(1 for s in sizes if s == 1),
        "max_reidentification_probability": round(1 / min(sizes), 4),
        "mean_reidentification_probability": round(sum(1 / s for s in sizes) / len(sizes), 4),
        "columns": columns,
        "model": "prosecutor: the attacker knows the person is in it, and their quasi-identifiers",
    }
