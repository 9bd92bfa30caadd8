"""Sign-in against a certified OpenID provider (node-oidc-provider, run by `tests/certified_provider.py`):
the gateway in production mode, roles from the directory's groups through policies/identity-claims.yaml.

In Chromium: a caseworker and an IG officer sign in on the provider's own login page (authorization
code with PKCE) and see their pages; sign-out ends the session at both ends. Over the API: the
provider's access token is accepted, a key rotation at the provider is followed, a token from another
issuer or for another audience is refused, clock skew is bounded, and a user whose groups map to no
role is refused with a message that says so."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity.tokens import InvalidToken, Verifier, load_key_set
from gateway.stores.postgres import normalise
from tests.certified_provider import AUDIENCE, CLIENT_ID, CLIENT_SECRET, SCOPE, CertifiedProvider, node_ready
from tests.conftest import Production, copy_index, free_port

pytestmark = pytest.mark.postgres
CHROMIUM = Path("/usr/bin/chromium")


def _skip_without_node() -> None:
    problem = node_ready()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the certified OpenID provider cannot run: {problem}")
        pytest.skip(problem)


class Gateway:
    """The gateway served by uvicorn in a thread, as a browser reaches it."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.app = create_app(settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            assert time.time() < deadline, "the gateway did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[CertifiedProvider]:
    _skip_without_node()
    gateway_port = free_port()
    p = CertifiedProvider(
        free_port(),
        tmp_path,
        redirect_uris=[f"http://127.0.0.1:{gateway_port}/ui/oidc/callback"],
        post_logout_redirect_uris=[f"http://127.0.0.1:{gateway_port}/ui/signed-out"],
    )
    p.gateway_port = gateway_port  # type: ignore[attr-defined]
    p.start()
    yield p
    p.stop()


def _settings(data: Path, provider: CertifiedProvider, production: Production, tmp_path: Path) -> Settings:
    secret = tmp_path / "client-secret"
    secret.write_text(CLIENT_SECRET)
    copy_index(DataDir(data).index_url(), str(normalise(production.settings["database_url"])))
    base = {k: v for k, v in production.settings.items() if k not in ("jwks_file", "issuer")}
    return Settings(
        data_dir=data,
        **base,
        issuer=provider.issuer,
        jwks_url=provider.metadata()["jwks_uri"],
        audience=AUDIENCE,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret_file=secret,
        oidc_scope=f"openid profile {SCOPE}",
    )


