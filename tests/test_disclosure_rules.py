"""Property tests for the disclosure-control functions (gateway/privacy), on generated tables."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.privacy.control import protect
from gateway.privacy.dominance import nk_dominated, p_percent_sensitive
from gateway.privacy.perturbation import count_noise, perturbation_table
from gateway.privacy.protection import feasible_intervals
from gateway.privacy.query_set import QuerySetRefused, check_query_set
from gateway.privacy.rounding import round_to_base
from gateway.privacy.rules import DisclosureRules, rules_from
from gateway.privacy.table import TOTAL, Cell, Table

RULES = DisclosureRules()


@st.composite
def count_tables(draw: st.DrawFn, max_dims: int = 3) -> tuple[Table, dict]:
    """A complete count table with margins, built the way the engine's CUBE would report it."""
    dims = draw(st.integers(1, max_dims))
    sizes = [draw(st.integers(2, 4)) for _ in range(dims)]
    # Mostly small counts, so that suppression has work to do; some zeros, some large.
    value = st.one_of(st.integers(0, 9), st.integers(10, 60), st.just(0))
    interior = {key: draw(value) for key in itertools.product(*[range(n) for n in sizes])}
    keys = {key: draw(st.integers(0, 10_000)) for key in interior}
    computed: dict = {}
    for key in itertools.product(*[[*range(n), TOTAL] for n in sizes]):
        members = [k for k in interior if all(a is TOTAL or a == b for a, b in zip(key, k, strict=True))]
        n = sum(interior[k] for k in members)
        if n:
            computed[key] = Cell(n, n, float(n), (), sum(keys[k] for k in members if interior[k]))
    return Table.complete([f"d{i}" for i in range(dims)], computed), interior


@settings(max_examples=60)
@given(count_tables())
def test_no_released_count_is_below_the_threshold(case: tuple[Table, dict]) -> None:
    table, _ = case
    for r in protect(table, "count", RULES).cells:
        assert r.value is None or r.value == 0 or r.value >= RULES.threshold


@settings(max_examples=60)
@given(count_tables())
def test_no_suppressed_cell_can_be_derived_from_the_margins(case: tuple[Table, dict]) -> None:
    table, _ = case
    release = protect(table, "count", RULES)
    hidden = {r.key for r in release.cells if r.status == "suppressed"}
    values = {k: float(c.count) for k, c in table.cells.items()}
    # Independent of the LP: no relation may hide exactly one of its cells.
    for parent, children in table.relations():
        assert sum(1 for m in (parent, *children) if m in hidden) != 1
    # The LP audit, recomputed from the released pattern alone: each small cell keeps the margin.
    small = [k for k in hidden if 0 < table.cells[k].units < RULES.threshold]
    intervals = feasible_intervals(table.relations(), values, hidden, lambda k: min(1.0, values[k]), small)
    for k in small:
        assert intervals[k].width >= RULES.margin, (k, intervals[k])


@settings(max_examples=40)
@given(count_tables(max_dims=2), st.data())
def test_a_cell_gets_the_same_value_in_every_table_that_contains_it(case: tuple[Table, dict], data) -> None:
    """A published cell's value depends only on its records (count and key sum), not the query."""
    table, _ = case
    first = {r.key: r for r in protect(table, "count", RULES).cells}
    # The same records in another table: the grand total reappears as the only cell of a 0-d table.
    grand = table.cells[(TOTAL,) * len(table.dims)]
    alone = protect(Table.complete([], {(): grand}), "count", RULES).cells[0]
    in_table = first[(TOTAL,) * len(table.dims)]
    if in_table.status != "suppressed" and alone.status != "suppressed":
        assert alone.value == in_table.value
    again = {r.key: r for r in protect(table, "count", RULES).cells}
    assert again == first


@given(st.integers(0, 10_000), st.sampled_from([1, 3, 5, 10]), st.integers(0, 50))
def test_rounding_goes_to_a_multiple_of_the_base_and_never_below_the_floor(
    value: int, base: int, floor: int
) -> None:
    r = round_to_base(value, base, floor)
    if base > 1:
        assert r % base == 0
    if value >= floor:
        assert r >= floor
        assert abs(r - value) <= max(base // 2, r - value if r > value else 0)
    else:
        assert abs(r - value) <= base // 2


@given(st.integers(1, 30), st.integers(0, 5), st.sampled_from([16, 64, 256]))
def test_perturbation_rows_are_zero_mean_and_keep_counts_at_or_above_the_threshold(
    threshold: int, max_noise: int, key_space: int
) -> None:
    for row in perturbation_table(threshold, max_noise, key_space):
        assert abs(sum(row)) <= 1e-9 * key_space or abs(sum(row) / key_space) < 0.5
        assert all(abs(n) <= max_noise for n in row)
    for count in range(threshold, threshold + max_noise + 3):
        for key in range(key_space):
            assert count + count_noise(count, key, threshold, max_noise, key_space) >= threshold


def test_perturbation_table_rows_are_exactly_balanced_for_the_default_key_space() -> None:
    for offset, row in enumerate(perturbation_table(10, 2, 256)):
        m = min(offset, 2)
        assert set(row) == set(range(-m, m + 1))
        assert abs(sum(row)) <= 2 * m  # uniform to within one slot per level


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=20), st.floats(0, 1))
def test_dominance_rules_flag_a_single_contributor_and_pass_an_even_spread(
    values: list[float], _p: float
) -> None:
    total = sum(values)
    top = sorted(values, reverse=True)[:2]
    if total > 0 and len([v for v in values if v > 0]) == 1:
        assert nk_dominated(top, total, 2, 0.85)
        assert p_percent_sensitive(top, total, 0.1)
    even = [100.0] * 20
    assert not nk_dominated(even[:2], 2000.0, 2, 0.85)
    assert not p_percent_sensitive(even[:2], 2000.0, 0.1)


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 100))
def test_query_set_restriction_refuses_small_sets_and_their_complements(
    selected: int, rest: int, minimum: int
) -> None:
    population = selected + rest
    refused = selected < minimum or rest < minimum
    try:
        check_query_set(selected, population, True, minimum)
    except QuerySetRefused:
        assert refused
    else:
        assert not refused


def test_rules_take_agreement_settings_over_defaults() -> None:
    rules = rules_from({"threshold": 7, "rounding_base": None, "k": 5})
    assert rules.threshold == 7 and rules.margin == 7
    assert rules.rounding_base == 5  # unset: the documented default
    assert rules_from({"protection_margin": 15}).margin == 15
