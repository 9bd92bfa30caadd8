"""Cell-key perturbation (ABS TableBuilder, ONS 2021 Census): consistent noise from the records themselves.

Every record in the analysis store carries a permanent random record key in [0, key_space). A cell's key
is the sum of its records' keys modulo key_space, so the same set of records always gets the same cell
key, and so the same noise, whichever query or filter produced the cell. Repeating a query, or
averaging many queries that share a cell, therefore gains an attacker nothing.

The perturbation table has one row per count from the threshold up to threshold + max_noise (counts
above that share the last row) and one column per cell key. Row v holds zero-mean noise, uniform over
[-m, m] with m = min(max_noise, v - threshold), so a perturbed count never falls below the threshold
and counts at the threshold are released unperturbed (then rounded).
"""

from __future__ import annotations

from functools import lru_cache

KEY_SPACE = 256  # record keys are drawn from [0, KEY_SPACE); see gateway.analysis.build


def cell_key(key_sum: int, key_space: int) -> int:
    return key_sum % key_space


@lru_cache(maxsize=32)
def perturbation_table(threshold: int, max_noise: int, key_space: int) -> tuple[tuple[int, ...], ...]:
    rows = []
    for offset in range(max_noise + 1):
        m = min(max_noise, offset)
        width = 2 * m + 1
        rows.append(tuple(-m + (slot * width) // key_space for slot in range(key_space)))
    return tuple(rows)


def count_noise(count: int, key: int, threshold: int, max_noise: int, key_space: int) -> int:
    """The noise added to a count of at least `threshold` (smaller counts are suppressed, not perturbed)."""
    if count < threshold or max_noise <= 0:
        return 0
    table = perturbation_table(threshold, max_noise, key_space)
    return table[min(count - threshold, max_noise)][key]


def magnitude_noise(largest: float, key: int, fraction: float, key_space: int) -> float:
    """Noise for a sum: up to `fraction` of the cell's largest contribution either way, from its key."""
    unit = (2 * key + 1) / key_space - 1.0  # in (-1, 1), uniform over cell keys
    return largest * fraction * unit
