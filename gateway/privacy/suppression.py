"""Primary and secondary cell suppression.

Primary: a cell describing fewer units than the threshold, or (for sums and means) a cell a few
contributors dominate, is withheld. Secondary: withholding one cell of a row is pointless if the row
total is published, so complementary cells are withheld until the linear-programming audit
(protection.py) shows no sensitive cell can be narrowed below the protection margin (complements were
publishable in themselves, so they need no margin of their own). Complements are
chosen to lose as little as possible: interior cells before margins, then the smallest non-zero cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.privacy.dominance import nk_dominated, p_percent_sensitive
from gateway.privacy.protection import Interval, feasible_intervals
from gateway.privacy.table import Key, Table, totals_in


class NotReleasable(ValueError):
    """No suppression pattern protects this table; it must not be released at all."""


@dataclass(frozen=True)
class Suppression:
    threshold: frozenset[Key]
    dominance: frozenset[Key]
    secondary: frozenset[Key]
    intervals: dict[Key, Interval]
    margin_of: Callable[[Key], float]

    @property
    def cells(self) -> frozenset[Key]:
        return self.threshold | self.dominance | self.secondary

    @property
    def sensitive(self) -> frozenset[Key]:
        return self.threshold | self.dominance

    @property
    def protected(self) -> bool:
        return all(self.intervals[k].width >= self.margin_of(k) for k in self.sensitive)


def primary_suppression(
    table: Table, threshold: int, magnitude: bool, nk: tuple[int, float], p: float
) -> tuple[set[Key], set[Key]]:
    """(cells under the threshold, cells failing a dominance rule). Zero cells are not suppressed."""
    small, dominated = set(), set()
    for key, cell in table.cells.items():
        if cell.count == 0:
            continue
        if cell.units < threshold:
            small.add(key)
        elif magnitude and (
            nk_dominated(cell.top, cell.total, *nk) or p_percent_sensitive(cell.top, cell.total, p)
        ):
            dominated.add(key)
    return small, dominated


def secondary_suppression(
    table: Table,
    values: Mapping[Key, float],
    primary: set[Key],
    margin_of: Callable[[Key], float],
    lower_bound: Callable[[Key], float],
    max_hidden: int = 400,
) -> tuple[set[Key], dict[Key, Interval]]:
    """Complementary suppressions that protect `primary`; returns them and every suppressed cell's
    feasible interval. Raises NotReleasable if even suppressing the margins cannot protect the table."""
    relations = table.relations()
    of_cell: dict[Key, list[int]] = defaultdict(list)
    for i, (parent, children) in enumerate(relations):
        for m in (parent, *children):
            of_cell[m].append(i)
    hidden = set(primary)

    def preference(k: Key) -> tuple:
        return (totals_in(k), values[k] == 0, values[k], repr(k))

    def complement(candidates: list[Key]) -> Key | None:
        free = [k for k in candidates if k not in hidden]
        return min(free, key=preference) if free else None

    def nearest_free(start: Key) -> Key | None:
        """The best unhidden cell sharing a relation with `start`, or failing that with any hidden
        cell reachable from it through relations (widening the search only when it must)."""
        seen, frontier = {start}, [start]
        while frontier:
            members = {m for k in frontier for i in of_cell[k] for m in (relations[i][0], *relations[i][1])}
            pick = complement(list(members))
            if pick is not None:
                return pick
            frontier = [m for m in members if m not in seen]
            seen.update(frontier)
        return None

    intervals: dict[Key, Interval] = {}
    for _ in range(len(table.cells) + 1):
        # Fast pass: a relation with exactly one hidden member gives it away by subtraction.
        changed = True
        while changed:
            changed = False
            for parent, children in relations:
                members = (parent, *children)
                if sum(1 for m in members if m in hidden) == 1:
                    pick = complement(list(children)) or complement([parent])
                    if pick is None:
                        raise NotReleasable("a suppressed cell has no cell left to hide it with")
                    hidden.add(pick)
                    changed = True
        if len(hidden) > max_hidden:
            raise NotReleasable(
                f"more than {max_hidden} cells would be suppressed; group by fewer or coarser fields"
            )
        # Only the sensitive cells need a margin (a complement was publishable in itself); and hiding
        # more cells only widens intervals, so a cell that passed stays passed.
        unchecked = [
            k for k in sorted(primary, key=repr) if k not in intervals or intervals[k].width < margin_of(k)
        ]
        intervals.update(feasible_intervals(relations, values, hidden, lower_bound, unchecked))
        failing = [k for k in unchecked if intervals[k].width < margin_of(k)]
        if not failing:
            return hidden - primary, intervals
        added = False
        for k in failing:
            pick = nearest_free(k)
            if pick is None:
                if added:
                    break  # audit again with what this round hid before giving up
                raise NotReleasable("the table cannot be protected by suppression")
            hidden.add(pick)
            added = True
    raise NotReleasable("secondary suppression did not converge")
