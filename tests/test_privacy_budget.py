"""The accountant and the release, as properties: spend is monotone and never passes the allowance, a
repeat costs nothing, two processes spending at once on PostgreSQL cannot overspend; the noise costs
what OpenDP says; margins add up; suppression and intervals follow the noisy values."""

from __future__ import annotations

import math
import multiprocessing as mp
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from gateway.migrations import runner as migrations
from gateway.privacy.budget import BudgetExhausted, Ledger, Scope, can_spend
from gateway.privacy.noise import add_count_noise, add_noise, cost, scale_for
from gateway.privacy.release import (
    TOTAL,
    Noisy,
    ReleaseRules,
    all_keys,
    interior_keys,
    release_cells,
    with_margins,
)


def _ledger(url: str) -> Ledger:
    migrations.upgrade(url, "gateway")
    return Ledger(create_engine(url))


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'gateway.db'}"


rhos = st.floats(min_value=0.001, max_value=0.5, allow_nan=False)


@given(spent=st.floats(0, 10), allowance=st.floats(0, 10), rho=rhos)
def test_the_rule_never_lets_spent_pass_the_allowance(spent, allowance, rho):
    if can_spend(spent, allowance, rho):
        assert spent + rho <= allowance + 1e-9


@settings(max_examples=25)
@given(st.lists(st.tuples(rhos, st.integers(0, 3)), min_size=1, max_size=30), st.floats(0.05, 2.0))
def test_spending_is_monotone_and_bounded(sqlite_url, steps, allowance):
    ledger = _ledger(sqlite_url)
    scope = Scope(f"project:test:{uuid.uuid4().hex}", allowance)
    before = 0.0
    for rho, query in steps:
        try:
            (state,), _ = ledger.spend([scope], rho, "an.test", f"q{query}")
        except BudgetExhausted:
            (state,) = ledger.states([scope])
            assert state.spent + rho > allowance - 1e-9  # refused only when it would not fit
        assert before <= state.spent <= allowance + 1e-9
        before = state.spent


def test_a_spend_from_several_scopes_is_all_or_nothing(sqlite_url):
    ledger = _ledger(sqlite_url)
    roomy, tight = Scope("project:x:roomy", 1.0), Scope("analyst:x:tight", 0.015)
    ledger.spend([roomy, tight], 0.01, "an.x", "k1")
    with pytest.raises(BudgetExhausted) as refused:
        ledger.spend([roomy, tight], 0.01, "an.x", "k2")
    assert "analyst:x:tight" in str(refused.value)
    assert [s.spent for s in ledger.states([roomy, tight])] == [pytest.approx(0.01)] * 2


def test_a_stored_answer_is_the_answer_and_is_paid_for_once(sqlite_url):
    ledger = _ledger(sqlite_url)
    scope = Scope(f"project:x:{uuid.uuid4().hex}", 1.0)
    (after_first,), first = ledger.spend([scope], 0.1, "an.x", "same", {"rows": [1]})
    # a second process computed the same query at the same moment: it gets the first answer, free
    (after_second,), second = ledger.spend([scope], 0.1, "an.x", "same", {"rows": [2]})
    assert first == second == ledger.stored("same") == {"rows": [1]}
    assert after_first.spent == after_second.spent == pytest.approx(0.1)


