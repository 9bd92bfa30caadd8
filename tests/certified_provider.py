"""A certified OpenID provider for the tests: `tests/oidc_provider/provider.mjs` (node-oidc-provider,
installed by `make test` with `npm ci`) started on a free port with the council directory of
`DIRECTORY`, stopped afterwards, and restarted with a new signing key to test rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import RSAKey

HERE = Path(__file__).parent / "oidc_provider"
AUDIENCE = "gateway"
SCOPE = "gateway"
CLIENT_ID = "gateway-web"
CLIENT_SECRET = "gateway-web-secret"

# The council's directory as the provider holds it: group names as an Entra ID or Keycloak directory
# would send them (policies/identity-claims.yaml maps them to the policy's roles).
DIRECTORY: dict[str, dict[str, Any]] = {
    "cw.alice": {
        "name": "Alice Okafor",
        "groups": ["GW-CSC-Caseworkers", "All-Staff"],
        "employee_id": "SW0001",
        "team": "CSC01",
    },
    "ig.olu": {"name": "Olu Adeyemi", "groups": ["GW-Information-Governance", "All-Staff"], "team": "IG01"},
    "canteen.carl": {"name": "Carl Cook", "groups": ["All-Staff", "Catering"]},
}


def node_ready() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return f"run `npm ci --prefix {HERE}` (make test does)"
    return None


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class CertifiedProvider:
    port: int
    workdir: Path
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    keys: list[RSAKey] = field(default_factory=lambda: [new_key("key-1")])
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DIRECTORY))
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "port": self.port,
            "audience": AUDIENCE,
            "scope": SCOPE,
            "keys": {"keys": [k.as_dict(private=True) for k in self.keys]},
            "users": self.users,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": self.redirect_uris,
                    "post_logout_redirect_uris": self.post_logout_redirect_uris,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            ],
        }

    def start(self) -> CertifiedProvider:
        problem = node_ready()
        if problem:
            raise RuntimeError(problem)
        cfg = self.workdir / f"provider-{self.port}.json"
        cfg.write_text(json.dumps(self.config()))
        log = (self.workdir / f"provider-{self.port}.log").open("ab")
        self._proc = subprocess.Popen(["node", str(HERE / "provider.mjs"), str(cfg)], stdout=log, stderr=log)
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self._proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the provider did not start: see {log.name}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def rotate(self) -> RSAKey:
        """A new signing key, the old one still published (as a provider rotates): a restart."""
        key = new_key(f"key-{len(self.keys) + 1}")
        self.keys = [key, *self.keys]
        self.stop()
        self.start()
        return key

    def metadata(self) -> dict[str, Any]:
        return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()

    def sign_in(self, login: str, redirect_uri: str | None = None) -> dict[str, Any]:
        """The authorization code flow with PKCE as a browser would go through it, through the provider's
        own login and consent pages, then the code exchanged: the provider's token response."""
        redirect_uri = redirect_uri or self.redirect_uris[0]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": f"openid profile {SCOPE}",
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        with httpx.Client(base_url=self.issuer, timeout=20) as browser:
            reply = browser.get("/auth", params=params)
            for _ in range(10):
                if reply.status_code in (302, 303):
                    location = reply.headers["location"]
                    if location.startswith(redirect_uri):
                        query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
                        break
                    reply = browser.get(location)
                    continue
                action = re.search(r'action="([^"]+)"', reply.text)
                assert action, reply.text[:500]
                prompt = re.search(r'name="prompt" value="(\w+)"', reply.text)
                form = {"prompt": prompt.group(1) if prompt else "consent"}
                if form["prompt"] == "login":
                    form |= {"login": login, "password": "any"}
                reply = browser.post(action.group(1), data=form)
            else:
                raise AssertionError("the provider did not redirect back with a code")
        assert "code" in query, query
        token = httpx.post(
            self.metadata()["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=20,
        )
        assert token.status_code == 200, token.text
        return token.json()


def main() -> None:
    """Run the provider for a gateway started by hand (`make demo` with the settings this prints), so
    the demo signs in through a certified provider as production does."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=9000, help="the provider's port")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="where the gateway serves")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
    secret = work / "client-secret"
    secret.write_text(CLIENT_SECRET)
    provider = CertifiedProvider(
        args.port,
        work,
        redirect_uris=[f"{args.gateway}/ui/oidc/callback"],
        post_logout_redirect_uris=[f"{args.gateway}/ui/signed-out"],
    ).start()
    print(f"provider at {provider.issuer}; users: {', '.join(provider.users)} (any password)")
    print("start the gateway with:")
    print(
        f"  GATEWAY_ISSUER={provider.issuer} GATEWAY_JWKS_URL={provider.metadata()['jwks_uri']} "
        f"GATEWAY_AUDIENCE={AUDIENCE} GATEWAY_OIDC_CLIENT_ID={CLIENT_ID} "
        f"GATEWAY_OIDC_CLIENT_SECRET_FILE={secret} GATEWAY_OIDC_SCOPE='openid profile {SCOPE}' make demo"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        provider.stop()


if __name__ == "__main__":
    main()
