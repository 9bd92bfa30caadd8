"""What a table will cost before it runs, so a table too heavy for the shared machine is refused with
the bound it broke instead of holding a thread and a core for minutes while caseworkers wait.

The cost is the rows the table's SQL (`gateway/aggregates/compile.py`) touches. A dataset with one row
per unit (persons, families) is read once by one GROUP BY. An event dataset is read once into
(cell, unit) groups, which are then ranked per unit (to bound each unit's cells) and counted: up to
three passes over as many rows as the filters select. The estimate uses the row count the analysis
store recorded when it was built and, for each filter on a categorical field, the share of the field's
values chosen (values are assumed equally common; a range filter is not credited). Filtering to a part
of a dataset is therefore what brings a table under the bound.
"""

from __future__ import annotations

import math

PASSES_ONE_ROW_PER_UNIT = 1
PASSES_PER_UNIT_BOUND = 3


def selectivity(chosen: int, domain: int) -> float:
    """The share of rows a filter keeping `chosen` of a field's `domain` values is expected to keep."""
    if domain <= 0:
        return 1.0
    return min(1.0, max(0, chosen) / domain)


def estimated_cost(dataset_rows: int, share: float, passes: int) -> int:
    """Rows touched: the selected rows (rounded up), once per pass."""
    if dataset_rows < 0 or not 0.0 <= share <= 1.0 or passes < 1:
        raise ValueError("rows are a count, the share a fraction and passes at least one")
    return math.ceil(dataset_rows * share) * passes


def over_bound(cost: int, bound: int | None) -> bool:
    """True when a configured bound exists and the cost exceeds it (a cost equal to it still runs)."""
    return bound is not None and cost > bound
