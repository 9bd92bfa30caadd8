"""Disclosure control for one aggregate table, in the order the rules apply:

primary suppression (threshold, dominance) -> secondary suppression with the LP audit -> cell-key
perturbation -> rounding. Pure: the table and the rules in, the released cells and a report out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.privacy.perturbation import cell_key, count_noise, magnitude_noise
from gateway.privacy.rounding import round_to_base
from gateway.privacy.rules import DisclosureRules
from gateway.privacy.suppression import Suppression, primary_suppression, secondary_suppression
from gateway.privacy.table import Key, Table

Measure = Literal["count", "sum", "mean"]


@dataclass(frozen=True)
class Released:
    key: Key
    value: float | int | None
    status: str  # ok | suppressed | perturbed | rounded


@dataclass(frozen=True)
class Release:
    cells: list[Released]
    suppression: Suppression
    report: dict[str, Any]


def measured(table: Table, measure: Measure) -> dict[Key, float]:
    """The additive value of each cell: counts for count tables, sums for sums and means (a mean's
    cell is protected through its sum, which is what the margins constrain)."""
    return {k: float(c.count if measure == "count" else c.total) for k, c in table.cells.items()}


def protect(table: Table, measure: Measure, rules: DisclosureRules) -> Release:
    magnitude = measure != "count"
    values = measured(table, measure)
    small, dominated = primary_suppression(
        table, rules.threshold, magnitude, (rules.nk_n, rules.nk_k), rules.p_percent
    )

    def margin_of(k: Key) -> float:
        return 2 * rules.p_percent * values[k] if magnitude else float(rules.margin)

    def lower_bound(k: Key) -> float:
        # An attacker knows zeros are published, so a hidden count is at least 1 (unless it is 0).
        return min(1.0, values[k]) if not magnitude else 0.0

    secondary, intervals = secondary_suppression(table, values, small | dominated, margin_of, lower_bound)
    suppression = Suppression(
        frozenset(small), frozenset(dominated), frozenset(secondary), intervals, margin_of
    )
    hidden = suppression.cells
    released: list[Released] = []
    for key, cell in table.cells.items():
        if key in hidden:
            released.append(Released(key, None, "suppressed"))
            continue
        if cell.count == 0:
            released.append(Released(key, 0 if measure != "mean" else None, "ok"))
            continue
        ck = cell_key(cell.key_sum, rules.key_space)
        if measure == "count":
            value: float | int = cell.count
            if rules.perturbation:
                value += count_noise(cell.count, ck, rules.threshold, rules.max_noise, rules.key_space)
            if rules.rounding_base:
                value = round_to_base(int(value), rules.rounding_base, rules.threshold)
        else:
            total = cell.total
            if rules.perturbation and cell.top:
                total += magnitude_noise(cell.top[0], ck, rules.sum_noise, rules.key_space)
            value = round(total) if measure == "sum" else round(total / cell.count, 2)
        status = "perturbed" if rules.perturbation else ("rounded" if rules.rounding_base else "ok")
        released.append(Released(key, value, status))
    fired: dict[str, list[int]] = {"suppression": [], "cell_key_perturbation": [], "rounding": []}
    for i, (r, cell) in enumerate(zip(released, table.cells.values(), strict=True)):
        if r.status == "suppressed":
            fired["suppression"].append(i)
        elif cell.count:
            if rules.perturbation and (measure == "count" or cell.top):
                fired["cell_key_perturbation"].append(i)
            if measure == "count" and rules.rounding_base:
                fired["rounding"].append(i)
    report = {
        "rules": _rules_applied(rules, measure),
        "fired": {rule: rows for rule, rows in fired.items() if rows},
        "suppressed": {
            "cells": len(hidden),
            "below_threshold": len(small),
            "dominance": len(dominated),
            "secondary": len(secondary),
        },
        "lp_check": {
            "suppressed_cells_checked": len(intervals),
            "margin": rules.margin if not magnitude else f"{2 * rules.p_percent:.0%} of the cell",
            "passed": suppression.protected,
        },
    }
    return Release(released, suppression, report)


def _rules_applied(rules: DisclosureRules, measure: Measure) -> dict[str, Any]:
    out: dict[str, Any] = {
        "query_set_min": rules.query_set_min,
        "threshold": rules.threshold,
        "secondary_suppression": {"method": "lp_audit", "protection_margin": rules.margin},
    }
    if rules.perturbation:
        out["cell_key_perturbation"] = (
            {"max_noise": rules.max_noise, "key_space": rules.key_space}
            if measure == "count"
            else {"fraction_of_largest": rules.sum_noise, "key_space": rules.key_space}
        )
    if measure == "count" and rules.rounding_base:
        out["rounding_base"] = rules.rounding_base
    if measure != "count":
        out["dominance"] = {"nk": [rules.nk_n, rules.nk_k], "p_percent": rules.p_percent}
    return out
