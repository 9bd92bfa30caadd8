"""The web interface without a browser: failing closed with a page that says so, form tokens, and the
production sign-in (OpenID Connect authorization code with PKCE against a real, if small, provider)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from markupsafe import escape

from audit.store import new_event
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import sign_token
from gateway.identity.users import DemoUser
from gateway.stores.postgres import normalise
from gateway.web.caseworker import FAMILIES_PER_PAGE
from gateway.web.session import COOKIE
from tests.conftest import Production, TcpProxy, bearer, copy_index, free_port

ALICE = DemoUser(
    id="cw.alice",
    name="Alice Okafor",
    roles=("caseworker",),
    department="childrens_social_care",
    team="CSC01",
    worker_id="SW0001",
)
PRIYA = DemoUser(id="an.priya", name="Priya Raman", roles=("analyst",), department="insight", team="INS01")
OLU = DemoUser(id="ig.olu", name="Olu Adeyemi", roles=("ig_officer",), department="information_governance")


def _signed_in(client: TestClient, data: Path, user: DemoUser) -> None:
    client.cookies.set(COOKIE, sign_token(data, user))


def test_an_unavailable_index_gives_a_503_page_that_says_nothing_was_shown(small_borough: Path) -> None:
    """Seeded but never linked: the caseload cannot be worked out, so the page fails closed."""
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        _signed_in(client, small_borough, ALICE)
        page = client.get("/ui/caseload")
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "A service is unavailable" in page.text and "nothing was shown" in page.text
        assert "gateway link" in page.text  # the API's own reason is passed on
        events = client.get("/v1/audit/events", headers=bearer(small_borough, "ig.olu")).json()["events"]
        refused = [e for e in events if e["actor"] == "cw.alice"]
        assert refused and refused[0]["decision"] == "deny" and refused[0]["rows_released"] == 0


def test_pages_a_role_cannot_use_say_so_instead_of_looking_empty(small_borough: Path) -> None:
    """A caseworker who opened the approvals queue saw "No requests are waiting" while one was pending;
    an officer saw Approve on their own request, which the API refuses."""
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        _signed_in(client, small_borough, ALICE)
        page = client.get("/ui/approvals")
        assert page.status_code == 403 and "information-governance officers" in page.text
        assert "No requests are waiting" not in page.text
        events = client.get("/v1/audit/events", headers=bearer(small_borough, "ig.olu")).json()["events"]
        refused = next(e for e in events if e["actor"] == "cw.alice" and e["action"] == "extracts.list")
        assert refused["decision"] == "deny" and refused["status"] == 403  # the refusal is audited
        client.cookies.clear()
        _signed_in(client, small_borough, OLU)
        assert client.get("/ui/approvals").status_code == 200


def test_forms_need_this_sessions_form_token(small_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        ig = bearer(small_borough, "ig.olu")
        # a real alert about someone else: a caseworker's break-glass access
        target = client.app.state.services.audit.append(
            new_event(
                actor="cw.ben",
                roles=["caseworker"],
                action="flags.read",
                subject_ids=["P1"],
                decision="allow",
                break_glass=True,
                status=200,
                time="2026-06-02T10:00:00.000000Z",
            )
        )["id"]
        body = {"audit_id": target, "kind": "break_glass", "note": "looked at it, nothing wrong"}
        _signed_in(client, small_borough, OLU)
        missing = client.post("/ui/alerts/review", data=body, follow_redirects=False)
        assert missing.status_code == 403 and "nothing was done" in missing.text
        # A form token minted for someone else's session does not carry over.
        other = create_app(Settings(data_dir=small_borough)).state.web.secret
        from gateway.web.session import csrf_for

        forged = client.post(
            "/ui/alerts/review",
            data={**body, "csrf": csrf_for(other, sign_token(small_borough, OLU))},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        events = client.get("/v1/audit/events", headers=ig).json()["events"]
        assert not [e for e in events if e["action"] == "audit.alert_review"], "nothing was marked"
        # With the page's own token the same form works, and the review is an audit event.
        page = client.get("/ui/alerts?status=all")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = client.post("/ui/alerts/review", data={**body, "csrf": token}, follow_redirects=False)
        assert done.status_code == 303
        events = client.get("/v1/audit/events", headers=ig).json()["events"]
        (review,) = [e for e in events if e["action"] == "audit.alert_review"]
        assert review["actor"] == "ig.olu" and review["reason"] == body["note"]
        assert review["resource"] == f"alert/{target}/break_glass"


def test_a_review_of_an_unknown_event_or_kind_is_refused(small_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        ig = bearer(small_borough, "ig.olu")
        unknown = {
            "audit_id": "00000000-0000-0000-0000-000000000000",
            "kind": "break_glass",
            "note": "nothing wrong found",
        }
        assert client.post("/v1/audit/alerts/review", json=unknown, headers=ig).status_code == 404
        client.get("/v1/me", headers=ig)
        real = client.get("/v1/audit/events", headers=ig).json()["events"][0]["id"]
        bad_kind = {"audit_id": real, "kind": "made_up", "note": "fine, really"}
        assert client.post("/v1/audit/alerts/review", json=bad_kind, headers=ig).status_code == 422
        analyst = client.post(
            "/v1/audit/alerts/review",
            json={**bad_kind, "kind": "break_glass"},
            headers=bearer(small_borough, "an.priya"),
        )
        assert analyst.status_code == 403


# Production sign-in -----------------------------------------------------------------------------------


class Provider:
    """A small OpenID provider: discovery, authorize (signs the user straight in), token, JWKS."""

    def __init__(self, port: int) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        self.codes: dict[str, dict[str, Any]] = {}
        self.app = FastAPI()
        self.audience = "gateway"
        app = self.app

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            code = f"code-{len(self.codes)}"
            self.codes[code] = {"nonce": q.get("nonce"), "challenge": q.get("code_challenge")}
            back = f"{q['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': q['state']})}"
            return RedirectResponse(back, status_code=302)

        @app.post("/token")
        def token(code: str = Form(...), code_verifier: str = Form(...)) -> dict[str, Any]:
            grant = self.codes.pop(code)
            assert grant["challenge"] and code_verifier, "the client uses PKCE"
            now = int(time.time())
            common = {"iss": self.issuer, "sub": "cw.alice", "iat": now, "nbf": now, "exp": now + 600}
            access = {
                **common,
                "aud": self.audience,
                "name": "Alice Okafor",
                "groups": ["GW-CSC-Caseworkers"],
                "team": "CSC01",
                "employee_id": "SW0001",
            }
            ident = {**common, "aud": "gateway-web", "nonce": grant["nonce"], "auth_time": now}
            header = {"alg": "RS256", "kid": self.key.kid}
            return {
                "access_token": jwt.encode(header, access, self.key),
                "id_token": jwt.encode(header, ident, self.key),
                "token_type": "Bearer",
                "expires_in": 600,
            }


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    port = free_port()
    p = Provider(port)
    server = uvicorn.Server(uvicorn.Config(p.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "the provider did not start"
        time.sleep(0.05)
    yield p
    server.should_exit = True
    thread.join(timeout=10)


def _production(data: Path, provider: Provider, production: Production, tmp_path: Path) -> Settings:
    """The borough's index copied into a migrated PostgreSQL gateway database, keys from files, and the
    provider as the issuer: a production deployment in all but the cluster."""
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [provider.key.as_dict(private=False)]}))
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret\n")
    copy_index(DataDir(data).index_url(), str(normalise(production.settings["database_url"])))
    return Settings(
        data_dir=data,
        **{**production.settings, "issuer": provider.issuer, "jwks_file": jwks},
        oidc_client_id="gateway-web",
        oidc_client_secret_file=secret,
    )


@pytest.mark.postgres
def test_production_signs_in_with_the_councils_identity_provider(
    linked_borough: Path, provider: Provider, production: Production, tmp_path: Path
) -> None:
    app = create_app(_production(linked_borough, provider, production, tmp_path))
    with TestClient(app, base_url="https://gateway.test") as client:
        page = client.get("/ui/sign-in")
        assert "Sign in with your council account" in page.text and "Demo users" not in page.text
        assert client.post("/ui/sign-in", data={"user": "cw.alice"}).status_code == 403, "no demo sign-in"
        start = client.get("/ui/oidc/login", params={"next": "/ui/caseload"}, follow_redirects=False)
        assert start.status_code == 302 and start.headers["location"].startswith(
            f"{provider.issuer}/authorize"
        )
        asked = urllib.parse.parse_qs(urllib.parse.urlparse(start.headers["location"]).query)
        assert asked["client_id"] == ["gateway-web"] and asked["code_challenge_method"] == ["S256"]
        back = httpx.get(start.headers["location"], follow_redirects=False)
        callback = urllib.parse.urlparse(back.headers["location"])
        done = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/ui/caseload"
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "Path=/ui" in cookie
        caseload = client.get("/ui/caseload")
        assert caseload.status_code == 200 and "Alice Okafor" in caseload.text
        events = app.state.services.audit.engine
        from audit.review import EventFilter
        from audit.review import page as audit_page

        latest, _ = audit_page(events, EventFilter(actor="cw.alice"), 1, None)
        assert latest[0]["action"] == "caseload.read" and latest[0]["decision"] == "allow"


@pytest.mark.postgres
def test_a_provider_token_for_another_audience_is_not_a_session(
    linked_borough: Path, provider: Provider, production: Production, tmp_path: Path
) -> None:
    provider.audience = "some-other-service"
    with TestClient(
        create_app(_production(linked_borough, provider, production, tmp_path)),
        base_url="https://gateway.test",
    ) as c:
        start = c.get("/ui/oidc/login", follow_redirects=False)
        back = httpx.get(start.headers["location"], follow_redirects=False)
        callback = urllib.parse.urlparse(back.headers["location"])
        done = c.get(f"{callback.path}?{callback.query}", follow_redirects=False)
        assert done.status_code == 401 and "not accepted by the gateway" in done.text
        assert COOKIE not in done.headers.get("set-cookie", "")


def test_a_refused_extract_request_is_explained_beside_the_form_it_came_from(linked_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=linked_borough))) as client:
        client.cookies.set(COOKIE, sign_token(linked_borough, PRIYA))
        page = client.get("/ui/extracts?dataset=person_records")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {
            "csrf": token,
            "dataset": "person_records",
            "purpose": "AGR-INS-003|supporting_families_evaluation",
            "project": "kept-project-name",
        }
        no_fields = client.post("/ui/extracts", data=form)
        assert no_fields.status_code == 422
        assert "The gateway refused this request" in no_fields.text and "fields" in no_fields.text
        assert 'value="kept-project-name"' in no_fields.text, "what was typed is kept"
        wrong = client.post(
            "/ui/extracts",
            data={**form, "purpose": "AGR-INS-002|service_planning", "fields": ["sex", "ward"]},
        )
        assert wrong.status_code == 403 and "AGR-INS-002" in wrong.text
        mine = client.get("/v1/extracts", headers=bearer(linked_borough, "an.priya")).json()["extracts"]
        assert not [e for e in mine if e["project"] == "kept-project-name"], "nothing was requested"


@pytest.mark.postgres
def test_an_audit_outage_gives_a_503_page_with_a_reference_and_no_data(
    linked_borough: Path, audit_behind_proxy: tuple[str, TcpProxy]
) -> None:
    """The audit log on PostgreSQL behind a TCP hop that is cut: the page shows nothing it read."""
    audit_url, proxy = audit_behind_proxy
    with TestClient(create_app(Settings(data_dir=linked_borough, audit_url=audit_url))) as client:
        _signed_in(client, linked_borough, ALICE)
        before = client.get("/ui/caseload")
        assert before.status_code == 200
        caseload = client.get("/v1/caseload", headers=bearer(linked_borough, "cw.alice")).json()
        first_page = list(dict.fromkeys(p["family_id"] for p in caseload))[:FAMILIES_PER_PAGE]
        names = [str(escape(p["name"])) for p in caseload if p["name"] and p["family_id"] in first_page]
        assert names and all(n in before.text for n in names)
        proxy.cut()
        page = client.get("/ui/caseload")
        assert page.status_code == 503 and "A service is unavailable" in page.text
        assert "could not be recorded" in page.text
        reference = page.text.split("reference <code>", 1)[1].split("</code>", 1)[0]
        assert len(reference) == 32, "a trace id to give the service desk"
        assert not any(n in page.text for n in names), "nothing read before the outage leaks"


def test_only_requesters_and_approvers_may_list_reidentifications(small_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        refused = client.get("/v1/reidentifications", headers=bearer(small_borough, "cw.alice"))
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        for user in ("an.priya", "ra.one"):
            listed = client.get("/v1/reidentifications", headers=bearer(small_borough, user))
            assert listed.status_code == 200 and listed.json() == {"reidentifications": []}
        events = client.get("/v1/audit/events", headers=bearer(small_borough, "ig.olu")).json()["events"]
        listings = [e for e in events if e["action"] == "reidentifications.list"]
        assert [e["decision"] for e in listings] == ["allow", "allow", "deny"]


def test_an_approval_form_without_a_decision_decides_nothing(small_borough: Path) -> None:
    with TestClient(create_app(Settings(data_dir=small_borough))) as client:
        _signed_in(client, small_borough, OLU)
        token = client.get("/ui/approvals").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        extract_id = "0" * 32
        reply = client.post(f"/ui/approvals/{extract_id}", data={"csrf": token}, follow_redirects=False)
        assert reply.status_code == 400 and "Choose approve or reject" in reply.text
        events = client.get("/v1/audit/events", headers=bearer(small_borough, "ig.olu")).json()["events"]
        assert not [e for e in events if e["action"] in ("extracts.approve", "extracts.reject")]


def test_families_are_named_by_their_members_not_an_id() -> None:
    from gateway.web.caseworker import family_name

    assert family_name([{"name": "Alice Okafor"}, {"name": "Ben Okafor"}]) == "Okafor family: Alice, Ben"
    assert family_name([{"name": "Jo Smith"}, {"name": "Sam Patel"}]) == "Smith and Patel family: Jo, Sam"
    assert family_name([{"name": None}]) == ""  # no name held: the page falls back to the id