def test_the_providers_access_tokens_rotation_issuer_audience_skew_and_unmapped_groups(
    linked_borough: Path, provider: CertifiedProvider, production: Production, tmp_path: Path
) -> None:
    settings = _settings(linked_borough, provider, production, tmp_path)
    with Gateway(settings, provider.gateway_port) as gw:  # type: ignore[attr-defined]
        alice = provider.sign_in("cw.alice")["access_token"]
        me = httpx.get(f"{gw.base}/v1/me", headers={"Authorization": f"Bearer {alice}"}, timeout=30)
        assert me.status_code == 200, me.text
        assert me.json()["roles"] == ["caseworker"] and me.json()["department"] == "childrens_social_care"
        assert me.json()["worker_id"] == "SW0001", "the caseworker id comes from the employee_id claim"
        caseload = httpx.get(
            f"{gw.base}/v1/caseload", headers={"Authorization": f"Bearer {alice}"}, timeout=60
        )
        assert caseload.status_code == 200 and caseload.json(), caseload.text

        carl = provider.sign_in("canteen.carl")["access_token"]
        refused = httpx.get(f"{gw.base}/v1/caseload", headers={"Authorization": f"Bearer {carl}"}, timeout=30)
        assert refused.status_code == 403
        assert "directory groups (All-Staff, Catering) give no role" in refused.json()["detail"]

        # The provider rotates its signing key: the gateway reads the JWKS again for the new key id.
        new_key = provider.rotate()
        rotated = provider.sign_in("ig.olu")["access_token"]
        assert new_key.kid in httpx.get(provider.metadata()["jwks_uri"], timeout=10).text
        events = httpx.get(
            f"{gw.base}/v1/audit/events",
            params={"actor": "cw.alice"},
            headers={"Authorization": f"Bearer {rotated}"},
            timeout=30,
        )
        assert events.status_code == 200, events.text
        assert (
            httpx.get(
                f"{gw.base}/v1/me", headers={"Authorization": f"Bearer {alice}"}, timeout=30
            ).status_code
            == 200
        )

        # Another provider (another issuer), same audience, same users: refused.
        other = CertifiedProvider(
            free_port(), tmp_path, provider.redirect_uris, provider.post_logout_redirect_uris
        )
        other.start()
        try:
            foreign = other.sign_in("ig.olu")["access_token"]
        finally:
            other.stop()
        answer = httpx.get(f"{gw.base}/v1/me", headers={"Authorization": f"Bearer {foreign}"}, timeout=30)
        assert answer.status_code == 401

    # The same token checked for another audience, and at the edges of the allowed clock skew.
    keys = load_key_set(jwks_url=provider.metadata()["jwks_uri"])
    verifier = Verifier(issuer=provider.issuer, audience=AUDIENCE, keys=keys)
    with pytest.raises(InvalidToken):
        Verifier(issuer=provider.issuer, audience="another-service", keys=keys).verify(rotated)
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(rotated.split(".")[1] + "=="))
    verifier.verify(rotated, now=claims["exp"] + verifier.leeway - 1)
    with pytest.raises(InvalidToken):
        verifier.verify(rotated, now=claims["exp"] + verifier.leeway + 1)
    with pytest.raises(InvalidToken):
        verifier.verify(rotated, now=claims["iat"] - 3600)  # issued in the future beyond the skew


def test_staff_sign_in_on_the_providers_page_and_sign_out_at_both_ends(
    linked_borough: Path, provider: CertifiedProvider, production: Production, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs it")
    playwright_api = pytest.importorskip("playwright.sync_api")
    settings = _settings(linked_borough, provider, production, tmp_path)
    with Gateway(settings, provider.gateway_port) as gw, playwright_api.sync_playwright() as p:  # type: ignore[attr-defined]
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            for login, landing, expected in (
                ("cw.alice", "/ui/caseload", "My caseload"),
                ("ig.olu", "/ui/audit", "Audit log"),
            ):
                page = browser.new_context().new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{gw.base}{landing}")
                page.get_by_role("link", name="Sign in with your council account").click()
                assert page.url.startswith(provider.issuer), "the provider's own login page"
                page.fill("input[name=login]", login)
                page.fill("input[name=password]", "any password")
                page.click("button[type=submit]")
                page.click("button[type=submit]")  # the provider's consent page: continue
                page.wait_for_url(f"{gw.base}{landing}*")
                assert (
                    expected in page.locator("main").inner_text()
                    or expected in page.locator("nav").inner_text()
                )
                name = page.get_by_test_id("signed-in-as").inner_text()
                assert name == {"cw.alice": "Alice Okafor", "ig.olu": "Olu Adeyemi"}[login]
                if login == "ig.olu":
                    assert page.locator("[data-testid=events]").count() == 1 or "Audit" in page.title()

                    # Sign out: the gateway's session ends and so does the provider's.
                    page.get_by_role("button", name="Sign out").click()
                    page.wait_for_url(lambda url: url.startswith(provider.issuer) or "/ui/sign-in" in url)
                    assert page.url.startswith(provider.issuer), "the provider's end-session page"
                    page.get_by_role("button", name="Yes, sign me out").click()
                    page.wait_for_url(f"{gw.base}/ui/sign-in*")
                    assert "signed out" in page.locator("main").inner_text()
                    page.goto(f"{gw.base}/ui/audit")
                    assert "/ui/sign-in" in page.url, "the gateway session is gone"
                    page.get_by_role("link", name="Sign in with your council account").click()
                    assert page.locator("input[name=login]").count() == 1, "the provider asks again"
        finally:
            browser.close()
