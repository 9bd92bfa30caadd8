"""De-identified extracts end to end over HTTP on the linked 20k borough: approval, build, download,
k-anonymity (checked independently with pandas), no direct identifiers, expiry, key rotation and
controlled re-identification."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import string
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text, update

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.extracts import store as extract_schema
from gateway.index.schema import persons as index_persons
from tests.conftest import bearer

PERSONS = {
    "purpose": "supporting_families_evaluation",
    "project": "sf-eval",
    "agreement": "AGR-INS-003",
    "dataset": "person_records",
    "fields": ["date_of_birth", "sex", "postcode", "ward", "cp_plan", "rent_arrears"],
    "filters": {},
}
QIS = ["date_of_birth", "sex", "postcode", "ward"]


@pytest.fixture(scope="module")
def gw(linked_borough: Path):
    app = create_app(Settings(data_dir=linked_borough))
    with TestClient(app) as client:
        client.dd = linked_borough  # type: ignore[attr-defined]
        yield client


def _as(gw, user: str) -> dict[str, str]:
    return bearer(gw.dd, user)


def _ready(gw, extract_id: str, user: str = "an.priya", timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    seen = set()
    while True:
        status = gw.get(f"/v1/extracts/{extract_id}", headers=_as(gw, user)).json()
        seen.add(status["status"])
        if status["status"] not in {"approved", "building"}:
            status["seen"] = seen
            return status
        assert time.time() < deadline, status
        time.sleep(0.3)


def _extract(gw, body: dict) -> tuple[str, dict]:
    r = gw.post("/v1/extracts", json=body, headers=_as(gw, "an.priya"))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending_approval"
    extract_id = r.json()["extract_id"]
    assert gw.post(f"/v1/extracts/{extract_id}/approve", headers=_as(gw, "ig.olu")).status_code == 202
    status = _ready(gw, extract_id)
    assert status["status"] == "ready", status
    return extract_id, status


@pytest.fixture(scope="module")
def persons_extract(gw):
    return _extract(gw, PERSONS)


def _events(gw, **params) -> list[dict]:
    return gw.get("/v1/audit/events", params={"limit": 500, **params}, headers=_as(gw, "ig.olu")).json()[
        "events"
    ]


def test_approval_rules(gw) -> None:
    r = gw.post("/v1/extracts", json=PERSONS, headers=_as(gw, "an.priya"))
    extract_id = r.json()["extract_id"]
    own = gw.post(f"/v1/extracts/{extract_id}/approve", headers=_as(gw, "an.priya"))
    assert own.status_code == 403 and own.json()["error"] == "forbidden"  # analysts cannot approve at all
    wrong_role = gw.post(f"/v1/extracts/{extract_id}/approve", headers=_as(gw, "cw.alice"))
    assert wrong_role.status_code == 403
    assert gw.get(f"/v1/extracts/{extract_id}", headers=_as(gw, "cw.alice")).status_code == 404
    assert (
        gw.get(f"/v1/extracts/{extract_id}", headers=_as(gw, "an.priya")).json()["status"]
        == "pending_approval"
    )
    assert gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).status_code == 409
    olu = _as(gw, "ig.olu")
    for body, status in (
        (None, 400),
        ({"reason": "no no no no no no"}, 422),
        ({"reason": "ok", "x": 1}, 422),
    ):
        refused = gw.post(f"/v1/extracts/{extract_id}/reject", headers=olu, json=body)
        assert refused.status_code == status, body  # a rejection says why, in words
    why = "The project has no ethics approval on file yet; ask again once it has"
    rejected = gw.post(f"/v1/extracts/{extract_id}/reject", headers=olu, json={"reason": why})
    assert rejected.json()["status"] == "rejected"
    shown = gw.get(f"/v1/extracts/{extract_id}", headers=_as(gw, "an.priya")).json()
    assert shown["decision_reason"] == why and shown["decided_by"] == "ig.olu"
    (event,) = [
        e for e in _events(gw, actor="ig.olu") if e["action"] == "extracts.reject" and e["status"] == 200
    ]
    assert why in event["reason"]
    again = gw.post(f"/v1/extracts/{extract_id}/approve", headers=_as(gw, "ig.olu"))
    assert again.status_code == 409 and again.json()["error"] == "not_pending"
    denied = [e for e in _events(gw, actor="an.priya") if e["action"] == "extracts.approve"]
    assert denied and all(e["decision"] == "deny" for e in denied)


def test_self_approval_is_refused_even_for_an_ig_officer(gw, linked_borough: Path) -> None:
    """An IG officer who could also request (a second role) still may not approve their own request."""
    from gateway.extracts.request import ExtractRequest
    from gateway.identity.principal import Principal

    service = gw.app.state.services.extracts
    both = Principal("ig.both", "IG and analyst", ("analyst", "ig_officer"), department="insight")
    extract, _ = service.submit(ExtractRequest.model_validate(PERSONS), both)
    with pytest.raises(Exception, match="own extract"):
        service.approve(extract["extract_id"], both)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"dataset": "persons"}, 400, "unknown_dataset"),
        ({"fields": ["nhs_number"]}, 400, "unknown_field"),
        ({"fields": ["housing_benefit_weekly"]}, 403, "field_not_permitted"),
        ({"purpose": "marketing"}, 403, "forbidden"),
        ({"project": "../../etc"}, 422, "invalid_request"),
        ({"fields": []}, 422, "invalid_request"),
    ],
)
def test_bad_requests_are_refused_with_a_reason_and_audited(gw, change, status, code) -> None:
    r = gw.post("/v1/extracts", json={**PERSONS, **change}, headers=_as(gw, "an.priya"))
    assert r.status_code == status, r.text
    assert r.json()["error"] == code
    event = next(e for e in _events(gw, actor="an.priya") if e["id"] == r.headers["x-audit-id"])
    assert event["decision"] == "deny" and "request" in event["disclosure_applied"]


def test_a_released_extract_is_k_anonymous_and_carries_no_identifier(
    gw, linked_borough, persons_extract
) -> None:
    extract_id, status = persons_extract
    assert "building" in status["seen"] or status["progress"] == 100
    report = status["disclosure"]
    k = report["k_anonymity"]["k"]
    assert k == 5
    csv_reply = gw.get(f"/v1/extracts/{extract_id}/data?format=csv", headers=_as(gw, "an.priya"))
    assert csv_reply.status_code == 200 and csv_reply.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(csv_reply.text), dtype=str)
    parquet = gw.get(f"/v1/extracts/{extract_id}/data?format=parquet", headers=_as(gw, "an.priya"))
    assert pd.read_parquet(io.BytesIO(parquet.content)).shape == frame.shape
    assert len(frame) == status["rows"] == report["k_anonymity"]["records_released"]
    assert list(frame.columns) == ["pseudonym", "family_pseudonym", *PERSONS["fields"]]
    # k-anonymity, independently: every combination of quasi-identifiers holds >= k distinct people.
    sizes = frame.groupby(QIS, dropna=False)["pseudonym"].nunique()
    assert sizes.min() >= k
    assert frame["pseudonym"].is_unique
    # Generalised as the agreement says, or coarser.
    assert frame["postcode"].str.fullmatch(r"[A-Z]{1,2}[0-9]{0,2}|\*|Unknown").all()
    assert frame["date_of_birth"].str.fullmatch(r"[0-9]{4}(-[0-9]{4})?|\*|Unknown").all()
    # No direct identifier: no index id, no local id, no name or NHS number from the truth file.
    released = csv_reply.text
    engine = create_engine(DataDir(linked_borough).index_url())
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(index_persons.c.person_id, index_persons.c.family_id))]
        families = [r[0] for r in conn.execute(select(index_persons.c.family_id))]
    engine.dispose()
    assert not any(i in released for i in ids[:3000] + families[:3000])
    with (linked_borough / "truth" / "identity.csv").open(newline="") as fh:
        local_ids = [row["local_id"] for row in csv.DictReader(fh)]
    cells = set(frame.to_numpy().ravel())
    assert not cells & set(local_ids)


def test_pseudonyms_are_stable_within_a_project_and_differ_across_projects(gw, persons_extract) -> None:
    extract_id, _ = persons_extract
    first = pd.read_csv(
        io.StringIO(gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text)
    )
    same, _ = _extract(gw, {**PERSONS, "fields": ["sex", "cp_plan"]})
    second = pd.read_csv(io.StringIO(gw.get(f"/v1/extracts/{same}/data", headers=_as(gw, "an.priya")).text))
    other, _ = _extract(gw, {**PERSONS, "project": "sf-other", "fields": ["sex", "cp_plan"]})
    third = pd.read_csv(io.StringIO(gw.get(f"/v1/extracts/{other}/data", headers=_as(gw, "an.priya")).text))
    assert len(set(first["pseudonym"]) & set(second["pseudonym"])) >= 0.9 * len(first)
    assert not set(first["pseudonym"]) & set(third["pseudonym"])
    linked = set(first["family_pseudonym"].dropna())  # null: a family whose link was dropped
    assert not linked & set(third["family_pseudonym"].dropna())


def test_case_notes_are_scrubbed(gw, linked_borough) -> None:
    body = {**PERSONS, "dataset": "case_notes", "fields": ["service", "note_date", "note_type", "note_text"]}
    extract_id, status = _extract(gw, body)
    released = gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text
    frame = pd.read_csv(io.StringIO(released), dtype=str)
    assert frame["note_date"].str.fullmatch(r"[0-9]{4}-[0-9]{2}").all()  # event dates as months
    with (linked_borough / "truth" / "case_note_identifiers.csv").open(newline="") as fh:
        planted = list(csv.DictReader(fh))
    strong = {p["value"] for p in planted if p["kind"] in {"nhs_number", "phone", "address", "postcode"}}
    assert not any(v in released for v in strong)
    names = {p["value"] for p in planted if p["kind"] == "name" and " " in p["value"]}
    leaked = [n for n in names if n in released]
    assert len(leaked) <= 0.01 * len(names), leaked[:5]
    assert frame["note_text"].str.contains("<PERSON:r1_").any()  # known people appear as pseudonyms
    assert status["disclosure"]["free_text"]["identifiers_replaced"]["UK_NHS"] > 0


def test_expired_extracts_are_gone(gw, linked_borough) -> None:
    extract_id, _ = _extract(gw, {**PERSONS, "fields": ["sex"]})
    folder = linked_borough / "extracts" / extract_id
    assert folder.is_dir()
    store = gw.app.state.services.extract_store
    with store.engine.begin() as conn:
        conn.execute(
            update(extract_schema.extracts)
            .where(extract_schema.extracts.c.extract_id == extract_id)
            .values(expires_at="2000-01-01T00:00:00+00:00")
        )
    r = gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya"))
    assert r.status_code == 410 and r.json()["error"] == "extract_expired"
    assert not folder.exists()
    assert gw.get(f"/v1/extracts/{extract_id}", headers=_as(gw, "an.priya")).json()["status"] == "expired"


def test_rotation_gives_new_pseudonyms_and_a_mapping_only_to_the_holder(gw, persons_extract) -> None:
    extract_id, _ = persons_extract
    old = pd.read_csv(
        io.StringIO(gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text)
    )
    assert gw.get(f"/v1/extracts/{extract_id}/rotation", headers=_as(gw, "an.priya")).status_code == 409
    gw.app.state.services.extract_store.rotate("sf-eval")
    mapping = gw.get(f"/v1/extracts/{extract_id}/rotation", headers=_as(gw, "an.priya"))
    assert mapping.status_code == 200
    pairs = pd.read_csv(io.StringIO(mapping.text))
    assert set(old["pseudonym"]) <= set(pairs["old_pseudonym"])
    assert pairs["new_pseudonym"].str.startswith("r2_").all()
    assert gw.get(f"/v1/extracts/{extract_id}/rotation", headers=_as(gw, "ig.olu")).status_code == 404
    fresh, _ = _extract(gw, {**PERSONS, "fields": ["sex", "cp_plan"]})
    new = pd.read_csv(io.StringIO(gw.get(f"/v1/extracts/{fresh}/data", headers=_as(gw, "an.priya")).text))
    assert set(new["pseudonym"]) <= set(pairs["new_pseudonym"]) | set() or len(
        set(new["pseudonym"]) & set(pairs["new_pseudonym"])
    ) > 0.9 * len(new)


def test_reidentification_needs_two_distinct_approvers(gw, linked_borough) -> None:
    extract_id, _ = _extract(gw, {**PERSONS, "project": "sf-reid", "fields": ["sex"]})
    frame = pd.read_csv(
        io.StringIO(gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text)
    )
    pseudonym = frame["pseudonym"].iloc[0]
    reason = "Payment-by-results claim needs the family's outcome confirmed by the service"
    short = gw.post(
        "/v1/reidentifications",
        json={"project": "sf-reid", "pseudonym": pseudonym, "reason": "why"},
        headers=_as(gw, "an.priya"),
    )
    assert short.status_code == 422
    asked = gw.post(
        "/v1/reidentifications",
        json={"project": "sf-reid", "pseudonym": pseudonym, "reason": reason},
        headers=_as(gw, "an.priya"),
    )
    assert asked.status_code == 202, asked.text
    reid = asked.json()["reidentification_id"]
    assert gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "an.priya")).status_code == 403
    assert gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "ig.olu")).status_code == 403
    one = gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "ra.one"))
    assert one.status_code == 200 and one.json()["status"] == "pending"
    twice = gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "ra.one"))
    assert twice.status_code == 409 and twice.json()["error"] == "already_approved"
    pending = gw.get(f"/v1/reidentifications/{reid}", headers=_as(gw, "an.priya")).json()
    assert pending["status"] == "pending" and pending["person_id"] is None
    two = gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "ra.two"))
    assert two.json()["status"] == "approved" and two.json()["person_id"] is None
    assert gw.get(f"/v1/reidentifications/{reid}", headers=_as(gw, "ra.one")).json()["person_id"] is None
    revealed = gw.get(f"/v1/reidentifications/{reid}", headers=_as(gw, "an.priya"))
    person = revealed.json()["person_id"]
    engine = create_engine(DataDir(linked_borough).index_url())
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM index_persons WHERE person_id = :p"), {"p": person}
            ).scalar()
            == 1
        )
    engine.dispose()
    event = next(e for e in _events(gw, actor="an.priya") if e["id"] == revealed.headers["x-audit-id"])
    assert event["action"] == "reidentifications.reveal" and event["subject_ids"] == [person]
    # the approvers oversee others, so alerts about their steps are the DPO's to review
    alerts = gw.get("/v1/audit/alerts", headers=_as(gw, "dpo.dana")).json()["alerts"]
    kinds = [a for a in alerts if a["kind"] == "reidentification"]
    assert len(kinds) >= 4  # asked, approved twice, revealed
    other = gw.post(
        "/v1/reidentifications",
        json={"project": "sf-other", "pseudonym": pseudonym, "reason": reason},
        headers=_as(gw, "an.priya"),
    )
    assert other.status_code in {403, 404, 422}


def test_one_way_pseudonyms_cannot_be_reidentified(gw) -> None:
    body = {
        "purpose": "early_help_outcomes_research",
        "project": "uni-early-help",
        "agreement": "AGR-RES-005",
        "dataset": "person_records",
        "fields": ["date_of_birth", "sex", "early_help"],
    }
    extract_id, status = _extract(gw, body)
    frame = pd.read_csv(
        io.StringIO(gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text), dtype=str
    )
    assert status["disclosure"]["k_anonymity"]["k"] == 10
    assert frame.groupby(["date_of_birth", "sex"])["pseudonym"].nunique().min() >= 10
    assert frame["pseudonym"].str.startswith("h1_").all()
    r = gw.post(
        "/v1/reidentifications",
        json={"project": "uni-early-help", "pseudonym": frame["pseudonym"].iloc[0], "reason": "x" * 30},
        headers=_as(gw, "an.priya"),
    )
    assert r.status_code == 422 and r.json()["error"] == "one_way_pseudonym"


def test_no_download_once_the_agreement_has_ended(gw, persons_extract) -> None:
    """Data leaves only under a decision taken at download time, and the refusal is audited."""
    import datetime as dt

    extract_id, _ = persons_extract
    policy = gw.app.state.services.policy
    real_today = policy.today
    policy.today = lambda: dt.date(2028, 1, 1)  # AGR-INS-003 ends on 2027-12-31
    try:
        r = gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya"))
    finally:
        policy.today = real_today
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert "AGR-INS-003" in r.json()["detail"]
    event = next(e for e in _events(gw, actor="an.priya") if e["id"] == r.headers["x-audit-id"])
    assert event["decision"] == "deny" and event["rows_released"] == 0
    assert gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).status_code == 200


LABEL_CHARS = set(string.ascii_letters + string.digits + " .,&()/-")


def _is_label(text: str) -> bool:
    """The rule, spelt out: an ASCII letter or digit first, then label characters, and an apostrophe
    only between two letters (St Mary's)."""

    def ok(i: int, c: str) -> bool:
        if c in LABEL_CHARS:
            return True
        between = 0 < i < len(text) - 1 and text[i - 1] in string.ascii_letters
        return c == "'" and between and text[i + 1] in string.ascii_letters

    return (
        bool(text)
        and text[0] in string.ascii_letters + string.digits
        and all(ok(i, c) for i, c in enumerate(text))
    )


@given(st.text(alphabet=st.sampled_from([*LABEL_CHARS, "'", "=", ";", '"', "%", "é", "\x00"]), max_size=60))
def test_a_filter_label_is_refused_exactly_when_it_is_not_a_label(text):
    from gateway.extracts.request import filter_problem

    assert (filter_problem(None, text) is None) == _is_label(text), text
    for probe in ("' OR '1'='1", "1; DROP TABLE x", '" OR ""="', "%' --", "1' AND SLEEP(5) --"):
        assert filter_problem(None, probe) is not None


def test_reidentification_stops_when_the_extracts_agreement_ends(gw) -> None:
    """Asking, approving and revealing are each decided again on the extract's agreement: after it
    ends, an approved answer is not shown and a new request is refused (403), and each refusal is
    audited."""
    import datetime as dt

    extract_id, _ = _extract(gw, {**PERSONS, "project": "sf-reid-ends", "fields": ["sex"]})
    frame = pd.read_csv(
        io.StringIO(gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).text)
    )
    pseudonyms = list(frame["pseudonym"].iloc[:2])
    reason = "Payment-by-results claim needs the family's outcome confirmed by the service"
    body = {"project": "sf-reid-ends", "pseudonym": pseudonyms[0], "reason": reason}
    reid = gw.post("/v1/reidentifications", json=body, headers=_as(gw, "an.priya")).json()[
        "reidentification_id"
    ]
    policy = gw.app.state.services.policy
    real_today = policy.today

    def after_the_end(call):
        policy.today = lambda: dt.date(2028, 1, 1)  # AGR-INS-003 ends on 2027-12-31
        try:
            return call()
        finally:
            policy.today = real_today

    refused = after_the_end(
        lambda: gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, "ra.one"))
    )
    assert refused.status_code == 403 and "AGR-INS-003" in refused.json()["detail"], refused.text
    for approver in ("ra.one", "ra.two"):
        assert gw.post(f"/v1/reidentifications/{reid}/approve", headers=_as(gw, approver)).status_code == 200
    revealed = after_the_end(lambda: gw.get(f"/v1/reidentifications/{reid}", headers=_as(gw, "an.priya")))
    assert revealed.status_code == 403 and "person_id" not in revealed.text
    new = after_the_end(
        lambda: gw.post(
            "/v1/reidentifications", json={**body, "pseudonym": pseudonyms[1]}, headers=_as(gw, "an.priya")
        )
    )
    assert new.status_code == 403
    for r in (refused, revealed, new):
        event = next(e for e in _events(gw) if e["id"] == r.headers["x-audit-id"])
        assert event["decision"] == "deny" and event["status"] == 403 and event["subject_ids"] == []
    assert gw.get(f"/v1/reidentifications/{reid}", headers=_as(gw, "an.priya")).json()["person_id"]


