"""Dominance rules for magnitude tables (sums, means): a cell is sensitive when a few contributors make
up most of it, because each of them could then estimate the others' values from the published total."""

from __future__ import annotations

from collections.abc import Sequence


def nk_dominated(top: Sequence[float], total: float, n: int, k: float) -> bool:
    """(n, k) rule: the largest n contributions exceed fraction k of the cell total."""
    # As a share of the total, so that tiny magnitudes do not underflow (k * total rounding to total).
    return total > 0 and sum(sorted(top, reverse=True)[:n]) / total > k


def p_percent_sensitive(top: Sequence[float], total: float, p: float) -> bool:
    """p% rule: the second-largest contributor, subtracting their own value from the total, would learn
    the largest contribution to within p% of it."""
    if total <= 0 or not top:
        return False
    ordered = sorted(top, reverse=True)
    largest = ordered[0]
    second = ordered[1] if len(ordered) > 1 else 0.0
    return largest > 0 and (total - largest - second) / largest < p
