"""`POST /v1/aggregates` on the linked 20k borough: the analysis store, the tables, the refusals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.analysis.store import AnalysisStore
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from tests.conftest import bearer

JSNA = "joint_strategic_needs_assessment"


@pytest.fixture(scope="module")
def client(analysis_borough: Path) -> TestClient:
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
def test_a_two_way_table_has_every_cell_and_margin_and_no_small_count(
    client: TestClient, analysis_borough: Path
) -> None:
    r = post(
        client, analysis_borough, {"purpose": JSNA, "dataset": "persons", "group_by": ["ward", "cp_plan"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    wards = {w for (w,) in truth(analysis_borough, "SELECT DISTINCT ward FROM persons")}
    got = cells(body, ["ward", "cp_plan"])
    assert set(got) == {(w, f) for w in (*wards, None) for f in (False, True, None)}
    true = dict(
        ((w, f), n)
        for w, f, n in truth(analysis_borough, "SELECT ward, cp_plan, count(*) FROM persons GROUP BY ALL")
    )
    for key, row in got.items():
        assert row["status"] in {"ok", "suppressed", "perturbed", "rounded"}
        if row["status"] == "suppressed":
            assert row["value"] is None
        else:
            assert row["value"] == 0 or row["value"] >= 10
        if key in true and row["value"] is not None:
            assert abs(row["value"] - true[key]) <= 2 + 2  # noise at most 2, then rounding to 5
    assert any(r["status"] == "suppressed" for r in body["rows"])  # CP plans by ward are small
    assert body["disclosure"]["lp_check"]["passed"] is True
    assert body["disclosure"]["agreement_id"] == "AGR-INS-002"
    assert body["audit_id"]


def test_the_same_cell_has_the_same_value_however_it_is_asked_for(
    client: TestClient, analysis_borough: Path
) -> None:
    base = {"purpose": JSNA, "dataset": "persons"}
    by_both = cells(
        post(client, analysis_borough, {**base, "group_by": ["ward", "sex"]}).json(), ["ward", "sex"]
    )
    again = cells(
        post(client, analysis_borough, {**base, "group_by": ["ward", "sex"]}).json(), ["ward", "sex"]
    )
    assert by_both == again
    for form in ("F", ["F"], ["F", "F"]):
        one = cells(
            post(client, analysis_borough, {**base, "group_by": ["ward"], "filters": {"sex": form}}).json(),
            ["ward"],
        )
        compared = 0
        for (ward,), row in one.items():
            other = by_both[(ward, "F")]
            if ward is not None and "suppressed" not in (row["status"], other["status"]):
                assert row["value"] == other["value"]
                compared += 1
        assert compared >= 10
    ranged = post(
        client,
        analysis_borough,
        {
            "purpose": JSNA,
            "dataset": "families",
            "group_by": ["ward"],
            "filters": {"children_count": {"gte": 1, "lte": 3}},
        },
    ).json()
    listed = post(
        client,
        analysis_borough,
        {
            "purpose": JSNA,
            "dataset": "families",
            "group_by": ["ward"],
            "filters": {"children_count": [3, 1, 2]},
        },
    ).json()
    assert ranged["rows"] == listed["rows"]


def test_sums_and_means_apply_dominance_and_perturbation(client: TestClient, analysis_borough: Path) -> None:
    r = post(
        client,
        analysis_borough,
        {
            "purpose": JSNA,
            "dataset": "persons",
            "measure": "mean",
            "field": "housing_benefit_weekly",
            "group_by": ["ward"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "dominance" in body["disclosure"]["rules"]
    true = dict(
        truth(
            analysis_borough,
            "SELECT ward, avg(housing_benefit_weekly) FROM persons "
            "WHERE housing_benefit_weekly IS NOT NULL GROUP BY 1",
        )
    )
    top = dict(truth(analysis_borough, "SELECT ward, max(housing_benefit_weekly) FROM persons GROUP BY 1"))
    counts = dict(
        truth(analysis_borough, "SELECT ward, count(housing_benefit_weekly) FROM persons GROUP BY 1")
    )
    published = 0
    for row in body["rows"]:
        band = row["ward"]
        if band is None or row["status"] == "suppressed":
            continue
        published += 1
        # The mean moves by at most half the largest contribution spread over the cell.
        assert abs(row["value"] - true[band]) <= 0.5 * top[band] / counts[band] + 0.01
    assert published >= 10
    r = post(
        client,
        analysis_borough,
        {"purpose": JSNA, "dataset": "rent_transactions", "measure": {"sum": "amount"}, "group_by": ["type"]},
    )
    assert r.status_code == 200 and r.json()["disclosure"]["measure"] == "sum(amount)"


def test_event_tables_count_people_for_the_threshold(client: TestClient, analysis_borough: Path) -> None:
    r = post(client, analysis_borough, {"purpose": JSNA, "dataset": "referrals", "group_by": ["outcome"]})
    assert r.status_code == 200, r.text
    per_outcome = dict(
        truth(analysis_borough, "SELECT outcome, count(DISTINCT unit_id) FROM referrals GROUP BY 1")
    )
    for row in r.json()["rows"]:
        if row["outcome"] in per_outcome and per_outcome[row["outcome"]] < 10:
            assert row["status"] == "suppressed"


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
    (
        {"purpose": JSNA, "dataset": "persons", "filters": {"ward": "x' OR '1'='1"}},
        422,
        "query_set_too_small",
    ),
    ({"purpose": JSNA, "dataset": "persons", "filters": {"cp_plan": "true"}}, 400, "bad_filter"),
    ({"purpose": JSNA, "dataset": "persons", "measure": "sum", "field": "ward"}, 400, "not_numeric"),
    ({"purpose": JSNA, "dataset": "ssd_person", "group_by": ["ward"]}, 400, "unknown_dataset"),
    ({"purpose": "child_protection_enquiry", "dataset": "persons"}, 403, "forbidden"),
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
    r = post(client, analysis_borough, body)
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and r.json()["detail"]
    mine = audit_event(client, analysis_borough, r.headers["x-audit-id"])
    assert mine["decision"] == "deny" and mine["rows_released"] == 0
    assert "request" in mine["disclosure_applied"]
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
    assert json.dumps(released)  # serialisable as stored