def test_a_persons_access_report_lists_the_extracts_built_with_them(
    gw, linked_borough, persons_extract
) -> None:
    """Art 15: someone built into an extract sees its build and each download in their access report;
    someone left out sees neither. Who is in it is read from the gateway database directly."""
    extract_id, _ = persons_extract
    assert gw.get(f"/v1/extracts/{extract_id}/data", headers=_as(gw, "an.priya")).status_code == 200
    with sqlite3.connect(linked_borough / "gateway.db") as con:
        inside = {
            r[0]
            for r in con.execute("SELECT person_id FROM extract_subjects WHERE extract_id = ?", (extract_id,))
        }
        everyone = {r[0] for r in con.execute("SELECT person_id FROM index_persons")}
    assert inside and everyone - inside
    olu = _as(gw, "ig.olu")
    person = sorted(inside)[0]
    report = gw.get(f"/v1/audit/subjects/{person}", headers=olu).json()["accesses"]
    through = [a for a in report if a["via"] == f"extracts/{extract_id}"]
    assert {a["action"] for a in through} == {"extracts.build", "extracts.download"}
    assert any(a["who"] == "an.priya" and a["action"] == "extracts.download" for a in through)
    outside = sorted(everyone - inside)[0]
    report = gw.get(f"/v1/audit/subjects/{outside}", headers=olu).json()["accesses"]
    assert not [a for a in report if a["via"] == f"extracts/{extract_id}"]


