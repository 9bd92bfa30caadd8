"""The extract queue and re-identification approvals on a real PostgreSQL database: two processes'
worth of claims race for one job and exactly one wins; approvals are counted once per approver."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from gateway.extracts.store import ExtractStore, iso, now
from gateway.stores.postgres import drop_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_prefix: str):
    url = f"{pg_prefix}gateway"
    store = ExtractStore(url)
    store.create()  # migrations make the database and its tables
    yield store
    store.dispose()
    drop_database(url)


def _extract(store: ExtractStore, extract_id: str) -> None:
    store.add(
        {
            "extract_id": extract_id,
            "requester": "an.priya",
            "requester_json": json.dumps({"sub": "an.priya", "roles": ["analyst"]}),
            "purpose": "supporting_families_evaluation",
            "project": "sf-eval",
            "agreement_id": "AGR-INS-003",
            "dataset": "person_records",
            "fields_json": '["sex"]',
            "filters_json": "{}",
            "pseudonyms": "reversible",
            "status": "approved",
            "progress": 0,
            "stage": "approved",
            "created_at": iso(now()),
        }
    )


def test_exactly_one_claim_wins_on_postgresql(pg_store: ExtractStore) -> None:
    extract_id = "a" * 32
    _extract(pg_store, extract_id)
    others = [ExtractStore(str(pg_store.engine.url.render_as_string(hide_password=False))) for _ in range(4)]
    wins: list[bool] = []
    barrier = threading.Barrier(len(others))

    def claim(store: ExtractStore) -> None:
        barrier.wait()
        wins.append(store.transition(extract_id, "approved", status="building"))

    threads = [threading.Thread(target=claim, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in others:
        s.dispose()
    assert sorted(wins) == [False, False, False, True]
    assert pg_store.get(extract_id)["status"] == "building"
    pg_store.set_subjects(extract_id, [f"P{i:012d}" for i in range(12_000)])
    assert len(pg_store.subjects(extract_id)) == 12_000


def test_project_keys_and_approvals_on_postgresql(pg_store: ExtractStore) -> None:
    assert pg_store.key_version("sf-eval") == 1
    assert pg_store.rotate("sf-eval") == 2 and pg_store.key_version("sf-eval") == 2
    pg_store.add_reid(
        {
            "reid_id": "b" * 32,
            "requester": "an.priya",
            "project": "sf-eval",
            "pseudonym": "r2_x",
            "reason": "payment by results confirmation needed",
            "status": "pending",
            "created_at": iso(now()),
        }
    )
    first = pg_store.approve_reid("b" * 32, "ra.one", 2, "P000000000001")
    assert first["status"] == "pending" and first["person_id"] is None
    with pytest.raises(IntegrityError):
        pg_store.approve_reid("b" * 32, "ra.one", 2, "P000000000001")
    second = pg_store.approve_reid("b" * 32, "ra.two", 2, "P000000000001")
    assert second["status"] == "approved" and second["person_id"] == "P000000000001"
    assert second["approvers"] == ["ra.one", "ra.two"]
