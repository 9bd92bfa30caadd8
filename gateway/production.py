"""What production mode refuses: every development default that is safe on a laptop and wrong in a
council's cluster.

Demo mode makes what it lacks (a development token issuer, SQLite files, keys generated into the data
directory). Production mode makes nothing: a key generated on start-up differs per replica and dies with
the pod, a SQLite file cannot be shared by several processes on several nodes, and the development
issuer signs tokens for anyone who can read its key. So `create_app` and `gateway serve` check every
such setting before anything is opened and list each one that is missing, by the name an operator sets
(`GATEWAY_...`), so one failed rollout tells them everything to fix.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.config import Settings
from gateway.identity.dev_issuer import DEV_ISSUER
from gateway.privacy.keys import ENV_VAR as PSEUDONYM_KEY_VAR
from gateway.privacy.pseudonyms import MASTER_KEY_BYTES

SESSION_SECRET_BYTES = 32


@dataclass(frozen=True)
class Problem:
    setting: str  # the Settings field
    message: str

    @property
    def variable(self) -> str:
        return f"GATEWAY_{self.setting.upper()}"

    def __str__(self) -> str:
        return f"{self.setting} ({self.variable}): {self.message}"


class ProductionNotReady(RuntimeError):
    """Production mode was asked for with development defaults still in place; nothing was started."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"production mode refuses to start; set or fix:\n{listed}")


def _readable(path: Path | None) -> str | None:
    """None if the file can be read, else why not."""
    if path is None:
        return "not set"
    p = Path(path)
    if not p.is_file():
        return f"{p} does not exist or is not a file"
    if not os.access(p, os.R_OK):
        return f"{p} cannot be read by this process"
    return None


def _identity(settings: Settings) -> list[Problem]:
    problems = []
    if settings.issuer == DEV_ISSUER:
        problems.append(
            Problem("issuer", "is the development issuer; set your identity provider's issuer URL")
        )
    if not (settings.jwks_url or settings.jwks_file):
        problems.append(Problem("jwks_url", "not set; the identity provider's JWKS URL (or jwks_file)"))
    elif settings.jwks_file is not None and (why := _readable(settings.jwks_file)):
        problems.append(Problem("jwks_file", why))
    return problems


def _postgres(setting: str, url: str, what: str) -> list[Problem]:
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        return [Problem(setting, f"the {what} URL is not a database URL")]
    if not driver.startswith("postgresql"):
        return [
            Problem(
                setting,
                f"the {what} is {driver.split('+')[0]} (a development default); "
                "production needs a PostgreSQL URL shared by every replica",
            )
        ]
    return []


def _checkpoint_key(path: Path | None) -> list[Problem]:
    if path is None:
        return [Problem("audit_key_file", "not set; the Ed25519 key that signs audit checkpoints (PEM)")]
    if why := _readable(path):
        return [Problem("audit_key_file", why)]
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        return [Problem("audit_key_file", f"{path} is not an unencrypted PEM private key ({exc})")]
    if not isinstance(key, Ed25519PrivateKey):
        return [Problem("audit_key_file", f"{path} is not an Ed25519 key")]
    return []


def _pseudonym_key(settings: Settings) -> list[Problem]:
    if raw := os.environ.get(PSEUDONYM_KEY_VAR):
        try:
            ok = len(base64.b64decode(raw.strip(), validate=True)) >= MASTER_KEY_BYTES
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            return [
                Problem(
                    "pseudonym_key_file",
                    f"{PSEUDONYM_KEY_VAR} is set but is not base64 of {MASTER_KEY_BYTES} or more bytes",
                )
            ]
        return []
    if settings.pseudonym_key_file is not None:
        if why := _readable(settings.pseudonym_key_file):
            return [Problem("pseudonym_key_file", why)]
        return []
    if settings.pseudonym_key_provider:
        return []  # a plug-in (a KMS): asked for the key when an extract is built, not at start-up
    return [
        Problem(
            "pseudonym_key_file",
            f"not set; the pseudonymisation master key file (or {PSEUDONYM_KEY_VAR}, "
            "or pseudonym_key_provider for a KMS)",
        )
    ]


def _session_secret(path: Path | None) -> list[Problem]:
    if path is None:
        return [
            Problem(
                "session_secret_file",
                "not set; every replica must share the secret that signs web forms and sign-in state",
            )
        ]
    if why := _readable(path):
        return [Problem("session_secret_file", why)]
    if len(Path(path).read_bytes().strip()) < SESSION_SECRET_BYTES:
        return [Problem("session_secret_file", f"{path} holds fewer than {SESSION_SECRET_BYTES} bytes")]
    return []


def production_problems(settings: Settings) -> list[Problem]:
    """Every development default still in place, in the order an operator would fix them."""
    problems = _identity(settings)
    problems += _postgres("database_url", settings.gateway_db_url(), "gateway database")
    problems += _postgres("audit_url", settings.audit_db_url(), "audit store")
    problems += _checkpoint_key(settings.audit_key_file)
    problems += _pseudonym_key(settings)
    problems += _session_secret(settings.session_secret_file)
    if settings.oidc_client_secret_file is not None and (why := _readable(settings.oidc_client_secret_file)):
        problems.append(Problem("oidc_client_secret_file", why))
    return problems


def require_production_ready(settings: Settings) -> None:
    if settings.mode != "production":
        return
    problems = production_problems(settings)
    if problems:
        raise ProductionNotReady(problems)
