"""A frequency or magnitude table with all its margins, and the additive relations between its cells.

A cell's key has one entry per grouping dimension: a category, or `TOTAL` where the cell is the margin
over that dimension. The table is complete: every combination of the categories seen in the margins
has a cell, with zero where no record falls (so an attacker gains nothing from a missing row). The
relations (each margin equals the sum of the cells it totals) are what secondary suppression defends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

TOTAL: None = None
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    """What the engine computed for one cell: enough for every rule, nothing about any one record."""

    count: int  # records in the cell
    units: int  # distinct people or families contributing (thresholds protect these)
    total: float  # sum of the measure (the count itself for count tables)
    top: tuple[float, ...] = ()  # largest contributions by unit, descending (magnitude tables)
    key_sum: int = 0  # sum of the records' permanent record keys

    @classmethod
    def empty(cls) -> Cell:
        return cls(0, 0, 0.0)


@dataclass
class Table:
    dims: tuple[str, ...]
    cells: dict[Key, Cell]
    categories: tuple[tuple[Any, ...], ...] = field(default=())

    @classmethod
    def complete(cls, dims: Iterable[str], computed: dict[Key, Cell]) -> Table:
        """Fill in the zero cells: every combination of each dimension's categories, with margins."""
        dims = tuple(dims)
        categories = categories_of(len(dims), computed)
        cells = {key: computed.get(key, Cell.empty()) for key in all_keys(categories)}
        return cls(dims, cells, categories)

    def interior(self) -> list[Key]:
        return [k for k in self.cells if TOTAL not in k]

    def relations(self) -> list[tuple[Key, list[Key]]]:
        """(margin, the cells it totals) for every margin and every dimension it totals over."""
        out = []
        for key in self.cells:
            for i, value in enumerate(key):
                if value is TOTAL:
                    out.append((key, [(*key[:i], c, *key[i + 1 :]) for c in self.categories[i]]))
        return out


def categories_of(dims: int, keys: Iterable[Key]) -> tuple[tuple[Any, ...], ...]:
    """Each dimension's categories, in a stable order, from the keys the engine returned."""
    cats: list[set[Any]] = [set() for _ in range(dims)]
    for key in keys:
        for i, value in enumerate(key):
            if value is not TOTAL:
                cats[i].add(value)
    return tuple(tuple(sorted(c, key=_order)) for c in cats)


def all_keys(categories: tuple[tuple[Any, ...], ...]) -> Iterator[Key]:
    return itertools.product(*[(*c, TOTAL) for c in categories])


def size(categories: Iterable[int]) -> int:
    """How many cells, margins included, a table with these category counts has."""
    n = 1
    for c in categories:
        n *= c + 1
    return n


def totals_in(key: Key) -> int:
    return sum(1 for v in key if v is TOTAL)


def _order(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))
