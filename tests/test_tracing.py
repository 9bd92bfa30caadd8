"""OpenTelemetry traces: the governed steps appear as spans, the trace id is the audit event's, and no
span attribute carries personal data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.identity.dev_issuer import sign_token
from gateway.identity.users import load_demo_users
from gateway.telemetry.tracing import provider, redact_path
from gateway.web.session import COOKIE
from tests.conftest import bearer


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider().add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="module")
def client(analysis_borough: Path, spans: InMemorySpanExporter) -> Iterator[TestClient]:
    """Statement spans on (`trace_sql`), as an operator diagnosing a slow query would run it."""
    with TestClient(create_app(Settings(data_dir=analysis_borough, trace_sql=True))) as c:
        yield c


def _trace(spans: InMemorySpanExporter, trace_id: str) -> list[Any]:
    return [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]


def _event(client: TestClient, data: Path, audit_id: str) -> dict[str, Any]:
    events = client.get("/v1/audit/events", headers=bearer(data, "ig.olu"), params={"limit": 50}).json()
    return next(e for e in events["events"] if e["id"] == audit_id)


def _personal(client: TestClient, data: Path, family_id: str) -> list[str]:
    """Every name, date of birth and id of the family, as the API shows them to its caseworker."""
    ctx = client.get(
        f"/v1/families/{family_id}/context",
        params={"purpose": "child_in_need_assessment"},
        headers=bearer(data, "cw.alice"),
    ).json()
    found = [family_id]
    for m in ctx["members"]:
        found += [m["person_id"], *(v for v in (m["name"], m["date_of_birth"]) if v)]
    return found


def _attribute_text(trace: list[Any]) -> str:
    return "\n".join(f"{s.name} {dict(s.attributes or {})}" for s in trace)


def test_a_request_trace_has_the_governed_steps_and_the_audit_events_trace_id(
    client: TestClient, analysis_borough: Path, spans: InMemorySpanExporter
) -> None:
    alice = bearer(analysis_borough, "cw.alice")
    person = client.get("/v1/caseload", headers=alice).json()[0]
    reply = client.get(
        f"/v1/persons/{person['person_id']}/flags?purpose=child_in_need_assessment", headers=alice
    )
    assert reply.status_code == 200
    trace_id = reply.headers["x-trace-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert _event(client, analysis_borough, reply.headers["x-audit-id"])["trace_id"] == trace_id
    trace = _trace(spans, trace_id)
    names = {s.name for s in trace}
    assert {"decide", "fetch", "audit"} <= names
    assert "GET /v1/persons/{person_id}/flags" in names, "the server span is named by the route template"
    decide = next(s for s in trace if s.name == "decide")
    assert decide.attributes["decision"] == "allow" and decide.attributes["view"] == "flags"
    sql = [s for s in trace if {"db.system", "db.system.name"} & set(s.attributes or {})]
    fetches = {s.context.span_id for s in trace if s.name == "fetch"}
    assert any(s.parent is not None and s.parent.span_id in fetches for s in sql), "SQL spans under fetch"
    text = _attribute_text(trace)
    for value in _personal(client, analysis_borough, person["family_id"]):
        assert value not in text, f"{value!r} in a span attribute"


def test_an_aggregate_trace_has_fetch_and_transform(
    client: TestClient, analysis_borough: Path, spans: InMemorySpanExporter
) -> None:
    reply = client.post(
        "/v1/aggregates",
        headers=bearer(analysis_borough, "an.priya"),
        json={"purpose": "service_planning", "dataset": "persons", "group_by": ["ward"]},
    )
    assert reply.status_code == 200
    trace = _trace(spans, reply.headers["x-trace-id"])
    steps = [
        s.name
        for s in sorted(trace, key=lambda s: s.start_time)
        if s.name in {"decide", "fetch", "transform", "audit"}
    ]
    assert steps[0] == "decide" and steps[-1] == "audit" and {"fetch", "transform"} <= set(steps)
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in trace]
    assert any("GROUP BY" in q.upper() for q in statements), "the analysis store's query is a span"


def test_a_page_and_the_api_calls_behind_it_share_one_trace(
    client: TestClient, analysis_borough: Path, spans: InMemorySpanExporter
) -> None:
    caseload = client.get("/v1/caseload", headers=bearer(analysis_borough, "cw.alice")).json()
    family_id = caseload[0]["family_id"]
    user = load_demo_users(Path(__file__).parents[1] / "policies").get("cw.alice")
    client.cookies.set(COOKIE, sign_token(analysis_borough, user))
    page = client.get(f"/ui/families/{family_id}?purpose=child_in_need_assessment")
    assert page.status_code == 200
    audit_id = re.search(r'data-testid="audit-id">([0-9a-f-]{36})<', page.text).group(1)
    event = _event(client, analysis_borough, audit_id)
    trace = _trace(spans, event["trace_id"])
    names = {s.name for s in trace}
    assert "GET /ui/families/{family_id}" in names and "GET /v1/families/{family_id}/context" in names
    text = _attribute_text(trace)
    for value in _personal(client, analysis_borough, family_id):
        assert value not in text, f"{value!r} in a span attribute"


def test_ids_in_paths_are_redacted() -> None:
    assert redact_path("/v1/persons/P1ER07B818SVA/flags") == "/v1/persons/{id}/flags"
    assert redact_path("/ui/families/F1ER07B818SVA?purpose=x") == "/ui/families/{id}?purpose=x"
    assert redact_path("/v1/extracts/0f6e6a52-3d0c-4b8e-9d36-6a9f0e2b1c11/data") == "/v1/extracts/{id}/data"
    assert redact_path("/v1/catalogue") == "/v1/catalogue"


def test_a_callers_trace_id_or_traceparent_is_kept(client: TestClient, analysis_borough: Path) -> None:
    wanted = "4bf92f3577b34da6a3ce929d0e0e4736"
    by_header = client.get("/v1/me", headers={**bearer(analysis_borough, "an.priya"), "X-Trace-Id": wanted})
    assert by_header.headers["x-trace-id"] == wanted
    assert _event(client, analysis_borough, by_header.headers["x-audit-id"])["trace_id"] == wanted
    other = "0af7651916cd43dd8448eb211c80319c"
    parent = {"traceparent": f"00-{other}-b7ad6b7169203331-01", "X-Trace-Id": wanted}
    by_w3c = client.get("/v1/me", headers={**bearer(analysis_borough, "an.priya"), **parent})
    assert by_w3c.headers["x-trace-id"] == other, "a W3C traceparent wins"


def test_by_default_a_request_is_traced_by_step_not_by_statement(
    analysis_borough: Path, spans: InMemorySpanExporter
) -> None:
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as c:
        alice = bearer(analysis_borough, "cw.alice")
        person = c.get("/v1/caseload", headers=alice).json()[0]
        reply = c.get(
            f"/v1/persons/{person['person_id']}/flags?purpose=child_in_need_assessment", headers=alice
        )
    assert reply.status_code == 200
    trace = _trace(spans, reply.headers["x-trace-id"])
    assert {"decide", "fetch", "audit"} <= {s.name for s in trace}
    assert not [s for s in trace if {"db.system", "db.system.name"} & set(s.attributes or {})]


def test_a_subject_search_leaves_no_name_or_date_of_birth_in_its_trace(
    client: TestClient, analysis_borough: Path, spans: InMemorySpanExporter
) -> None:
    """The search's query carries personal data; the server span keeps only the parameter names."""
    import csv
    from urllib.parse import quote, quote_plus

    with (analysis_borough / "truth" / "persons.csv").open() as fh:
        person = next(csv.DictReader(fh))
    name = f"{person['first_name']} {person['last_name']}"
    reply = client.get(
        "/v1/audit/subjects",
        params={"name": name, "date_of_birth": person["date_of_birth"]},
        headers=bearer(analysis_borough, "ig.olu"),
    )
    assert reply.status_code == 200
    text = _attribute_text(_trace(spans, reply.headers["x-trace-id"]))
    assert "/v1/audit/subjects" in text
    for value in (name, quote(name), quote_plus(name), person["last_name"], person["date_of_birth"]):
        assert value not in text, f"{value!r} in a span attribute"
