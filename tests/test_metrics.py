"""`GET /metrics`: the series a platform team watches, with labels that can never carry personal data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.api.app import create_app
from gateway.config import Settings
from tests.conftest import TcpProxy, bearer


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_expose_requests_decisions_suppression_audit_and_stores(analysis_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as client:
        alice, priya = bearer(analysis_borough, "cw.alice"), bearer(analysis_borough, "an.priya")
        calls = 0
        caseload = client.get("/v1/caseload", headers=alice).json()
        person = caseload[0]["person_id"]
        flags = client.get(f"/v1/persons/{person}/flags?purpose=child_in_need_assessment", headers=alice)
        assert flags.status_code == 200
        assert client.get("/v1/caseload", headers=priya).status_code == 403  # no rule gives analysts one
        table = client.post(
            "/v1/aggregates",
            headers=priya,
            json={"purpose": "service_planning", "dataset": "persons", "group_by": ["ward", "cp_plan"]},
        ).json()
        calls += 4
        suppressed = sum(1 for r in table["rows"] if r["status"] == "suppressed")
        assert suppressed > 0

        reply = client.get("/metrics")
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
        text = reply.text
        samples = _samples(text)

    req = "gateway_requests_total"
    assert _value(samples, req, route="/v1/caseload", method="GET", status="200") == 1
    assert _value(samples, req, route="/v1/caseload", method="GET", status="403") == 1
    assert _value(samples, req, route="/v1/persons/{person_id}/flags", method="GET", status="200") == 1
    assert _value(samples, req, route="/v1/aggregates", method="POST", status="200") == 1
    assert person not in text and not re.search(r"\bP[0-9A-Z]{12}\b", text), "ids never become labels"
    assert _value(samples, "gateway_request_duration_seconds_count", route="/v1/aggregates") == 1

    dec = "gateway_policy_decisions_total"
    assert _value(samples, dec, decision="deny", reason="no_agreement", view="caseload") == 1
    assert _value(samples, dec, decision="allow", reason="allowed_by_rule", view="caseload") == 1
    assert _value(samples, dec, decision="allow", reason="allowed_by_agreement", view="aggregate") >= 1

    assert _value(samples, "gateway_suppressed_cells_total", dataset="persons") == suppressed

    # One audit event per /v1 request, all committed; the writer's queue is empty at rest.
    assert _value(samples, "gateway_audit_events_total", outcome="committed") == calls
    assert _value(samples, "gateway_audit_events_total", outcome="failed") == 0
    assert _value(samples, "gateway_audit_commit_duration_seconds_count", outcome="committed") >= 1
    assert _value(samples, "gateway_audit_queue_depth") == 0

    for store in ("childrens_social_care", "housing", "education", "audit"):
        assert _value(samples, "gateway_store_up", store=store) == 1


@pytest.mark.postgres
def test_an_audit_outage_shows_in_the_metrics(
    small_borough: Path, audit_behind_proxy: tuple[str, TcpProxy]
) -> None:
    audit_url, proxy = audit_behind_proxy
    with TestClient(create_app(Settings(data_dir=small_borough, audit_url=audit_url))) as client:
        alice = bearer(small_borough, "cw.alice")
        assert client.get("/v1/me", headers=alice).status_code == 200
        proxy.cut()
        assert client.get("/v1/me", headers=alice).status_code == 503
        samples = _samples(client.get("/metrics").text)
    assert _value(samples, "gateway_store_up", store="audit") == 0
    assert _value(samples, "gateway_store_up", store="housing") == 1
    assert _value(samples, "gateway_audit_events_total", outcome="committed") == 1
    assert _value(samples, "gateway_audit_events_total", outcome="failed") >= 1
    assert _value(samples, "gateway_requests_total", route="/v1/me", method="GET", status="503") == 1
