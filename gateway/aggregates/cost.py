"""What a table will cost before it runs, so a table too heavy for the shared machine is refused with
the bound it broke instead of holding a thread and a core for minutes while caseworkers wait.

A table's SQL reads every row of its dataset once per grouping set: the interior cells and each margin
(CUBE over k fields is 2**k groupings), and the per-unit pass that bounds each person's contribution is
one more read of the same rows. So rows x (2**k + 1) row-reads is the estimate: it is an upper bound
(filters only make it smaller) that grows as the measured time does (issue 24: time grows with the
number of (cell, unit) groups and the number of margins), and it needs nothing but the row count the
analysis store recorded when it was built.
"""

from __future__ import annotations


def estimated_cost(dataset_rows: int, dimensions: int) -> int:
    """Row-reads a table over `dataset_rows` rows grouped by `dimensions` fields needs at most."""
    if dataset_rows < 0 or dimensions < 0:
        raise ValueError("rows and dimensions are counts")
    return dataset_rows * (2**dimensions + 1)


def over_bound(cost: int, bound: int | None) -> bool:
    """True when a configured bound exists and the cost exceeds it (a cost equal to it still runs)."""
    return bound is not None and cost > bound
