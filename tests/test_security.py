"""Hostile input, as tests: forged and broken tokens, SQL-injection strings in every parameter of every
endpoint, path traversal at the download endpoints, oversized bodies and wrong content types. Each is
refused with a 4xx, writes a deny event, and changes nothing (the chain verifies, the index is intact).

Free-text fields (a break-glass reason, a review note, a re-identification reason) legitimately accept
any text: there an injection string must be kept verbatim as text and do nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from audit import schema as audit_schema
from audit.verify import verify_chain
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import AUDIENCE, DEV_ISSUER, load_or_create_key
from gateway.index import schema as index_schema
from gateway.index.store import IndexStore
from tests.conftest import bearer

INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE audit_events; --",
    '" OR ""="',
    "') UNION SELECT name, date_of_birth FROM persons --",
    "%' OR 1=1 --",
    "1' AND SLEEP(5) --",
)


@pytest.fixture(scope="module")
def gw(analysis_borough: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as client:
        client.dd = analysis_borough  # type: ignore[attr-defined]
        yield client


def _event(gw: TestClient, audit_id: str) -> dict[str, Any]:
    engine = gw.app.state.services.audit.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(select(audit_schema.events).where(audit_schema.events.c.id == audit_id)).first()
    assert row is not None, f"no audit event {audit_id}"
    return dict(row._mapping)


def refused_and_audited(gw: TestClient, response: Any, *, anonymous: bool = False) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"], body
    event = _event(gw, response.headers["x-audit-id"])
    assert event["decision"] == "deny" and event["status"] == response.status_code
    assert event["rows_released"] == 0 and json.loads(event["fields_released"]) == []
    if anonymous:
        assert event["actor"] == "anonymous" and json.loads(event["roles"]) == []
    return event


# --- tokens ---------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "ig.olu",
        "name": "Olu",
        "roles": ["ig_officer"],
        "department": "information_governance",
        "team": "IG01",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def _signed(data_dir: Path, claims: dict[str, Any]) -> str:
    key = load_or_create_key(data_dir)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])


def _attacks(data_dir: Path) -> dict[str, str]:
    key = load_or_create_key(data_dir)
    good = _signed(data_dir, _claims(roles=["caseworker"]))
    header, _, signature = good.split(".")
    promoted = _b64(json.dumps(_claims(roles=["ig_officer"])).encode())
    public_pem = key.as_pem(private=False)
    confusion_head = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    confusion_body = _b64(json.dumps(_claims()).encode())
    mac = hmac.new(public_pem, f"{confusion_head}.{confusion_body}".encode(), hashlib.sha256).digest()
    stranger = RSAKey.generate_key(2048, parameters={"kid": key.kid})
    return {
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{confusion_body}.",
        "expired": _signed(data_dir, _claims(iat=1, nbf=1, exp=2)),
        "not yet valid": _signed(data_dir, _claims(nbf=int(time.time()) + 3600)),
        "wrong issuer": _signed(data_dir, _claims(iss="https://evil.example")),
        "wrong audience": _signed(data_dir, _claims(aud="another-service")),
        "tampered payload": f"{header}.{promoted}.{signature}",
        "key confusion (HS256 with the public key)": f"{confusion_head}.{confusion_body}.{_b64(mac)}",
        "signed by another key with the same kid": jwt.encode(
            {"alg": "RS256", "kid": key.kid}, _claims(), stranger, algorithms=["RS256"]
        ),
        "missing sub": _signed(data_dir, _claims(sub=None)),
        "missing exp": _signed(data_dir, _claims(exp=None)),
        "roles not a list": _signed(data_dir, _claims(roles="ig_officer")),
        "garbage": "not.a.token",
        "oversized": "a" * 9000 + ".b.c",
    }


@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "tampered payload",
        "key confusion (HS256 with the public key)",
        "signed by another key with the same kid",
        "missing sub",
        "missing exp",
        "roles not a list",
        "garbage",
        "oversized",
    ],
)
def test_token_attacks_are_refused_and_audited(gw: TestClient, attack: str) -> None:
    token = _attacks(gw.dd)[attack]  # type: ignore[attr-defined]
    for path in ("/v1/me", "/v1/audit/events"):
        response = gw.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (attack, path, response.text)
        refused_and_audited(gw, response, anonymous=True)


def test_a_token_in_the_wrong_place_is_no_token(gw: TestClient) -> None:
    token = bearer(gw.dd, "ig.olu")["Authorization"].split()[1]  # type: ignore[attr-defined]
    for attempt in (
        {"params": {"access_token": token}},
        {"headers": {"Authorization": f"Basic {token}"}},
        {"cookies": {"gateway_session": token}},
    ):
        response = gw.get("/v1/audit/events", **attempt)
        assert response.status_code == 401
        refused_and_audited(gw, response, anonymous=True)


# --- SQL injection in every parameter -----------------------------------------------------------------
# Who may call each operation (so that the injection reaches the code behind authentication), and a
# valid request to vary one field of at a time.
def _valid_requests(gw: TestClient) -> list[tuple[str, str, str, dict[str, Any]]]:
    alice = bearer(gw.dd, "cw.alice")  # type: ignore[attr-defined]
    member = gw.get("/v1/caseload", headers=alice).json()[0]
    person, family = member["person_id"], member["family_id"]
    hex_id = "0" * 32
    return [
        (
            "cw.alice",
            "GET",
            f"/v1/persons/{person}/flags",
            {"params": {"purpose": "child_protection_enquiry"}},
        ),
        (
            "cw.alice",
            "GET",
            f"/v1/families/{family}/context",
            {"params": {"purpose": "child_protection_enquiry"}},
        ),
        ("ig.olu", "GET", "/v1/agreements/AGR-CSC-001", {}),
        ("ig.olu", "GET", "/v1/audit/events", {"params": {"actor": "cw.alice", "subject": person}}),
        (
            "ig.olu",
            "GET",
            "/v1/audit/events",
            {"params": {"purpose": "case_management", "decision": "allow"}},
        ),
        ("ig.olu", "GET", "/v1/audit/events", {"params": {"since": "2026-01-01", "until": "2027-01-01"}}),
        ("ig.olu", "GET", "/v1/audit/events", {"params": {"limit": "5", "cursor": "10", "format": "json"}}),
        ("ig.olu", "GET", f"/v1/audit/subjects/{person}", {}),
        ("ig.olu", "GET", "/v1/audit/alerts", {"params": {"since": "2026-01-01", "status": "open"}}),
        (
            "ig.olu",
            "POST",
            "/v1/audit/alerts/review",
            {
                "json": {
                    "audit_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                    "kind": "break_glass",
                    "note": "checked",
                }
            },
        ),
        (
            "an.priya",
            "POST",
            "/v1/aggregates",
            {
                "json": {
                    "purpose": "service_planning",
                    "dataset": "persons",
                    "group_by": ["ward"],
                    "filters": {"sex": "F"},
                }
            },
        ),
        (
            "an.priya",
            "POST",
            "/v1/extracts",
            {
                "json": {
                    "purpose": "supporting_families_evaluation",
                    "project": "sf-eval",
                    "agreement": "AGR-INS-003",
                    "dataset": "person_records",
                    "fields": ["sex", "ward"],
                    "filters": {"sex": "F"},
                }
            },
        ),
        ("an.priya", "GET", "/v1/extracts", {"params": {"status": "ready"}}),
        ("an.priya", "GET", f"/v1/extracts/{hex_id}", {}),
        ("an.priya", "GET", f"/v1/extracts/{hex_id}/data", {"params": {"format": "csv"}}),
        ("an.priya", "GET", f"/v1/extracts/{hex_id}/rotation", {}),
        ("ig.olu", "POST", f"/v1/extracts/{hex_id}/approve", {}),
        (
            "ig.olu",
            "POST",
            f"/v1/extracts/{hex_id}/reject",
            {"json": {"reason": "The project has no ethics approval on file yet"}},
        ),
        (
            "an.priya",
            "POST",
            "/v1/reidentifications",
            {"json": {"project": "sf-eval", "pseudonym": "r1_abc", "reason": "x" * 30}},
        ),
        ("ra.one", "POST", f"/v1/reidentifications/{hex_id}/approve", {}),
        ("an.priya", "GET", f"/v1/reidentifications/{hex_id}", {}),
    ]


FREE_TEXT = {("POST", "/v1/audit/alerts/review", "note"), ("POST", "/v1/reidentifications", "reason")}


def _variants(
    method: str, path: str, kwargs: dict[str, Any], payload: str
) -> Iterator[tuple[str, str, dict]]:
    """The request with one place at a time replaced by the payload: each path segment after the
    collection, each query parameter, each body field (strings, list items, filter keys and values)."""
    segments = path.split("/")
    for i in range(3, len(segments)):
        if segments[i] in {"flags", "context", "data", "rotation", "approve", "reject"}:
            continue
        yield f"path[{i}]", "/".join([*segments[:i], payload, *segments[i + 1 :]]), kwargs
    for name in kwargs.get("params", {}):
        yield f"query {name}", path, {**kwargs, "params": {**kwargs["params"], name: payload}}
    body = kwargs.get("json")
    if body is None:
        return
    for name, value in body.items():
        if (method, path.split("?")[0], name) in FREE_TEXT:
            continue
        if isinstance(value, str):
            changed: Any = payload
        elif isinstance(value, list):
            changed = [payload]
        elif isinstance(value, dict):
            yield f"body {name} key", path, {**kwargs, "json": {**body, name: {payload: "F"}}}
            changed = {next(iter(value), "sex"): payload}
        else:
            continue
        yield f"body {name}", path, {**kwargs, "json": {**body, name: changed}}


def test_injection_strings_in_every_parameter_are_refused_and_audited(
    gw: TestClient, analysis_borough: Path
) -> None:
    index = IndexStore(DataDir(analysis_borough).index_url())
    with index.engine.connect() as conn:
        people_before = conn.execute(select(func.count()).select_from(index_schema.persons)).scalar_one()
    tried = 0
    for user, method, path, kwargs in _valid_requests(gw):
        headers = bearer(analysis_borough, user)
        for payload in INJECTIONS:
            for where, target, varied in _variants(method, path, kwargs, payload):
                response = gw.request(method, target.replace("%", "%25"), headers=headers, **varied)
                assert response.status_code < 500, (user, method, path, where, payload, response.text)
                said = f"{response.status_code} {response.text[:200]}"
                assert 400 <= response.status_code < 500, (
                    f"{user} {method} {path}, {payload!r} in {where}: {said}"
                )
                refused_and_audited(gw, response)
                tried += 1
    assert tried >= 250, tried  # every operation, parameter and payload above
    with index.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(index_schema.persons)).scalar_one() == people_before
        )
    store = gw.app.state.services.audit  # type: ignore[attr-defined]
    assert verify_chain(store.engine, store.key.public, store.anchor_file).ok


def test_free_text_keeps_an_injection_string_as_text(gw: TestClient, analysis_borough: Path) -> None:
    """A break-glass reason is free text: the string is stored verbatim in the audit event, inert."""
    alice = bearer(analysis_borough, "cw.alice")
    ben = bearer(analysis_borough, "cw.ben")
    someone = gw.get("/v1/caseload", headers=ben).json()[0]["person_id"]
    reason = "'); DELETE FROM audit_events; -- urgent safeguarding call from police"
    response = gw.get(
        f"/v1/persons/{someone}/flags",
        params={"purpose": "child_protection_enquiry"},
        headers={**alice, "X-Break-Glass-Reason": reason},
    )
    assert response.status_code == 200
    event = _event(gw, response.headers["x-audit-id"])
    assert event["break_glass"] and reason in event["reason"]
    store = gw.app.state.services.audit  # type: ignore[attr-defined]
    assert verify_chain(store.engine, store.key.public, store.anchor_file).ok


# --- path traversal -----------------------------------------------------------------------------------
TRAVERSALS = (
    "..%2F..%2Fstores.json",
    "%2e%2e%2f%2e%2e%2fkeys%2fdev-issuer.jwk.json",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Cstores.json",
    "%252e%252e%252fstores.json",
    "0" * 30 + "..",
)


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_at_the_download_endpoints_is_refused(gw: TestClient, target: str) -> None:
    priya = bearer(gw.dd, "an.priya")  # type: ignore[attr-defined]
    secrets = ["BEGIN", '"stores"', "root:x:0:0", '"d":']
    for path in (f"/v1/extracts/{target}/data", f"/v1/extracts/{target}/rotation", f"/v1/extracts/{target}"):
        response = gw.get(path, headers=priya)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert not any(s in response.text for s in secrets), response.text[:200]
        if response.headers.get("x-audit-id"):
            refused_and_audited(gw, response)
    response = gw.get(
        "/v1/extracts/" + "0" * 32 + "/data", params={"format": "../../stores.json"}, headers=priya
    )
    refused_and_audited(gw, response)
    static = gw.get("/ui/static/..%2F..%2Fconfig.py")
    assert static.status_code == 404 and "BaseSettings" not in static.text


# --- bodies ------------------------------------------------------------------------------------------
def test_oversized_bodies_are_refused_before_parsing_and_audited(gw: TestClient) -> None:
    priya = bearer(gw.dd, "an.priya")  # type: ignore[attr-defined]
    huge = {
        "purpose": "service_planning",
        "dataset": "persons",
        "group_by": ["ward"],
        "filters": {"x": "y" * 2_000_000},
    }
    response = gw.post("/v1/aggregates", json=huge, headers=priya)
    assert response.status_code == 413
    refused_and_audited(gw, response)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        yield b'{"purpose": "service_planning", "filters": {"x": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}}'

    streamed = gw.post(
        "/v1/aggregates", content=chunks(), headers={**priya, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    refused_and_audited(gw, streamed)


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"purpose": "service_planning", "dataset": "persons", "group_by": ["ward"]}'),
        ("application/x-www-form-urlencoded", b"purpose=service_planning&dataset=persons"),
        ("application/xml", b"<aggregate><dataset>persons</dataset></aggregate>"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--",
        ),
        (None, b'{"purpose": "service_planning", "dataset": "persons", "group_by": ["ward"]}'),
    ],
)
def test_wrong_content_types_are_refused_and_audited(
    gw: TestClient, content_type: str | None, content: bytes
) -> None:
    headers = bearer(gw.dd, "an.priya")  # type: ignore[attr-defined]
    if content_type:
        headers["Content-Type"] = content_type
    response = gw.post("/v1/aggregates", content=content, headers=headers)
    assert response.status_code == 415, response.text
    refused_and_audited(gw, response)


def test_malformed_json_is_a_4xx_with_a_reason(gw: TestClient) -> None:
    headers = {**bearer(gw.dd, "an.priya"), "Content-Type": "application/json"}  # type: ignore[attr-defined]
    for content in (b"{", b"[]", b'{"purpose": ', b"\xff\xfe", b'{"dataset": "persons", "group_by": "ward"}'):
        response = gw.post("/v1/aggregates", content=content, headers=headers)
        refused_and_audited(gw, response)


def test_hostile_values_that_exceed_audit_columns_are_still_audited(gw: TestClient) -> None:
    """An unknown, very long path and a NUL byte: the event is stored (fitted to its columns), so the
    refusal is audited and no other request's event fails with it."""
    headers = bearer(gw.dd, "ig.olu")  # type: ignore[attr-defined]
    response = gw.get("/v1/" + "a" * 2000 + "%00", headers=headers)
    assert response.status_code == 404
    event = refused_and_audited(gw, response)
    assert len(event["resource"]) <= 300 and "\x00" not in event["resource"]


def test_a_database_that_stops_answering_mid_request_is_a_503_not_a_500(gw: TestClient, monkeypatch) -> None:
    """Found by the load run: an IG search whose read failed while the audit store was briefly away,
    but whose own audit event then committed, answered 500. A lost connection is an outage: 503."""
    from sqlalchemy.exc import OperationalError

    import gateway.api.audit_review as review

    def gone(*_args, **_kwargs):
        raise OperationalError("SELECT ...", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(review, "page", gone)
    response = gw.get("/v1/audit/events", headers=bearer(gw.dd, "ig.olu"))  # type: ignore[attr-defined]
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert "refused" not in response.text, "no internals in the reply"
    event = _event(gw, response.headers["x-audit-id"])
    assert event["decision"] == "deny" and event["status"] == 503
