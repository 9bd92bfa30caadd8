"""Per-principal and per-role limits: an analyst flood is refused 429 (with Retry-After, audited) once
it holds its allowance, while caseworkers are still served. In-flight requests are held through the
limiter itself, so the tests do not depend on timing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.app import create_app
from gateway.api.rate_limits import Limit, Limiter, Limits, OverLimit, load_limits
from gateway.config import Settings
from tests.conftest import bearer

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def gateway(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        yield c, tmp_path


def test_the_reviewed_limits_file_loads_and_caps_analysts_below_the_worker_pool():
    limits = load_limits(POLICIES)
    role, analyst = limits.for_roles(["analyst"])
    assert role == "analyst" and analyst.role_concurrent is not None
    assert analyst.role_concurrent < 40 // 2  # the worker pool (40 threads) stays mostly free for others
    assert limits.cost("/v1/aggregates") > limits.cost("/v1/persons/P1/flags") == 1


def test_an_analyst_over_their_concurrency_gets_429_with_retry_after_and_is_audited(gateway):
    c, root = gateway
    limiter: Limiter = c.app.state.services.limiter
    _, limit = limiter.limits.for_roles(["analyst"])
    held = [limiter.acquire("an.priya", ["analyst"], "/v1/aggregates") for _ in range(limit.concurrent)]
    refused = c.get("/v1/me", headers=bearer(root, "an.priya"))
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) >= 1 and "in progress" in refused.json()["detail"]
    # a caseworker is served meanwhile
    assert c.get("/v1/me", headers=bearer(root, "cw.alice")).status_code == 200
    events = c.get("/v1/audit/events", headers=bearer(root, "ig.olu")).json()["events"]
    audited = next(e for e in events if e["id"] == refused.headers["x-audit-id"])
    assert audited["status"] == 429 and audited["decision"] == "deny" and audited["actor"] == "an.priya"
    for lease in held:
        limiter.release(lease)
    assert c.get("/v1/me", headers=bearer(root, "an.priya")).status_code == 200
    assert limiter.in_flight("an.priya") == 0, "a finished request gives its slot back"


def test_the_analyst_role_as_a_whole_cannot_fill_the_gateway(gateway):
    c, root = gateway
    limiter: Limiter = c.app.state.services.limiter
    _, limit = limiter.limits.for_roles(["analyst"])
    assert limit.role_concurrent
    held = [
        limiter.acquire(f"an.other{i}", ["analyst"], "/v1/aggregates") for i in range(limit.role_concurrent)
    ]
    refused = c.get("/v1/me", headers=bearer(root, "an.priya"))  # priya has nothing in flight herself
    assert refused.status_code == 429 and "all analysts together" in refused.json()["detail"]
    assert c.get("/v1/caseload", headers=bearer(root, "cw.alice")).status_code != 429
    for lease in held:
        limiter.release(lease)


def test_the_cost_allowance_refills_over_time():
    now = [0.0]
    limiter = Limiter(Limits(Limit(8, 60.0), {}, {"/v1/aggregates": 10}), clock=lambda: now[0])
    for _ in range(6):
        limiter.release(limiter.acquire("a", [], "/v1/aggregates"))
    with pytest.raises(OverLimit) as refused:
        limiter.acquire("a", [], "/v1/aggregates")
    assert refused.value.retry_after == 10  # 10 units at one unit a second
    now[0] = 10.0
    limiter.release(limiter.acquire("a", [], "/v1/aggregates"))


@given(st.lists(st.tuples(st.sampled_from(["acquire", "release"]), st.sampled_from(["a", "b"])), max_size=60))
def test_in_flight_never_exceeds_the_limit_nor_goes_negative(steps):
    limiter = Limiter(Limits(Limit(2, 1e9, role_concurrent=3), {"r": Limit(2, 1e9, role_concurrent=3)}, {}))
    leases: dict[str, list] = {"a": [], "b": []}
    for op, who in steps:
        if op == "acquire":
            try:
                leases[who].append(limiter.acquire(who, ["r"], "/v1/me"))
            except OverLimit:
                assert len(leases[who]) == 2 or len(leases["a"]) + len(leases["b"]) == 3
        elif leases[who]:
            limiter.release(leases[who].pop())
        assert limiter.in_flight(who) == len(leases[who]) <= 2
        assert len(leases["a"]) + len(leases["b"]) <= 3
