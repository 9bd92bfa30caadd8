"""Gaussian noise under zero-concentrated differential privacy (zCDP), by OpenDP.

Why OpenDP: its Gaussian mechanism samples exactly (no floating-point attacks on the noise) and its
privacy map states what a release costs, so the gateway never computes a privacy loss by hand. A
release of a vector whose L2 sensitivity is `sensitivity` at scale `sigma` costs
rho = sensitivity^2 / (2 sigma^2); `scale_for` finds the scale for a given cost by OpenDP's own search
and `add_noise` checks the map before anything is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

dp.enable_features("contrib")


def _space() -> tuple[Any, Any]:
    return dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l2_distance(T=float)


@lru_cache(maxsize=256)
def scale_for(sensitivity: float, rho: float) -> float:
    """The Gaussian scale at which a release of this sensitivity costs `rho` (zCDP)."""
    return float(
        dp.binary_search_param(
            lambda s: _space() >> dp.m.then_gaussian(s), d_in=float(sensitivity), d_out=rho
        )
    )


def cost(sensitivity: float, scale: float) -> float:
    """What releasing at `scale` costs, by OpenDP's privacy map."""
    return float((_space() >> dp.m.then_gaussian(scale)).map(float(sensitivity)))


@lru_cache(maxsize=256)
def _measurement(sensitivity: float, rho: float) -> tuple[Any, float]:
    scale = scale_for(sensitivity, rho)
    measurement = _space() >> dp.m.then_gaussian(scale)
    if measurement.map(float(sensitivity)) > rho * (1 + 1e-9):
        raise RuntimeError("the noise would cost more than the budget allows")  # fail closed
    return measurement, scale


def add_noise(values: Sequence[float], sensitivity: float, rho: float) -> tuple[list[float], float]:
    """`values` with Gaussian noise costing at most `rho`; returns the noisy values and the scale."""
    measurement, scale = _measurement(float(sensitivity), float(rho))
    if not values:
        return [], scale
    return [float(v) for v in measurement([float(v) for v in values])], scale
