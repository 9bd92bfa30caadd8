"""The development token issuer: an RS256 key kept in the data directory, for demo and tests only.

Production mode refuses it (no `gateway token`, no `/.well-known/jwks.json`): real deployments verify
tokens from the council's identity provider through a JWKS file or URL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway.identity.users import DemoUser
from gateway.secret_files import create_once

DEV_ISSUER = "https://gateway.local/dev-issuer"
AUDIENCE = "gateway"
KEY_FILE = "keys/dev-issuer.jwk.json"
ALGORITHM = "RS256"


def _key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def load_or_create_key(data_dir: Path) -> RSAKey:
    path = _key_path(data_dir)
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    if create_once(path, json.dumps(key.as_dict(private=True)).encode()):
        return key
    return RSAKey.import_key(json.loads(path.read_text()))  # another process made it first: use theirs


def public_jwks(data_dir: Path) -> dict[str, Any]:
    return {"keys": [load_or_create_key(data_dir).as_dict(private=False)]}


def key_set(data_dir: Path) -> KeySet:
    return KeySet.import_key_set(public_jwks(data_dir))  # type: ignore[arg-type]  # a JWKS dict


def sign_token(
    data_dir: Path,
    user: DemoUser,
    *,
    ttl: int = 3600,
    issuer: str = DEV_ISSUER,
    audience: str = AUDIENCE,
    now: float | None = None,
) -> str:
    key = load_or_create_key(data_dir)
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user.id,
        "name": user.name,
        "roles": list(user.roles),
        "department": user.department,
        "team": user.team,
        "worker_id": user.worker_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])
