"""Name pools for the synthetic borough.

Names come from Faker's per-locale person providers (their word lists, not their random engine), so
the generator stays fast and fully controlled by our own seeded RNG. The origin groups and weights
approximate the mix of an English inner-London borough (ONS Census 2021, ethnic group by local
authority); `docs/synthetic-data.md` gives the figures.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class NamePool:
    """First names by sex and surnames for one origin group."""

    group: str
    male: tuple[str, ...]
    female: tuple[str, ...]
    surnames: tuple[str, ...]


# (group, weight, first-name locales, surname locales). Weights sum to 1.
ORIGIN_GROUPS: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("british", 0.46, ("en_GB",), ("en_GB",)),
    ("irish", 0.04, ("en_IE",), ("en_IE",)),
    ("south_asian", 0.15, ("en_IN", "en_PK"), ("en_IN", "en_PK")),
    ("west_african", 0.12, ("yo_NG", "ig_NG", "tw_GH", "en_NG"), ("yo_NG", "ig_NG", "tw_GH", "en_NG")),
    ("polish", 0.05, ("pl_PL",), ("pl_PL",)),
    ("turkish", 0.04, ("tr_TR",), ("tr_TR",)),
    ("southern_european", 0.08, ("pt_PT", "it_IT", "es_ES"), ("pt_PT", "it_IT", "es_ES")),
    ("romanian", 0.03, ("ro_RO",), ("ro_RO",)),
    ("french", 0.03, ("fr_FR",), ("fr_FR",)),
)


def _latin(names: list[str]) -> list[str]:
    """Keep names written in Latin script; the stores are English-language systems."""
    keep = []
    for name in names:
        if (
            name
            and name != "Doe"
            and all(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in name)
            and " " not in name
        ):
            keep.append(name)
    return keep


def _attr(provider: type, *names: str) -> list[str]:
    for attr in names:
        value = getattr(provider, attr, None)
        if value:
            return list(value.keys()) if isinstance(value, dict) else list(value)
    return []


def _ranked(names: list[str], group: str) -> tuple[str, ...]:
    """Frequency ranks for `zipf_weights`: a fixed shuffle, so no alphabet bias and no dependence on
    set iteration order (determinism across runs)."""
    unique = sorted(set(_latin(names)))
    random.Random(f"names:{group}").shuffle(unique)
    return tuple(unique)


@cache
def name_pools() -> tuple[NamePool, ...]:
    pools = []
    for group, _weight, first_locales, last_locales in ORIGIN_GROUPS:
        male: list[str] = []
        female: list[str] = []
        surnames: list[str] = []
        for loc in first_locales:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
            male += _attr(provider, "first_names_male", "first_names")
            female += _attr(provider, "first_names_female", "first_names")
        for loc in last_locales:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
            surnames += _attr(provider, "last_names_male", "male_last_names", "last_names")
        pools.append(NamePool(group, _ranked(male, group), _ranked(female, group), _ranked(surnames, group)))
    return tuple(pools)


def group_weights() -> np.ndarray:
    weights = np.array([w for _, w, _, _ in ORIGIN_GROUPS], dtype=float)
    return weights / weights.sum()


def zipf_weights(n: int, exponent: float = 0.9) -> np.ndarray:
    """Name frequencies are heavy-tailed: a few very common names make same-name pairs likely."""
    ranks = np.arange(1, n + 1, dtype=float)
    w = ranks**-exponent
    return w / w.sum()


UK_STREET_SUFFIXES: tuple[str, ...] = (
    "Road",
    "Street",
    "Lane",
    "Grove",
    "Close",
    "Gardens",
    "Place",
    "Terrace",
    "Way",
    "Walk",
    "Avenue",
    "Crescent",
    "Square",
    "Rise",
    "Mews",
    "Row",
    "Hill",
    "Park",
)

ESTATE_BLOCK_SUFFIXES: tuple[str, ...] = ("House", "Court", "Point", "Tower", "Lodge", "Buildings")
