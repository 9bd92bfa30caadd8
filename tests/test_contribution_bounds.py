"""Per-unit contribution bounds in the compiled table SQL, against sums computed here in Python.

An event table ranks each unit's cells and keeps at most `max_cells_per_unit` of them; the ranking is
left out when no unit could reach more cells than that (`cells_within_reach`). Both statements run on
DuckDB (the analysis store's engine) over random rent transactions; the truth is the distinct units
and clamped per-unit sums of each cell, computed from the same rows without the compiler.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.aggregates.compile import DIM, cells_within_reach, compile_aggregate
from gateway.analysis import schema

TABLE = schema.rent_transactions
BOUND = schema.DATASETS["rent_transactions"].bound("amount")
MONTHS = ["2025-01", "2025-02", "2025-03"]
TYPES = ["charge", "payment"]

row_strategy = st.tuples(
    st.integers(1, 6),  # unit
    st.sampled_from(MONTHS),
    st.sampled_from(TYPES),
    # Quarters, beyond the bound on both sides: exact in the column's single precision, so sums compare.
    st.integers(-400, 16_000).map(lambda q: q / 4),
)


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("duckdb:///:memory:")
    schema.metadata.create_all(eng, tables=[TABLE])
    yield eng
    eng.dispose()


def _load(engine: sa.Engine, rows: list[tuple[int, str, str, float]]) -> None:
    with engine.begin() as conn:
        conn.execute(TABLE.delete())
        conn.execute(
            TABLE.insert(),
            [
                {
                    "event_id": i,
                    "record_key": (i * 37) % 256,
                    "unit_id": unit,
                    "month": month,
                    "type": kind,
                    "amount": amount,
                    "ward": "Ward A",
                    "arrears_band": "none",
                }
                for i, (unit, month, kind, amount) in enumerate(rows)
            ],
        )


def _run(engine: sa.Engine, statement: sa.Select, group_by: list[str]) -> dict[tuple, tuple[int, float]]:
    with engine.connect() as conn:
        out = {}
        for r in conn.execute(statement):
            m = r._mapping
            out[tuple(m[DIM.format(i)] for i in range(len(group_by)))] = (m["units"], round(m["total"], 6))
        return out


def _truth(rows: list[tuple[int, str, str, float]], group_by: list[str]) -> dict[tuple, tuple[int, float]]:
    per_unit: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for unit, month, kind, amount in rows:
        cell = tuple({"month": month, "type": kind}[g] for g in group_by)
        per_unit[cell][unit] += amount
    return {
        cell: (len(units), round(sum(min(max(s, 0.0), BOUND) for s in units.values()), 6))
        for cell, units in per_unit.items()
    }


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(row_strategy, min_size=1, max_size=40),
    group_by=st.sampled_from([["month"], ["type"], ["month", "type"]]),
    cap=st.integers(1, 8),
)
def test_a_table_without_ranking_is_exact_when_no_unit_can_exceed_the_bound(engine, rows, group_by, cap):
    _load(engine, rows)
    spec = dataclasses.replace(schema.DATASETS["rent_transactions"], max_cells_per_unit=cap)
    domains = {"month": sorted({r[1] for r in rows}), "type": sorted({r[2] for r in rows})}
    reach = cells_within_reach(spec, group_by, [domains[g] for g in group_by], {})
    assert reach == math.prod(len(domains[g]) for g in group_by)  # NOT NULL columns: no extra cell
    ranked = _run(engine, compile_aggregate(spec, group_by, {}, "sum", "amount"), group_by)
    chosen = _run(engine, compile_aggregate(spec, group_by, {}, "sum", "amount", reach), group_by)
    if reach <= cap:  # no ranking in `chosen`, and none needed: both are the plain truth
        assert "row_number" not in str(compile_aggregate(spec, group_by, {}, "sum", "amount", reach))
        assert chosen == ranked == _truth(rows, group_by)
    else:  # ranked either way: the same statement, each unit in at most `cap` cells
        assert chosen == ranked
        assert sum(units for units, _ in chosen.values()) <= cap * len({r[0] for r in rows})


def test_reach_counts_the_domain_a_list_filter_leaves_and_ignores_ranges():
    spec = schema.DATASETS["rent_transactions"]
    domains: list[Any] = [MONTHS, TYPES]
    assert cells_within_reach(spec, ["month", "type"], domains, {}) == 6
    assert cells_within_reach(spec, ["month", "type"], domains, {"type": {"in": ["charge"]}}) == 3
    ranged = {"month": {"range": {"gte": "2025-02"}}}
    assert cells_within_reach(spec, ["month", "type"], domains, ranged) == 6  # an upper bound only
    # A filter on a field not grouped by does not change which cells exist.
    assert cells_within_reach(spec, ["type"], [TYPES], {"month": {"in": ["2025-01"]}}) == 2


def test_the_demo_rent_table_by_month_and_type_needs_no_ranking():
    """rent_transactions bounds a tenancy to 24 cells: a year of months by two types reaches 24."""
    spec = schema.DATASETS["rent_transactions"]
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    assert cells_within_reach(spec, ["month", "type"], [months, TYPES], {}) == spec.max_cells_per_unit
    thirteen = [*months, "2026-01"]
    assert cells_within_reach(spec, ["month", "type"], [thirteen, TYPES], {}) > spec.max_cells_per_unit
