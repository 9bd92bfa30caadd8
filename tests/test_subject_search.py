"""A subject access request starts from what the requester knows: their name and date of birth, or
their NHS number. The search must find the index person of a record that says exactly that; the truth
is each store record and its index person, read with plain SQL here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from tests.conftest import bearer


@pytest.fixture(scope="module")
def client(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
        yield c


def _person_of(root: Path, source: str) -> dict[str, str]:
    with sqlite3.connect(root / "gateway.db") as con:
        query = "SELECT local_id, person_id FROM index_xref WHERE source = ?"
        return dict(con.execute(query, (source,)).fetchall())


def test_a_person_is_found_by_name_and_date_of_birth(client, linked_borough) -> None:
    with sqlite3.connect(linked_borough / "stores" / "childrens_social_care.db") as con:
        records = con.execute(
            "SELECT pers_person_id, pers_forename, pers_surname, pers_dob FROM ssd_person "
            "WHERE pers_forename IS NOT NULL AND pers_surname IS NOT NULL AND pers_dob IS NOT NULL "
            "ORDER BY pers_person_id LIMIT 4"
        ).fetchall()
    person_of = _person_of(linked_borough, "childrens_social_care")
    ig = bearer(linked_borough, "ig.olu")
    for local_id, first, last, dob in records:
        reply = client.get(
            "/v1/audit/subjects", params={"name": f"{first} {last}", "date_of_birth": dob}, headers=ig
        )
        assert reply.status_code == 200, reply.text
        candidates = reply.json()["candidates"]
        assert candidates and candidates[0]["person_id"] == person_of[local_id], (first, last, dob)
        probabilities = [c["match_probability"] for c in candidates]
        assert probabilities == sorted(probabilities, reverse=True)
    events = client.get("/v1/audit/events", params={"actor": "ig.olu"}, headers=ig).json()["events"]
    search = next(e for e in events if e["action"] == "audit.subject_search")
    assert search["subject_ids"] and records[-1][2] not in str(search), "which details, never their values"


def test_a_person_is_found_by_nhs_number(client, linked_borough) -> None:
    with sqlite3.connect(linked_borough / "stores" / "adult_social_care.db") as con:
        local_id, nhs = con.execute(
            "SELECT cli_client_id, cli_nhs_number FROM asc_clients WHERE cli_nhs_number IS NOT NULL "
            "ORDER BY cli_client_id LIMIT 1"
        ).fetchone()
    reply = client.get(
        "/v1/audit/subjects", params={"nhs_number": nhs}, headers=bearer(linked_borough, "ig.olu")
    )
    assert reply.status_code == 200
    assert (
        reply.json()["candidates"][0]["person_id"]
        == _person_of(linked_borough, "adult_social_care")[local_id]
    )


@pytest.mark.parametrize(
    ("user", "params", "status"),
    [
        ("ig.olu", {"name": "Smith"}, 422),  # a surname alone identifies nobody
        ("ig.olu", {"name": "Jo Smith"}, 422),  # a name needs a date of birth
        ("ig.olu", {"nhs_number": "12345"}, 422),
        ("ig.olu", {"name": "Jo Smith", "date_of_birth": "31/12/2010"}, 422),
        ("an.priya", {"nhs_number": "1234567890"}, 403),
    ],
)
def test_a_search_that_cannot_identify_anyone_or_is_not_yours_is_refused(
    client, linked_borough, user, params, status
) -> None:
    reply = client.get("/v1/audit/subjects", params=params, headers=bearer(linked_borough, user))
    assert reply.status_code == status, reply.text


def test_the_find_a_person_page_links_the_best_candidate_to_their_access_report(
    client, linked_borough
) -> None:
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users
    from gateway.web.session import COOKIE

    with sqlite3.connect(linked_borough / "stores" / "childrens_social_care.db") as con:
        local_id, first, last, dob = con.execute(
            "SELECT pers_person_id, pers_forename, pers_surname, pers_dob FROM ssd_person "
            "WHERE pers_forename IS NOT NULL AND pers_surname IS NOT NULL AND pers_dob IS NOT NULL "
            "ORDER BY pers_person_id DESC LIMIT 1"
        ).fetchone()
    expected = _person_of(linked_borough, "childrens_social_care")[local_id]
    user = load_demo_users(Settings().policies_dir).get("ig.olu")
    client.cookies.set(COOKIE, sign_token(linked_borough, user), path="/ui")
    try:
        page = client.get("/ui/audit/people", params={"name": f"{first} {last}", "date_of_birth": dob})
        refused = client.get("/ui/audit/people", params={"name": last})
    finally:
        client.cookies.clear()
    assert page.status_code == 200
    first_link = page.text.split('data-testid="candidates"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    assert first_link == f"/ui/audit/subjects/{expected}"
    assert refused.status_code == 422 and 'data-testid="refusal"' in refused.text


def test_an_access_report_follows_the_person_through_merges(small_borough) -> None:
    """An IG look-up recorded under a person's id before a relink merged them into someone else still
    shows in the merged person's report, saying which id it was recorded under."""
    from gateway.datadir import DataDir
    from gateway.index.build import build_index
    from gateway.index.store import IndexStore
    from gateway.linkage.model import Profile

    dd = DataDir(small_borough)
    build_index(dd)
    with sqlite3.connect(small_borough / "gateway.db") as con:
        before = dict(con.execute("SELECT source || ':' || local_id, person_id FROM index_xref").fetchall())
    ig = bearer(small_borough, "ig.olu")
    with TestClient(create_app(Settings(data_dir=small_borough))) as c:
        looked_up = sorted(set(before.values()))
        for person in looked_up:  # every person is looked up once, under the id they have now
            assert c.get(f"/v1/audit/subjects/{person}", headers=ig).status_code == 200
        build_index(dd, profile=Profile(match_threshold=0.51, review_band_weight=0))
        with sqlite3.connect(small_borough / "gateway.db") as con:
            after = dict(
                con.execute("SELECT source || ':' || local_id, person_id FROM index_xref").fetchall()
            )
        merged_away = {old for record, old in before.items() if after[record] != old}
        assert merged_away, "the looser threshold merges someone"
        old = sorted(merged_away)[0]
        holder = next(after[r] for r, p in before.items() if p == old)
        assert old in IndexStore(dd.index_url()).earlier_ids(holder)
        report = c.get(f"/v1/audit/subjects/{holder}", headers=ig).json()["accesses"]
    assert any(a["as_id"] == old and a["action"] == "audit.subject" for a in report)
