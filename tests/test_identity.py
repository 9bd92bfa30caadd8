"""Bearer tokens: the development issuer's tokens verify; every attack is refused with 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.config import Settings
from gateway.identity.dev_issuer import AUDIENCE, DEV_ISSUER, load_or_create_key, public_jwks, sign_token
from gateway.identity.tokens import CLOCK_SKEW_SECONDS, InvalidToken, Verifier
from gateway.identity.users import load_demo_users

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def alice():
    return load_demo_users(POLICIES).get("cw.alice")


@pytest.fixture
def client(data_dir: Path):
    with TestClient(create_app(Settings(data_dir=data_dir))) as c:
        yield c


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**over):
    now = int(time.time())
    base = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "cw.alice",
        "name": "Alice",
        "roles": ["caseworker"],
        "department": "childrens_social_care",
        "team": "CSC01",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return {**base, **over}


def _signed(data_dir: Path, claims: dict, key=None, alg: str = "RS256") -> str:
    key = key or load_or_create_key(data_dir)
    return jwt.encode({"alg": alg, "kid": getattr(key, "kid", None) or "k"}, claims, key, algorithms=[alg])


def test_a_dev_token_verifies_and_names_the_user(client, data_dir, alice):
    token = sign_token(data_dir, alice)
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sub"] == "cw.alice" and body["roles"] == ["caseworker"] and body["team"] == "CSC01"
    assert [a["id"] for a in body["agreements"]] == ["AGR-CSC-001"]
    assert "child_protection_enquiry" in body["purposes"]


def _attacks(data_dir: Path) -> dict[str, str]:
    key = load_or_create_key(data_dir)
    good = _signed(data_dir, _claims())
    header, payload, signature = good.split(".")
    other_rsa = RSAKey.generate_key(2048, parameters={"kid": key.kid})
    public_pem = key.as_pem(private=False)
    # The classic key-confusion attack: HMAC-SHA256 keyed with the issuer's public key (built by hand,
    # since joserfc itself refuses to treat a public key as an HMAC secret).
    hs_signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64(_claims())}"
    hs_signature = (
        base64.urlsafe_b64encode(hmac.new(public_pem, hs_signing_input.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    now = int(time.time())
    return {
        "no token": "",
        "garbage": "not-a-jwt",
        "unsigned alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "HS256 signed with the public key": f"{hs_signing_input}.{hs_signature}",
        "signed by another key": _signed(data_dir, _claims(), key=other_rsa),
        "ES256 from a key not in the JWKS": _signed(
            data_dir, _claims(), key=ECKey.generate_key("P-256"), alg="ES256"
        ),
        "tampered payload": f"{header}.{_b64(_claims(roles=['ig_officer']))}.{signature}",
        "expired": _signed(data_dir, _claims(exp=now - 120, iat=now - 720, nbf=now - 720)),
        "not yet valid": _signed(data_dir, _claims(nbf=now + 600, exp=now + 1200)),
        "wrong audience": _signed(data_dir, _claims(aud="another-service")),
        "wrong issuer": _signed(data_dir, _claims(iss="https://evil.example")),
        "no subject": _signed(data_dir, {k: v for k, v in _claims().items() if k != "sub"}),
        "no expiry": _signed(data_dir, {k: v for k, v in _claims().items() if k != "exp"}),
        "roles not a list": _signed(data_dir, _claims(roles="ig_officer")),
    }


ATTACKS = [
    "no token",
    "garbage",
    "unsigned alg none",
    "HS256 signed with the public key",
    "signed by another key",
    "ES256 from a key not in the JWKS",
    "tampered payload",
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "no subject",
    "no expiry",
    "roles not a list",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_token_attack_gets_401(client, data_dir, attack):
    token = _attacks(data_dir)[attack]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for path in ("/v1/me", "/v1/agreements", "/v1/catalogue"):
        r = client.get(path, headers=headers)
        assert r.status_code == 401, (attack, path, r.text)
        assert r.json()["error"] == "unauthenticated" and r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_small_clock_skew_is_tolerated(data_dir):
    verifier = Verifier(DEV_ISSUER, AUDIENCE, KeySet.import_key_set(public_jwks(data_dir)))
    now = int(time.time())
    assert verifier.verify(_signed(data_dir, _claims(nbf=now + 10)), now=now).sub == "cw.alice"
    with pytest.raises(InvalidToken):
        verifier.verify(_signed(data_dir, _claims(nbf=now + 120)), now=now)


def test_a_verified_token_is_reused_only_while_valid_and_under_the_same_keys(data_dir):
    verifier = Verifier(DEV_ISSUER, AUDIENCE, KeySet.import_key_set(public_jwks(data_dir)))
    now = int(time.time())
    token = _signed(data_dir, _claims(exp=now + 600))
    assert verifier.verified(token) is None, "never verified: the signature must be checked first"
    first = verifier.verify(token)
    assert verifier.verified(token) is first
    other = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")  # not byte for byte the same token
    assert verifier.verified(other) is None
    with pytest.raises(InvalidToken):
        verifier.verify(other)
    expired_by = now + 600 + CLOCK_SKEW_SECONDS + 1
    assert verifier.verified(token, now=expired_by) is None, "an expired token is verified again"
    with pytest.raises(InvalidToken):
        verifier.verify(token, now=expired_by)
    verifier.verify(token)
    verifier.keys = KeySet.import_key_set(public_jwks(data_dir))  # a new key set, as after a rotation
    assert verifier.verified(token) is None
    future = _signed(data_dir, _claims(nbf=now + 3600, exp=now + 7200))
    verifier.verify(future, now=now + 3600)  # a check at a given time is not remembered
    assert verifier.verified(future) is None


def test_symmetric_algorithms_cannot_be_configured(data_dir):
    with pytest.raises(ValueError, match="HS256"):
        Verifier(DEV_ISSUER, AUDIENCE, KeySet.import_key_set(public_jwks(data_dir)), algorithms=["HS256"])


def test_jwks_serves_public_keys_only(client):
    body = client.get("/.well-known/jwks.json").json()
    assert body["keys"] and all("d" not in k and k["kty"] == "RSA" for k in body["keys"])


@pytest.mark.postgres
def test_production_mode_turns_the_dev_issuer_off(tmp_path, monkeypatch, production):
    settings = Settings(data_dir=tmp_path, **production.settings)
    with TestClient(create_app(settings)) as c:
        assert c.get("/.well-known/jwks.json").status_code == 404
    monkeypatch.setenv("GATEWAY_MODE", "production")
    monkeypatch.setenv("GATEWAY_JWKS_FILE", str(production.settings["jwks_file"]))
    result = CliRunner().invoke(cli, ["token", "cw.alice", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "production" in result.output
    assert not (tmp_path / "keys").exists(), "production generated no development key"


@pytest.mark.postgres
def test_production_mode_accepts_the_identity_providers_tokens(tmp_path, production):
    settings = Settings(data_dir=tmp_path, **production.settings)
    token = production.token(**{k: v for k, v in _claims().items() if k not in ("iss", "aud", "exp", "nbf")})
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        dev = sign_token(tmp_path, load_demo_users(POLICIES).get("cw.alice"))
        assert c.get("/v1/me", headers={"Authorization": f"Bearer {dev}"}).status_code == 401


def test_token_cli_prints_a_working_token(client, data_dir):
    result = CliRunner().invoke(cli, ["token", "an.priya", "--data-dir", str(data_dir), "--ttl", "60"])
    assert result.exit_code == 0, result.output
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {result.output.strip()}"})
    assert r.json()["sub"] == "an.priya" and r.json()["roles"] == ["analyst"]


def test_a_rotated_provider_key_is_fetched_once_a_token_names_it(tmp_path):
    """The provider publishes a new key and signs with it: the verifier reads the JWKS URL again,
    no more often than `refresh_every`, and a key id the provider never published stays refused."""
    import http.server
    import threading

    old = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    new = RSAKey.generate_key(2048, parameters={"kid": "idp-2"})
    published = {"keys": [old.as_dict(private=False)]}
    fetches = []

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetches.append(self.path)
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
    try:
        from gateway.identity.tokens import load_key_set

        verifier = Verifier(
            "https://login.example",
            AUDIENCE,
            load_key_set(None, url),
            refresh=lambda: load_key_set(None, url),
        )

        def signed(key):
            header = {"alg": "RS256", "kid": key.kid}
            return jwt.encode(header, _claims(iss="https://login.example"), key, algorithms=["RS256"])

        assert verifier.verify(signed(old)).sub == "cw.alice" and len(fetches) == 1
        published["keys"].append(new.as_dict(private=False))
        assert verifier.verify(signed(new)).sub == "cw.alice" and len(fetches) == 2
        stranger = RSAKey.generate_key(2048, parameters={"kid": "idp-9"})
        with pytest.raises(InvalidToken):
            verifier.verify(signed(stranger))
        with pytest.raises(InvalidToken):
            verifier.verify(signed(stranger))
        assert len(fetches) == 2, "within a minute of the last fetch, unknown key ids fetch nothing"
    finally:
        server.shutdown()
