"""HTTP surface: probes and the catalogue, with the contract's error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.catalogue import Classification, load_catalogue
from gateway.config import Settings, load_settings
from gateway.departments import STORE_NAMES, store_metadata
from tests.conftest import bearer

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def client(borough: Path):
    with TestClient(create_app(Settings(data_dir=borough))) as c:
        yield c


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["stores"] == dict.fromkeys([*STORE_NAMES, "audit"], "ok")


def test_not_ready_without_stores(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"] == "not_ready" and "gateway seed" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_catalogue_needs_a_token(client: TestClient) -> None:
    r = client.get("/v1/catalogue")
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"


def test_catalogue_classifies_every_column_of_every_store(client: TestClient, borough: Path) -> None:
    body = client.get("/v1/catalogue", headers=bearer(borough, "an.priya")).json()
    datasets = {d["name"]: d for d in body["datasets"]}
    for store in STORE_NAMES:
        for table in store_metadata(store).sorted_tables:
            d = datasets.pop(f"{store}.{table.name}")
            assert set(d["fields"]) == {c.name for c in table.columns}, table.name
            assert all(v in {c.value for c in Classification} for v in d["fields"].values())
    assert not [name for name, d in datasets.items() if d["kind"] == "source"]  # nothing unknown


def test_catalogue_marks_identifiers_and_free_text() -> None:
    cat = load_catalogue(POLICIES)
    person = cat.dataset("childrens_social_care.ssd_person")
    assert person is not None
    assert person.fields["pers_forename"] == Classification.direct_identifier
    assert person.fields["pers_common_child_id"] == Classification.direct_identifier
    assert person.fields["pers_dob"] == Classification.quasi_identifier
    assert person.fields["pers_ethnicity"] == Classification.special_category
    notes = cat.dataset("childrens_social_care.ssd_case_notes")
    assert notes is not None and notes.fields["cano_note_text"] == Classification.free_text


def test_errors_have_the_contract_shape(client: TestClient) -> None:
    r = client.get("/v1/no-such-thing")
    assert r.status_code == 404
    assert set(r.json()) == {"error", "detail"} and r.json()["error"] == "not_found"
    r = client.post("/healthz")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_settings_come_from_file_then_environment_then_arguments(tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("port: 9001\nhost: 0.0.0.0\n")
    assert load_settings(cfg).port == 9001
    monkeypatch.setenv("GATEWAY_PORT", "9002")
    assert load_settings(cfg).port == 9002
    assert load_settings(cfg, port=9003).port == 9003
    assert load_settings(cfg).host == "0.0.0.0"
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.yaml")
