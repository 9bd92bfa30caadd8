"""Gaussian noise under zero-concentrated differential privacy (zCDP), by OpenDP.

Why OpenDP: its Gaussian mechanism samples exactly (no floating-point attacks on the noise) and its
privacy map states what a release costs, so the gateway never computes a privacy loss by hand. A
release of a vector whose L2 sensitivity is `sensitivity` at scale `sigma` costs
rho = sensitivity^2 / (2 sigma^2); `scale_for` finds the scale for a given cost by OpenDP's own search
and `add_noise` checks the map before anything is released.

Counts take the discrete Gaussian (`add_count_noise`): integer noise on integer counts, with the same
privacy map (rho = sensitivity^2 / (2 sigma^2); Canonne, Kamath and Steinke 2020) and sampled exactly
too, about four times faster than the continuous sampler, which draws its noise through the discrete
one at a finer grid (issue 24's profile: the continuous sampler was the largest part of a table of a
few hundred cells). Sums of amounts keep the continuous Gaussian.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

dp.enable_features("contrib")


def _space(integer: bool = False) -> tuple[Any, Any]:
    """Vectors of reals, or of counts (64-bit integers), at a real-valued L2 distance: a unit in up
    to k cells moves a count vector by sqrt(k), which is not an integer."""
    atoms = dp.atom_domain(T="i64") if integer else dp.atom_domain(T=float, nan=False)
    return dp.vector_domain(atoms), dp.l2_distance(T=float)


@lru_cache(maxsize=256)
def scale_for(sensitivity: float, rho: float, integer: bool = False) -> float:
    """The Gaussian scale at which a release of this sensitivity costs `rho` (zCDP)."""
    return float(
        dp.binary_search_param(
            lambda s: _space(integer) >> dp.m.then_gaussian(s), d_in=float(sensitivity), d_out=rho
        )
    )


def cost(sensitivity: float, scale: float, integer: bool = False) -> float:
    """What releasing at `scale` costs, by OpenDP's privacy map."""
    return float((_space(integer) >> dp.m.then_gaussian(scale)).map(float(sensitivity)))


@lru_cache(maxsize=256)
def _measurement(sensitivity: float, rho: float, integer: bool) -> tuple[Any, float]:
    scale = scale_for(sensitivity, rho, integer)
    measurement = _space(integer) >> dp.m.then_gaussian(scale)
    if measurement.map(float(sensitivity)) > rho * (1 + 1e-9):
        raise RuntimeError("the noise would cost more than the budget allows")  # fail closed
    return measurement, scale


def add_noise(values: Sequence[float], sensitivity: float, rho: float) -> tuple[list[float], float]:
    """`values` with Gaussian noise costing at most `rho`; returns the noisy values and the scale."""
    measurement, scale = _measurement(float(sensitivity), float(rho), False)
    if not values:
        return [], scale
    return [float(v) for v in measurement([float(v) for v in values])], scale


def add_count_noise(counts: Sequence[float], sensitivity: float, rho: float) -> tuple[list[float], float]:
    """Counts with discrete Gaussian noise costing at most `rho`: whole numbers in, whole numbers out
    (as floats, like `add_noise`); returns them and the scale. A count that is not a whole number is
    refused: it would mean the caller meant `add_noise`."""
    measurement, scale = _measurement(float(sensitivity), float(rho), True)
    whole = [int(c) for c in counts]
    if any(w != c for w, c in zip(whole, counts, strict=True)):
        raise ValueError("counts must be whole numbers")
    if not whole:
        return [], scale
    return [float(v) for v in measurement(whole)], scale
