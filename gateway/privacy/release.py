"""From noisy finest cells to a published table: margins, output checking, ratios and uncertainty.

Pure functions, applied after the noise (so nothing here can leak more than the noise allows: it is
post-processing). Each finest cell carries its own noise; a margin is the sum of the noisy cells it
totals, so a published table adds up and its noise grows only as the square root of the cells summed.
Output checking an IG officer expects stays on top: a cell whose noisy count of units is below the
threshold is shown as suppressed, and published counts are rounded to the agreement's base. A mean is
a protected ratio: its noisy sum over its noisy count, each with noise of its own, so no combination
of a sum and a mean gives a count back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Measure = Literal["count", "sum", "mean"]
Key = tuple[Any, ...]
TOTAL: None = None
Z95 = 1.959964  # two-sided 95% normal quantile


@dataclass(frozen=True)
class ReleaseRules:
    threshold: int = 10
    rounding_base: int | None = 5


@dataclass(frozen=True)
class Noisy:
    """A noisy value and the standard deviation of its noise."""

    value: float
    sd: float


@dataclass(frozen=True)
class ReleasedCell:
    key: Key
    value: float | int | None
    status: str  # perturbed | suppressed
    noise_sd: float | None
    interval: tuple[float, float] | None


def interior_keys(categories: Sequence[Sequence[Any]]) -> list[Key]:
    """Every finest cell of the table's (public) categories, in a fixed order."""
    return [tuple(k) for k in itertools.product(*categories)]


def all_keys(categories: Sequence[Sequence[Any]]) -> Iterator[Key]:
    return (tuple(k) for k in itertools.product(*[(*c, TOTAL) for c in categories]))


def with_margins(
    categories: Sequence[Sequence[Any]], interior: dict[Key, float], sd: float
) -> dict[Key, Noisy]:
    """Every cell and margin: a margin is the sum of the noisy finest cells it totals, its noise the
    square root of their number times the cells' own. Built a dimension at a time (each cell totalled
    over one more field), so a cell is added once per dimension rather than once per margin it is in:
    2^d times fewer additions than totalling every margin from the finest cells."""
    totals: dict[Key, float] = {key: 0.0 for key in all_keys(categories)}
    n: dict[Key, int] = {key: 0 for key in totals}
    for key, value in interior.items():
        totals[key] += value
        n[key] += 1
    for i in range(len(categories)):
        # Before this step no key has TOTAL at position i or after, so each target starts at zero.
        for key in [k for k in totals if k[i] is not TOTAL]:
            margin = (*key[:i], TOTAL, *key[i + 1 :])
            totals[margin] += totals[key]
            n[margin] += n[key]
    return {key: Noisy(totals[key], sd * math.sqrt(n[key])) for key in totals}


def round_to(value: float, base: int | None) -> int:
    if not base or base <= 1:
        return round(value)
    return int(base * round(value / base))


def release_cells(
    keys: Sequence[Key],
    measure: Measure,
    counts: dict[Key, Noisy],
    sums: dict[Key, Noisy] | None,
    rules: ReleaseRules,
) -> list[ReleasedCell]:
    """The published cells. `counts` are noisy counts of units (every measure has them: they decide
    suppression); `sums` are the noisy sums of a sum or mean."""
    out = []
    for key in keys:
        c = counts[key]
        if c.value < rules.threshold:
            out.append(ReleasedCell(key, None, "suppressed", None, None))
            continue
        if measure == "count":
            value: float | int = max(round_to(c.value, rules.rounding_base), rules.threshold)
            sd = c.sd
        else:
            assert sums is not None
            s = sums[key]
            if measure == "sum":
                value, sd = round(max(s.value, 0.0)), s.sd
            else:
                mean = max(s.value, 0.0) / c.value
                value = round(mean, 2)
                sd = math.sqrt(s.sd**2 + (mean * c.sd) ** 2) / c.value  # delta method
        low, high = max(0.0, value - Z95 * sd), value + Z95 * sd
        out.append(ReleasedCell(key, value, "perturbed", round(sd, 2), (round(low, 2), round(high, 2))))
    return out


def noisy_table(
    categories: Sequence[Sequence[Any]],
    true_values: dict[Key, float],
    noise: Callable[[list[float]], tuple[list[float], float]],
) -> dict[Key, Noisy]:
    """Noise every finest cell of the complete table (zeros too: which cells are empty is itself
    protected), then add the margins."""
    keys = interior_keys(categories)
    noisy, sd = noise([float(true_values.get(k, 0.0)) for k in keys])
    return with_margins(categories, dict(zip(keys, noisy, strict=True)), sd)
