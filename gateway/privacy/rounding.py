"""Rounding published counts to a base, never below the threshold (so no released count is small)."""

from __future__ import annotations


def round_to_base(value: int, base: int, floor: int = 0) -> int:
    """Nearest multiple of `base` (halves up); a value at or above `floor` never rounds below it."""
    if base <= 1:
        return max(value, floor) if value >= floor else value
    rounded = ((value + base // 2) // base) * base
    if value >= floor > rounded:
        rounded = -(-floor // base) * base  # the smallest multiple of base not below the floor
    return rounded