def _spender(url: str, scope: str, rho: float, tries: int, out: mp.Queue) -> None:
    ledger = Ledger(create_engine(url))
    ok = 0
    for i in range(tries):
        try:
            ledger.spend([Scope(scope, 1.0)], rho, "an.race", f"race-{i}")
            ok += 1
        except BudgetExhausted:
            pass
    out.put(ok)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_spending_at_once_cannot_overspend(backend, tmp_path, request):
    if backend == "postgresql":
        url = f"{request.getfixturevalue('pg_prefix')}budget".replace(
            "postgresql+psycopg", "postgresql+psycopg"
        )
    else:
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    ledger = _ledger(url)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_spender, args=(url, "project:race:one", 0.1, 15, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    granted = out.get(timeout=10) + out.get(timeout=10)
    (state,) = ledger.states([Scope("project:race:one", 1.0)])
    print(f"{backend}: {granted} spends of 0.1 granted to two processes racing for an allowance of 1.0")
    assert granted == 10 and state.spent == pytest.approx(1.0)


@given(st.floats(0.5, 30), st.floats(0.0005, 0.5))
def test_the_noise_costs_what_opendp_says(sensitivity, rho):
    assert cost(sensitivity, scale_for(sensitivity, rho)) <= rho * (1 + 1e-9)


@given(st.floats(0.5, 30), st.floats(0.0005, 0.5))
def test_count_noise_costs_what_opendp_says_and_the_same_as_continuous_noise(sensitivity, rho):
    integer = scale_for(sensitivity, rho, integer=True)
    assert cost(sensitivity, integer, integer=True) <= rho * (1 + 1e-9)
    # The discrete Gaussian's zCDP map is the continuous one's: rho = sensitivity^2 / (2 scale^2).
    assert integer == pytest.approx(sensitivity / math.sqrt(2 * rho), rel=1e-3)


def test_count_noise_is_whole_numbers_around_the_count_at_the_reported_scale():
    noisy, scale = add_count_noise([100.0] * 4000, math.sqrt(3), 0.01)
    assert scale == pytest.approx(math.sqrt(3 / 0.02), rel=1e-3)
    assert all(x == int(x) for x in noisy)
    assert len(set(noisy)) > 20, "noise, not a constant"
    mean = sum(noisy) / len(noisy)
    sd = math.sqrt(sum((x - mean) ** 2 for x in noisy) / len(noisy))
    assert abs(mean - 100) < 1.0 and 0.9 * scale < sd < 1.1 * scale
    with pytest.raises(ValueError, match="whole numbers"):
        add_count_noise([1.5], 1.0, 0.01)


def test_noise_is_added_and_its_scale_reported():
    noisy, scale = add_noise([100.0] * 2000, 1.0, 0.01)
    assert scale == pytest.approx(math.sqrt(1 / 0.02), rel=1e-3)
    mean = sum(noisy) / len(noisy)
    sd = math.sqrt(sum((x - mean) ** 2 for x in noisy) / len(noisy))
    assert abs(mean - 100) < 1.0 and 0.9 * scale < sd < 1.1 * scale


categories = st.lists(
    st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True), min_size=0, max_size=3
)


@given(categories, st.data())
def test_margins_are_sums_of_the_cells_they_total(cats, data):
    keys = interior_keys(cats)
    values = {k: data.draw(st.floats(-20, 500)) for k in keys}
    table = with_margins(cats, values, 2.0)
    assert set(table) == set(all_keys(cats))
    for key, cell in table.items():
        matching = [k for k in keys if all(w is TOTAL or w == g for w, g in zip(key, k, strict=True))]
        assert cell.value == pytest.approx(sum(values[k] for k in matching), abs=1e-6)
        assert cell.sd == pytest.approx(2.0 * math.sqrt(len(matching)))


@given(st.floats(-50, 500), st.floats(0.1, 50), st.integers(1, 20), st.sampled_from([None, 1, 5, 10]))
def test_published_counts_follow_the_noisy_value(value, sd, threshold, base):
    (cell,) = release_cells([()], "count", {(): Noisy(value, sd)}, None, ReleaseRules(threshold, base))
    if value < threshold:
        assert cell.value is None and cell.status == "suppressed"
    else:
        assert cell.value >= threshold and cell.status == "perturbed"
        assert cell.interval[0] <= cell.value <= cell.interval[1]
        assert abs(cell.value - value) <= (base or 1) / 2 + max(0, threshold - value) + 1e-9


@given(st.floats(10, 500), st.floats(0, 1e5), st.floats(0.1, 10), st.floats(1, 1000))
def test_a_mean_is_the_noisy_sum_over_the_noisy_count(count, total, count_sd, sum_sd):
    (cell,) = release_cells(
        [()], "mean", {(): Noisy(count, count_sd)}, {(): Noisy(total, sum_sd)}, ReleaseRules(10, 5)
    )
    assert cell.value == pytest.approx(round(total / count, 2), abs=0.01)
    assert cell.noise_sd >= round(sum_sd / count, 2) - 0.01
