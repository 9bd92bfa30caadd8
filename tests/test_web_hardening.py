"""The web findings replayed: pages without security headers, a signed-out token still reading the
audit log, a demo sign-in with no CSRF token, and tokens accepted with `exp` in 9999."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.header_text import decode_header_text, encode_header_text
from gateway.identity import dev_issuer
from gateway.identity.tokens import InvalidToken
from gateway.identity.users import load_demo_users
from gateway.web.session import COOKIE
from tests.conftest import bearer

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def client(tmp_path: Path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        yield c


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _sign_in(client: TestClient, user: str) -> None:
    page = client.get("/ui/sign-in")
    done = client.post("/ui/sign-in", data={"user": user, "csrf": _csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303, done.text


def test_every_page_and_api_reply_carries_the_security_headers(client):
    _sign_in(client, "ig.olu")
    for path in ("/ui/sign-in", "/ui/", "/ui/audit", "/ui/no-such-page"):
        r = client.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp, path
        assert "default-src 'self'" in csp and "object-src 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    api = client.get("/v1/me", headers=bearer(Path(client.app.state.services.settings.data_dir), "cw.alice"))
    assert api.headers["cache-control"] == "no-store" and api.headers["x-content-type-options"] == "nosniff"


def test_inline_scripts_carry_the_pages_nonce(client):
    _sign_in(client, "an.priya")
    page = client.get("/ui/tables")
    nonce = page.headers["content-security-policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    scripts = page.text.count("<script")
    assert scripts and page.text.count(f'<script nonce="{nonce}">') == scripts


def test_signing_out_ends_the_token_for_the_api_too(client):
    _sign_in(client, "ig.olu")
    token = client.cookies.get(COOKIE)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/audit/events", headers=headers).status_code == 200
    home = client.get("/ui/")
    client.post("/ui/sign-out", data={"csrf": _csrf(home.text)}, follow_redirects=False)
    after = client.get("/v1/audit/events", headers=headers)
    assert after.status_code == 401 and "signed out" in after.json()["detail"]
    client.cookies.set(COOKIE, token, path="/ui")  # the old cookie replayed
    page = client.get("/ui/audit", follow_redirects=False)
    assert page.status_code in (303, 307) and "/ui/sign-in" in page.headers["location"]


def test_another_process_honours_the_sign_out(tmp_path):
    """Revocations live in the gateway database: a second app on the same data dir refuses the token."""
    with TestClient(create_app(Settings(data_dir=tmp_path))) as one:
        _sign_in(one, "ig.olu")
        token = one.cookies.get(COOKIE)
        with TestClient(create_app(Settings(data_dir=tmp_path))) as two:
            headers = {"Authorization": f"Bearer {token}"}
            assert two.get("/v1/me", headers=headers).status_code == 200
            one.post("/ui/sign-out", data={"csrf": _csrf(one.get("/ui/").text)}, follow_redirects=False)
            two.app.state.services.revocations.recheck_seconds = 0
            assert two.get("/v1/me", headers=headers).status_code == 401


def test_the_demo_sign_in_needs_its_form_token(client):
    client.get("/ui/sign-in")
    forged = client.post("/ui/sign-in", data={"user": "ig.olu"}, follow_redirects=False)
    assert forged.status_code == 403 and COOKIE not in forged.cookies
    wrong = client.post("/ui/sign-in", data={"user": "ig.olu", "csrf": "x" * 32}, follow_redirects=False)
    assert wrong.status_code == 403 and COOKIE not in wrong.cookies
    _sign_in(client, "ig.olu")


def test_a_token_living_longer_than_a_day_is_refused(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        olu = load_demo_users(POLICIES).get("ig.olu")
        forever = dev_issuer.sign_token(tmp_path, olu, ttl=int(253402300799 - time.time()))  # exp in 9999
        r = c.get("/v1/me", headers={"Authorization": f"Bearer {forever}"})
        assert r.status_code == 401 and "longer than" in r.json()["detail"]
        with pytest.raises(InvalidToken):
            c.app.state.services.verifier.verify(forever)
        day = dev_issuer.sign_token(tmp_path, olu, ttl=8 * 3600)
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {day}"}).status_code == 200


@given(st.text(min_size=1, max_size=200))
def test_any_text_survives_a_header_as_one_line(text):
    line = encode_header_text(text)
    assert line.isascii() and "\n" not in line and "\r" not in line
    assert decode_header_text(line) == " ".join(text.split())
    # raw UTF-8 bytes, as a server reads them (Latin-1), decode back too
    folded = " ".join(text.split())
    assert decode_header_text(folded.encode("utf-8").decode("latin-1")) == folded
