"""l-diversity (Machanavajjhala et al., 2007) for released extracts: within every class of records that
share their quasi-identifiers, each sensitive field must take at least l distinct values. k-anonymity
hides which row is someone's; if every row of their class says `cp_plan = true`, it does not hide that.

Pure: where a class is not diverse in a field, that field is withheld (null: empty in CSV) for the
whole class, so the flag of everyone in it is hidden rather than whole rows dropped. The report says,
per field, the smallest diversity left and how many records had the field withheld.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

DEFAULT_L = 2
WITHHELD = None  # typed columns (Parquet booleans) hold a null where a value is withheld


def l_diverse(
    rows: list[dict[str, Any]], quasi_identifiers: list[str], sensitive: list[str], least: int
) -> dict[str, Any]:
    """Make `rows` `least`-diverse in place for each sensitive field; returns the report."""
    classes: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        classes[tuple(row.get(q) for q in quasi_identifiers)].append(row)
    report: dict[str, Any] = {"l": least, "fields": {}}
    for field in sensitive:
        withheld, smallest = 0, None
        for members in classes.values():
            distinct = {r.get(field) for r in members}
            if len(distinct) < least:
                for r in members:
                    r[field] = WITHHELD
                withheld += len(members)
            else:
                smallest = len(distinct) if smallest is None else min(smallest, len(distinct))
        report["fields"][field] = {"records_withheld": withheld, "smallest_l": smallest}
    report["classes"] = len(classes)
    return report
