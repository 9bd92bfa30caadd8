"""Analyst tables cost what the shared machine can give them: a table whose estimated cost is over the
configured bound is refused before it runs (nothing read, no budget spent), and tables run on threads
of their own, waiting their turn, while a caseworker's look-up is served beside them.

The estimate's truth is the dataset's row count read with plain SQL from the analysis store."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace

import gateway.api.aggregates as aggregates_route
from gateway.aggregates.cost import estimated_cost, over_bound, selectivity
from gateway.analysis.store import AnalysisStore
from gateway.api.app import create_app
from gateway.api.rate_limits import Limit, Limiter, Limits, load_limits
from gateway.config import Settings
from gateway.datadir import DataDir
from tests.conftest import bearer, fresh_budgets

JSNA = "joint_strategic_needs_assessment"


@given(
    st.integers(0, 10**9),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(1, 3),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_the_estimate_grows_with_the_rows_selected_and_the_passes(
    rows, share, narrower, passes, chosen, domain
) -> None:
    cost = estimated_cost(rows, share, passes)
    assert cost == math.ceil(rows * share) * passes and 0 <= cost <= rows * passes
    assert estimated_cost(rows, share * narrower, passes) <= cost, "a filter never makes a table dearer"
    assert estimated_cost(rows, share, passes + 1) >= cost
    kept = selectivity(chosen, domain)
    assert 0 <= kept <= 1 and (domain == 0 or kept == min(1, chosen / domain))
    assert not over_bound(cost, None) and not over_bound(cost, cost) and over_bound(cost + 1, cost)


def _limits(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "limits.yaml"
    path.write_text(
        "default: {concurrent: 16, cost_per_minute: 100000}\n"
        "roles:\n  analyst: {concurrent: 8, cost_per_minute: 100000}\n"
        f"tables: {tables}\n"
    )
    return path


def _truth(root: Path, sql: str) -> int:
    store = AnalysisStore(DataDir(root).analysis_url())
    try:
        return int(store.execute(sa.text(sql))[0][0])
    finally:
        store.dispose()


def test_a_table_over_the_cost_bound_is_refused_before_it_runs(
    analysis_borough: Path, tmp_path: Path
) -> None:
    rows = _truth(analysis_borough, "SELECT COUNT(*) FROM persons")  # the truth, counted here
    sexes = _truth(analysis_borough, "SELECT COUNT(DISTINCT sex) FROM persons WHERE sex IS NOT NULL")
    bound = rows - 1  # a whole-borough table of persons touches every row once: one over the bound
    fresh_budgets(analysis_borough)
    settings = Settings(data_dir=analysis_borough, limits_file=_limits(tmp_path, f"{{max_cost: {bound}}}"))
    priya = bearer(analysis_borough, "an.priya")
    whole = {"purpose": JSNA, "dataset": "persons", "group_by": ["ward"]}
    with TestClient(create_app(settings)) as client:
        before = client.get("/v1/budgets", headers=priya).json()
        refused = client.post("/v1/aggregates", json=whole, headers=priya)
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["error"] == "table_too_costly"
        assert f"{rows:,}" in body["detail"] and f"{bound:,}" in body["detail"], "the estimate and the bound"
        assert client.get("/v1/budgets", headers=priya).json() == before, "nothing spent on a refused table"
        event = next(
            e
            for e in client.get(
                "/v1/audit/events", params={"actor": "an.priya"}, headers=bearer(analysis_borough, "ig.olu")
            ).json()["events"]
            if e["id"] == refused.headers["x-audit-id"]
        )
        assert event["action"] == "aggregates.query" and event["rows_released"] == 0

        # One sex of the borough: about rows / sexes touched, under the bound, so it runs.
        assert math.ceil(rows / sexes) <= bound
        part = client.post("/v1/aggregates", json={**whole, "filters": {"sex": "F"}}, headers=priya)
        assert part.status_code == 200, part.text


def test_tables_wait_for_their_own_threads_while_a_caseworker_is_served(
    analysis_borough: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = aggregates_route.run_aggregate
    lock = threading.Lock()
    running, most, finished = [0], [0], [0]

    def slow_table(*args: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.4)  # a heavy table: the gap a caseworker's look-up must not wait behind
            return real(*args)
        finally:
            with lock:
                running[0] -= 1
                finished[0] += 1

    monkeypatch.setattr(aggregates_route, "run_aggregate", slow_table)
    fresh_budgets(analysis_borough)
    settings = Settings(data_dir=analysis_borough, limits_file=_limits(tmp_path, "{threads: 1}"))
    priya, alice = bearer(analysis_borough, "an.priya"), bearer(analysis_borough, "cw.alice")
    with TestClient(create_app(settings)) as client:
        child = next(
            p for p in client.get("/v1/caseload", headers=alice).json() if p["relationship"] == "allocated"
        )
        replies: list[int] = []

        def table(field: str) -> None:
            r = client.post(
                "/v1/aggregates",
                json={"purpose": JSNA, "dataset": "persons", "group_by": [field]},
                headers=priya,
            )
            replies.append(r.status_code)

        flood = [threading.Thread(target=table, args=(f,)) for f in ("ward", "sex", "age_band", "cp_plan")]
        for t in flood:
            t.start()
        deadline = time.monotonic() + 60
        while running[0] == 0 and not replies:  # the first table holds the tables' one thread
            assert time.monotonic() < deadline, "no table started"
            time.sleep(0.01)
        flags = client.get(
            f"/v1/persons/{child['person_id']}/flags",
            params={"purpose": "child_in_need_assessment"},
            headers=alice,
        )
        served_while = finished[0]
        for t in flood:
            t.join()
    assert flags.status_code == 200, flags.text
    assert served_while < len(flood), "the caseworker was answered while tables were still queued"
    assert sorted(replies) == [200] * len(flood), "queued tables wait their turn; none is refused"
    assert most[0] == 1, "never more tables at once than the tables' threads"


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are a POSIX feature")
def test_tables_run_on_their_own_threads_at_lower_cpu_priority(
    analysis_borough: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = aggregates_route.run_aggregate
    seen: list[tuple[str, int, bool]] = []

    def observed(*args: Any) -> Any:
        me = threading.current_thread()
        traced = trace.get_current_span().get_span_context().is_valid  # still in the request's trace
        seen.append((me.name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), traced))
        return real(*args)

    monkeypatch.setattr(aggregates_route, "run_aggregate", observed)
    fresh_budgets(analysis_borough)
    requests_at = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    settings = Settings(data_dir=analysis_borough, limits_file=_limits(tmp_path, "{threads: 2, nice: 7}"))
    with TestClient(create_app(settings)) as client:
        for field in ("ward", "sex"):
            r = client.post(
                "/v1/aggregates",
                json={"purpose": JSNA, "dataset": "persons", "group_by": [field]},
                headers=bearer(analysis_borough, "an.priya"),
            )
            assert r.status_code == 200, r.text
    assert len(seen) == 2
    for name, priority, traced in seen:
        assert name.startswith("tables"), f"a table ran on {name}, not on the tables' own threads"
        assert priority == min(19, requests_at + 7)
        assert traced


def test_a_nice_outside_0_to_19_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nice must be 0 to 19"):
        load_limits(tmp_path, _limits(tmp_path, "{nice: 25}"))


def test_a_table_waits_for_caseworkers_in_flight_and_never_forever() -> None:
    """The order of events, not their timing: a table's wait ends after the caseworker's request ends,
    and a caseworker request that never ends holds a table back for `yield_seconds` at most."""
    limiter = Limiter(Limits(Limit(8, 1e9), {"caseworker": Limit(8, 1e9)}, {}))
    order: list[str] = []

    async def scenario() -> None:
        lease = limiter.acquire("cw.alice", ["caseworker"], "/v1/persons/P1/flags")

        async def caseworker_finishes() -> None:
            await anyio.sleep(0.2)
            order.append("caseworker answered")
            limiter.release(lease)

        async with anyio.create_task_group() as tg:
            tg.start_soon(caseworker_finishes)
            await limiter.yield_to(["caseworker"], seconds=30)
            order.append("table started")

        stuck = limiter.acquire("cw.ben", ["caseworker"], "/v1/persons/P2/flags")
        waited = await limiter.yield_to(["caseworker"], seconds=0.1)
        order.append(f"table started after {'at least' if waited >= 0.1 else 'less than'} the bound")
        limiter.release(stuck)
        analyst = limiter.acquire("an.priya", ["analyst"], "/v1/aggregates")
        assert await limiter.yield_to(["caseworker"], seconds=30) < 30, (
            "another role's requests do not hold it"
        )
        limiter.release(analyst)

    anyio.run(scenario)
    assert order == ["caseworker answered", "table started", "table started after at least the bound"]
