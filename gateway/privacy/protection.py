"""The linear-programming audit: how far can an attacker narrow each suppressed cell?

The attacker knows every published cell (we assume exactly, ignoring rounding and noise, which only
helps them less) and that each margin is the sum of the cells it totals. The suppressed cells are then
the unknowns of a system of linear equations with non-negative solutions. For each suppressed cell, two
linear programs (minimise it, maximise it) give the interval it must lie in; the table is protected
when every interval is at least the protection margin wide. This is the tau-Argus audit, done with
scipy's HiGHS solver.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from gateway.privacy.table import Key


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float

    @property
    def width(self) -> float:
        return self.upper - self.lower


def feasible_intervals(
    relations: Iterable[tuple[Key, list[Key]]],
    values: Mapping[Key, float],
    suppressed: set[Key],
    lower_bound: Callable[[Key], float],
    cells: Iterable[Key] | None = None,
) -> dict[Key, Interval]:
    """The interval each suppressed cell (or each of `cells`) can take given everything published."""
    variables = sorted(suppressed, key=repr)
    if not variables:
        return {}
    index = {k: i for i, k in enumerate(variables)}
    rows, cols, data, rhs = [], [], [], []
    for parent, children in relations:
        members = [(parent, 1.0)] + [(c, -1.0) for c in children]
        if not any(m in index for m, _ in members):
            continue
        r = len(rhs)
        known = 0.0
        for m, sign in members:
            if m in index:
                rows.append(r)
                cols.append(index[m])
                data.append(sign)
            else:
                known += sign * values[m]
        rhs.append(-known)
    a_eq = csr_matrix((data, (rows, cols)), shape=(len(rhs), len(variables))) if rhs else None
    b_eq = np.array(rhs) if rhs else None
    bounds = [(lower_bound(k), None) for k in variables]
    out: dict[Key, Interval] = {}
    for k in cells if cells is not None else variables:
        j = index[k]
        c = np.zeros(len(variables))
        c[j] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        c[j] = -1.0
        high = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        lower = low.fun if low.status == 0 else bounds[j][0]
        upper = -high.fun if high.status == 0 else math.inf  # status 3: unbounded above
        out[k] = Interval(float(lower), float(upper))
    return out
