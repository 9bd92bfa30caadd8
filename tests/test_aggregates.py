"""`POST /v1/aggregates` on the linked 20k borough: the analysis store, the tables, the refusals."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.analysis.store import AnalysisStore
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from tests.conftest import bearer, fresh_budgets

JSNA = "joint_strategic_needs_assessment"


@pytest.fixture(scope="module")
def client(analysis_borough: Path) -> TestClient:
    fresh_budgets(analysis_borough)
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as c:
        yield c


def post(client: TestClient, root: Path, body: dict[str, Any], user: str = "an.priya") -> Any:
    return client.post("/v1/aggregates", json=body, headers=bearer(root, user))


def truth(root: Path, sql: str) -> list[tuple]:
    """What the table really holds, read straight from the analysis store (as the gateway's engine
    does: one process may not open a DuckDB file with two configurations)."""
    store = AnalysisStore(DataDir(root).analysis_url())
    try:
        return [tuple(r) for r in store.execute(sa.text(sql))]
    finally:
        store.dispose()


def audit_event(client: TestClient, root: Path, audit_id: str) -> dict:
    r = client.get(
        "/v1/audit/events", params={"actor": "an.priya", "limit": 50}, headers=bearer(root, "ig.olu")
    )
    assert r.status_code == 200, r.text
    return next(e for e in r.json()["events"] if e["id"] == audit_id)


def cells(reply: dict, dims: list[str]) -> dict[tuple, dict]:
    return {tuple(r[d] for d in dims): r for r in reply["rows"]}


# --- the analysis store matches the departmental stores ---------------------------------------------
def test_flags_in_the_analysis_store_match_the_stores(analysis_borough: Path) -> None:
    dd = DataDir(analysis_borough)
    as_of = dt.date.fromisoformat(dd.read_manifest()["as_of"])
    index = sa.create_engine(dd.index_url())
    with index.connect() as conn:
        person = {
            (s, lid): p
            for s, lid, p in conn.execute(sa.text("SELECT source, local_id, person_id FROM index_xref"))
        }
    csc = sa.create_engine(dd.store_urls()["childrens_social_care"])
    with csc.connect() as conn:
        on_plan = conn.execute(
            sa.text(
                "SELECT cppl_person_id FROM ssd_cp_plans WHERE cppl_cp_plan_start_date <= :d "
                "AND (cppl_cp_plan_end_date IS NULL OR cppl_cp_plan_end_date >= :d)"
            ),
            {"d": as_of.isoformat()},
        ).scalars()
        expected_cp = {person[("childrens_social_care", pid)] for pid in on_plan}
    housing = sa.create_engine(dd.store_urls()["housing"])
    with housing.connect() as conn:
        in_arrears = conn.execute(
            sa.text(
                "SELECT tp.tp_person_ref FROM hsg_tenancy_persons tp "
                "JOIN hsg_rent_accounts ra ON ra.ra_tenancy_ref = tp.tp_tenancy_ref "
                "WHERE ra.ra_arrears_band IS NOT NULL AND ra.ra_arrears_band <> 'none'"
            )
        ).scalars()
        expected_arrears = {person[("housing", pid)] for pid in in_arrears}
    ((persons, cp, arrears),) = truth(
        analysis_borough,
        "SELECT count(*), count(*) FILTER (cp_plan), count(*) FILTER (rent_arrears) FROM persons",
    )
    assert persons == len(set(person.values()))
    assert cp == len(expected_cp) > 0
    assert arrears == len(expected_arrears) > 0
    # Nothing that identifies a person is stored: no index ids, no names, no dates of birth.
    columns = {c for (c,) in truth(analysis_borough, "SELECT column_name FROM information_schema.columns")}
    assert not columns & {"person_id", "first_name", "last_name", "dob", "postcode", "local_id", "nhs_number"}


def test_record_keys_are_permanent_across_rebuilds(analysis_borough: Path) -> None:
    before = AnalysisStore(DataDir(analysis_borough).analysis_url()).record_keys()
    from gateway.analysis.build import build_analysis

    build_analysis(DataDir(analysis_borough))
    after = AnalysisStore(DataDir(analysis_borough).analysis_url()).record_keys()
    assert before == after and len(after) > 10_000


# --- tables -----------------------------------------------------------------------------------------
SIGMAS = 6  # a published value further than this many noise sds from the truth is a bug, not bad luck


def within_noise(row: dict, true: float, rounding: int = 5) -> bool:
    return abs(row["value"] - true) <= SIGMAS * row["noise_sd"] + rounding / 2 + 0.01


def test_a_two_way_table_has_every_cell_and_margin_and_is_useful(
    client: TestClient, analysis_borough: Path
) -> None:
    """The README's first table: complete, noisy within its stated uncertainty, and not hidden."""
    r = post(
        client, analysis_borough, {"purpose": JSNA, "dataset": "persons", "group_by": ["ward", "cp_plan"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    wards = {w for (w,) in truth(analysis_borough, "SELECT DISTINCT ward FROM persons")}
    got = cells(body, ["ward", "cp_plan"])
    assert set(got) == {(w, f) for w in (*wards, None) for f in (False, True, None)}
    true: dict[tuple, int] = {}
    for w, f, n in truth(
        analysis_borough, "SELECT ward, cp_plan, count(*) FROM persons GROUP BY CUBE (ward, cp_plan)"
    ):
        true[(w, f)] = n
    hidden_people = 0
    for key, row in got.items():
        assert row["status"] in {"suppressed", "perturbed"}
        if row["status"] == "suppressed":
            assert row["value"] is None and row["interval_95"] is None
            hidden_people += true.get(key, 0) if None not in key else 0
            continue
        assert row["value"] >= 10 and row["value"] % 5 == 0
        low, high = row["interval_95"]
        assert low <= row["value"] <= high and row["noise_sd"] > 0
        assert within_noise(row, true.get(key, 0)), (key, row, true.get(key, 0))
    people = true[(None, None)]
    print(f"people in hidden cells: {hidden_people} of {people} ({hidden_people / people:.1%})")
    assert hidden_people / people <= 0.05
    assert body["disclosure"]["agreement_id"] == "AGR-INS-002"
    assert "differential privacy" in body["disclosure"]["mechanism"]
    assert body["disclosure"]["budget"]["spent_by_this_table_rho"] == 0.01
    assert body["audit_id"]


def test_the_same_table_asked_again_or_rewritten_is_the_same_answer_and_free(
    client: TestClient, analysis_borough: Path
) -> None:
    base = {"purpose": JSNA, "dataset": "persons", "group_by": ["ward"], "project": "repeats"}
    first = post(client, analysis_borough, {**base, "filters": {"sex": "F"}}).json()
    spent = {s["scope"]: s["spent_rho"] for s in first["disclosure"]["budget"]["scopes"]}
    for form in ("F", ["F"], ["F", "F"]):
        again = post(client, analysis_borough, {**base, "filters": {"sex": form}}).json()
        assert again["rows"] == first["rows"]
        assert again["disclosure"]["budget"]["repeat_of_an_earlier_table"] is True
        assert {s["scope"]: s["spent_rho"] for s in again["disclosure"]["budget"]["scopes"]} == spent


def test_means_are_protected_ratios(client: TestClient, analysis_borough: Path) -> None:
    body = {"purpose": JSNA, "dataset": "persons", "measure": "mean", "field": "housing_benefit_weekly"}
    r = post(client, analysis_borough, {**body, "group_by": ["sex"]})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["disclosure"]["rules"]["contribution_bound"] == 400
    true = dict(
        truth(
            analysis_borough,
            "SELECT sex, avg(least(housing_benefit_weekly, 400)) FROM persons "
            "WHERE housing_benefit_weekly IS NOT NULL GROUP BY CUBE (sex)",
        )
    )
    published = [row for row in reply["rows"] if row["status"] != "suppressed"]
    assert published
    for row in published:
        assert abs(row["value"] - true[row["sex"]]) <= SIGMAS * row["noise_sd"] + 0.01, row
    r = post(
        client,
        analysis_borough,
        {"purpose": JSNA, "dataset": "rent_transactions", "measure": {"sum": "amount"}, "group_by": ["type"]},
    )
    assert r.status_code == 200 and r.json()["disclosure"]["measure"] == "sum(amount)"


def test_event_tables_count_distinct_people_not_rows(client: TestClient, analysis_borough: Path) -> None:
    """A count of an event dataset counts people, each once per cell however many rows they have. The
    whole-table count is one cell: distinct people, far from the row count. A margin is the sum of the
    cells it totals (docs/disclosure-control.md), so the total of a table by outcome counts a person
    once per outcome they had: its truth is the number of distinct (person, outcome) pairs."""
    whole = post(client, analysis_borough, {"purpose": JSNA, "dataset": "referrals", "group_by": []})
    assert whole.status_code == 200, whole.text
    ((people,),) = truth(analysis_borough, "SELECT count(DISTINCT unit_id) FROM referrals")
    ((rows,),) = truth(analysis_borough, "SELECT count(*) FROM referrals")
    (cell,) = whole.json()["rows"]
    assert rows - people > 8 * cell["noise_sd"], "the test needs people with several referrals"
    assert within_noise(cell, people)
    by_outcome = post(
        client, analysis_borough, {"purpose": JSNA, "dataset": "referrals", "group_by": ["outcome"]}
    )
    assert by_outcome.status_code == 200, by_outcome.text
    per_outcome = dict(
        truth(analysis_borough, "SELECT outcome, count(DISTINCT unit_id) FROM referrals GROUP BY outcome")
    )
    ((pairs,),) = truth(
        analysis_borough, "SELECT count(*) FROM (SELECT DISTINCT unit_id, outcome FROM referrals) p"
    )
    published = {row["outcome"]: row for row in by_outcome.json()["rows"]}
    for outcome, true in per_outcome.items():
        assert within_noise(published[outcome], true), outcome
    assert within_noise(published[None], pairs)
    assert by_outcome.json()["disclosure"]["rules"]["max_cells_per_unit"] == 4


# --- refusals, each audited -------------------------------------------------------------------------
BAD = [
    ({"purpose": JSNA, "dataset": "persons", "group_by": ["nhs_number"]}, 400, "unknown_field"),
    ({"purpose": JSNA, "dataset": "persons", "group_by": ["exclusion"]}, 403, "field_not_permitted"),
    (
        {"purpose": JSNA, "dataset": "persons", "group_by": ["ward", "sex", "age_band", "cp_plan", "sen"]},
        422,
        "invalid_request",
    ),
    (
        {"purpose": JSNA, "dataset": "persons", "group_by": ["ward; DROP TABLE persons"]},
        422,
        "invalid_request",
    ),
    ({"purpose": JSNA, "dataset": 'persons" --', "group_by": ["ward"]}, 422, "invalid_request"),
    ({"purpose": JSNA, "dataset": "persons", "filters": {"ward": "x' OR '1'='1"}}, 400, "unknown_value"),
    ({"purpose": JSNA, "dataset": "persons", "filters": {"cp_plan": "true"}}, 400, "bad_filter"),
    ({"purpose": JSNA, "dataset": "persons", "measure": "sum", "field": "ward"}, 400, "not_numeric"),
    ({"purpose": JSNA, "dataset": "ssd_person", "group_by": ["ward"]}, 400, "unknown_dataset"),
    ({"purpose": "child_protection_enquiry", "dataset": "persons"}, 403, "forbidden"),
    # the bounded query language: no numbers as categories, no arbitrary ranges, short lists
    ({"purpose": JSNA, "dataset": "persons", "group_by": ["housing_benefit_weekly"]}, 400, "not_a_category"),
    (
        {
            "purpose": JSNA,
            "dataset": "persons",
            "filters": {"housing_benefit_weekly": {"gte": "100", "lt": "101"}},
        },
        400,
        "not_a_category",
    ),
    (
        {"purpose": JSNA, "dataset": "persons", "filters": {"housing_benefit_weekly": {"gte": 100.5}}},
        422,
        "invalid_request",
    ),
    (
        {"purpose": JSNA, "dataset": "families", "filters": {"children_count": [1, 2, 3]}},
        422,
        "invalid_request",
    ),
    (
        {"purpose": JSNA, "dataset": "persons", "filters": {"age_band": {"gte": "0-4"}}},
        400,
        "range_not_allowed",
    ),
    (
        {"purpose": JSNA, "dataset": "referrals", "filters": {"month": {"gte": "1999-13"}}},
        400,
        "unknown_value",
    ),
    (
        {"purpose": JSNA, "dataset": "persons", "filters": {"ward": [f"W{i}" for i in range(13)]}},
        422,
        "invalid_request",
    ),
    (
        {
            "purpose": JSNA,
            "dataset": "persons",
            "filters": {"ward": ["Priory", "Tannery"], "age_band": ["0-4"]},
            "group_by": ["sex"],
            "extra": 1,
        },
        422,
        "invalid_request",
    ),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD)
def test_bad_requests_are_refused_with_a_reason_and_audited(
    client: TestClient, analysis_borough: Path, body: dict, status: int, code: str
) -> None:
    before = client.get("/v1/budgets", headers=bearer(analysis_borough, "an.priya")).json()["budgets"]
    r = post(client, analysis_borough, body)
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and r.json()["detail"]
    mine = audit_event(client, analysis_borough, r.headers["x-audit-id"])
    assert mine["decision"] == "deny" and mine["rows_released"] == 0
    assert "request" in mine["disclosure_applied"]
    # A refusal spends nothing.
    assert client.get("/v1/budgets", headers=bearer(analysis_borough, "an.priya")).json()["budgets"] == before
    # The store is intact: no text from the request ever ran as SQL.
    assert truth(analysis_borough, "SELECT count(*) FROM persons")[0][0] > 1000


def test_a_caseworker_cannot_ask_for_tables(client: TestClient, analysis_borough: Path) -> None:
    r = post(client, analysis_borough, {"purpose": JSNA, "dataset": "persons"}, user="cw.alice")
    assert r.status_code == 403


def test_the_released_cells_are_in_the_audit_event_before_the_reply(
    client: TestClient, analysis_borough: Path
) -> None:
    r = post(client, analysis_borough, {"purpose": JSNA, "dataset": "persons", "group_by": ["sex"]})
    assert r.status_code == 200
    event = audit_event(client, analysis_borough, r.json()["audit_id"])
    released = event["disclosure_applied"]
    assert event["decision"] == "allow" and event["agreement_id"] == "AGR-INS-002"
    assert event["fields_released"] == ["sex"]
    assert [c[-2:] for c in released["cells"]] == [[row["value"], row["status"]] for row in r.json()["rows"]]
    assert released["request"]["group_by"] == ["sex"]
    assert released["budget"]["scopes"][0]["spent_rho"] > 0  # every spend is in the audit event
    assert json.dumps(released)  # serialisable as stored


def test_a_spent_budget_refuses_further_tables_with_its_state(
    client: TestClient, analysis_borough: Path
) -> None:
    """At the agreement's defaults (0.01 a table, 1.0 for an analyst) the 101st distinct table is
    refused, with what is left; the refusal is audited and releases nothing. Repeats stay free."""
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import DemoUser

    user = DemoUser(id="an.budget", name="Budget", roles=("analyst",), department="insight", team="INS01")
    who = {"Authorization": f"Bearer {sign_token(analysis_borough, user)}"}
    wards = [w for (w,) in truth(analysis_borough, "SELECT DISTINCT ward FROM persons ORDER BY 1")]
    asked = [
        {"purpose": JSNA, "dataset": "persons", "group_by": [g], "filters": {"ward": w}, "project": "spend"}
        for w in wards
        for g in ("sex", "age_band", "cp_plan", "rent_arrears", "early_help")
    ][:101]
    assert len(asked) == 101
    other = post(client, analysis_borough, {"purpose": JSNA, "dataset": "persons", "project": "someone-else"})
    assert other.status_code == 200  # another analyst's spend: IG officers see it, an.budget does not
    statuses = [client.post("/v1/aggregates", json=body, headers=who).status_code for body in asked]
    assert statuses[:100] == [200] * 100
    refused = client.post("/v1/aggregates", json=asked[100], headers=who)
    assert refused.status_code == 403 and refused.json()["error"] == "budget_exhausted"
    assert "left" in refused.json()["detail"] and "analyst:AGR-INS-002:an.budget" in refused.json()["detail"]
    event = client.get(
        "/v1/audit/events",
        params={"actor": "an.budget", "limit": 1},
        headers=bearer(analysis_borough, "ig.olu"),
    ).json()["events"][0]
    assert event["id"] == refused.headers["x-audit-id"] and event["rows_released"] == 0
    again = client.post("/v1/aggregates", json=asked[0], headers=who)  # asked before: still answered
    assert again.status_code == 200 and again.json()["disclosure"]["budget"]["repeat_of_an_earlier_table"]
    mine = client.get("/v1/budgets", headers=who).json()
    analyst_scope = next(b for b in mine["budgets"] if b["scope"] == "analyst:AGR-INS-002:an.budget")
    assert mine["scope"] == "yours" and analyst_scope["remaining_rho"] == pytest.approx(0.0, abs=1e-6)
    everyone = client.get("/v1/budgets", headers=bearer(analysis_borough, "ig.olu")).json()
    theirs = {b["scope"] for b in everyone["budgets"]}
    assert everyone["scope"] == "all" and {b["scope"] for b in mine["budgets"]} < theirs
    assert "analyst:AGR-INS-002:an.priya" in theirs
    assert "analyst:AGR-INS-002:an.priya" not in {b["scope"] for b in mine["budgets"]}


def test_nan_in_a_table_request_is_refused_before_it_is_read(
    client: TestClient, analysis_borough: Path
) -> None:
    for bad in (
        '{"purpose": "x", "dataset": "persons", "filters": {"ward": NaN}}',
        '{"filters": [Infinity]}',
    ):
        r = client.post(
            "/v1/aggregates",
            content=bad,
            headers={**bearer(analysis_borough, "an.priya"), "Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_json"


QUERY_POOL = [
    {"dataset": "persons", "group_by": ["sex"]},
    {"dataset": "persons", "group_by": ["sex"], "filters": {"sex": ["F", "M"]}},
    {
        "dataset": "persons",
        "group_by": ["sex"],
        "filters": {"sex": ["M", "F", "F"]},
    },  # the one above, rewritten
    {"dataset": "persons", "group_by": ["age_band"]},
    {"dataset": "families", "group_by": ["size_band"]},
]


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(0, len(QUERY_POOL) - 1), min_size=1, max_size=12))
def test_spend_is_one_query_cost_per_distinct_query_however_often_asked(client, analysis_borough, picks):
    """Whatever the order and repetition, an analyst's spend is 0.01 for each distinct query (rewritten
    forms count once), and each answer is the same every time it is asked."""
    from gateway.aggregates.request import AggregateRequest
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import DemoUser

    name = f"an.prop{uuid.uuid4().hex[:8]}"
    user = DemoUser(id=name, name=name, roles=("analyst",), department="insight", team="INS01")
    who = {"Authorization": f"Bearer {sign_token(analysis_borough, user)}"}
    answers: dict[str, list] = {}
    for i in picks:
        body = {"purpose": JSNA, "project": f"prop-{name[7:]}", **QUERY_POOL[i]}
        r = client.post("/v1/aggregates", json=body, headers=who)
        assert r.status_code == 200, r.text
        canonical = json.dumps(AggregateRequest.model_validate(body).normalised(), sort_keys=True)
        assert answers.setdefault(canonical, r.json()["rows"]) == r.json()["rows"]
    mine = client.get("/v1/budgets", headers=who).json()["budgets"]
    spent = next(b["spent_rho"] for b in mine if b["scope"] == f"analyst:AGR-INS-002:{name}")
    assert spent == pytest.approx(0.01 * len(answers))