def test_a_subject_access_pack_holds_everything_about_the_person_and_no_one_else(
    gw, linked_borough, persons_extract
) -> None:
    """Art 15: a person linked across stores, built into an extract and viewed under break-glass gets
    one pack listing all three (records, the extract's build, the break-glass view) and a copy of every
    store row about them; other people's names are nowhere in it. The truth is read with plain SQL."""
    from gateway.departments import department
    from gateway.departments.records import identity_select, subject_tables

    extract_id, _ = persons_extract
    with sqlite3.connect(linked_borough / "gateway.db") as con:
        inside = {
            r[0]
            for r in con.execute("SELECT person_id FROM extract_subjects WHERE extract_id = ?", (extract_id,))
        }
        linked = con.execute(
            "SELECT person_id, family_id FROM index_persons WHERE person_id IN "
            "(SELECT person_id FROM index_xref GROUP BY person_id HAVING COUNT(DISTINCT source) >= 2 "
            " AND SUM(source = 'childrens_social_care') >= 1) ORDER BY person_id"
        ).fetchall()
        person, family = next((p, f) for p, f in linked if p in inside)
        records = con.execute(
            "SELECT source, local_id FROM index_xref WHERE person_id = ?", (person,)
        ).fetchall()
        others = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT person_id FROM index_persons WHERE family_id = ? AND person_id != ?",
                (family, person),
            )
        ]
        other_records = (
            con.execute(
                f"SELECT source, local_id FROM index_xref WHERE person_id IN ({','.join('?' * len(others))})",
                others,
            ).fetchall()
            if others
            else []
        )
    glass = {"X-Break-Glass-Reason": "Police report of a child at risk tonight, allocated worker unreachable"}
    viewed = gw.get(
        f"/v1/persons/{person}/flags",
        params={"purpose": "child_protection_enquiry"},
        headers={**_as(gw, "cw.ben"), **glass},
    )
    assert viewed.status_code == 200, viewed.text

    olu = _as(gw, "ig.olu")
    reply = gw.get(f"/v1/audit/subjects/{person}/pack", headers=olu)
    assert reply.status_code == 200, reply.text
    pack = reply.json()
    assert {(r["store"], r["local_id"]) for r in pack["records"]} == set(records)
    actions = {(a["action"], a["via"], a["break_glass"]) for a in pack["accesses"]}
    assert ("extracts.build", f"extracts/{extract_id}", False) in actions
    assert ("flags.read", None, True) in actions

    # Every row about them in every store, counted independently; no row of anyone else.
    expected_rows = 0
    for store, local_id in records:
        with sqlite3.connect(linked_borough / "stores" / f"{store}.db") as con:
            for table, column in subject_tables(store):
                expected_rows += con.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (local_id,)
                ).fetchone()[0]
    held = pack["data_held"]
    assert sum(len(t["rows"]) for t in held) == expected_rows
    own_ids = {local for _, local in records}
    for t in held:
        column = dict(subject_tables(t["store"]))[t["table"]]
        assert {str(r[column]) for r in t["rows"]} <= own_ids

    # Other family members' names appear nowhere (free text is scrubbed; their rows are not copied).
    text = json.dumps(pack)
    for store, local_id in other_records:
        engine = create_engine(f"sqlite:///{linked_borough / 'stores' / f'{store}.db'}")
        q = identity_select(store).subquery()
        with engine.connect() as conn:
            row = conn.execute(select(q).where(q.c.local_id == local_id)).mappings().first()
        engine.dispose()
        full = f"{(row or {}).get('first_name') or ''} {(row or {}).get('last_name') or ''}".strip()
        if " " in full:
            assert full not in text, f"{department(store).label} names a family member in the pack"

    html = gw.get(f"/v1/audit/subjects/{person}/pack", params={"format": "html"}, headers=olu)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"] and person in html.text
    bundle = zipfile.ZipFile(
        io.BytesIO(gw.get(f"/v1/audit/subjects/{person}/pack", params={"format": "zip"}, headers=olu).content)
    )
    assert sorted(n.rsplit(".", 1)[1] for n in bundle.namelist()) == ["html", "json"]
    assert json.loads(bundle.read(f"subject-access-{person}.json"))["person_id"] == person

    packs = [e for e in _events(gw, actor="ig.olu") if e["action"] == "audit.subject_pack"]
    assert len(packs) == 3 and all(e["subject_ids"] == [person] for e in packs)
    assert packs[0]["rows_released"] == expected_rows
    assert gw.get("/v1/audit/subjects/PZZZZZZZZ/pack", headers=olu).status_code == 404
    assert gw.get(f"/v1/audit/subjects/{person}/pack", headers=_as(gw, "cw.alice")).status_code == 403
