"""Shared fixtures: small synthetic boroughs made by the project's own generator, and PostgreSQL
databases created per test and dropped afterwards."""

from __future__ import annotations

import csv
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from gateway.departments import STORE_NAMES
from gateway.seed import seed
from gateway.stores.postgres import drop_database
from gateway.testing.faults import TcpHop

# Shared CI machines are noisy; property tests are about behaviour, not speed.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")

PG_SERVER = os.environ.get("GATEWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BOROUGH_PEOPLE = 20_000


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except OperationalError as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def borough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default-noise 20k borough in SQLite, generated once per test session (a few seconds)."""
    root = tmp_path_factory.mktemp("borough")
    seed(root, people=BOROUGH_PEOPLE)
    return root


@pytest.fixture(scope="session")
def linked_borough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default-noise 20k borough with its person index built (about 15 seconds, once per worker)."""
    from gateway.datadir import DataDir
    from gateway.index.build import build_index

    root = tmp_path_factory.mktemp("linked")
    seed(root, people=BOROUGH_PEOPLE)
    build_index(DataDir(root))
    return root


@pytest.fixture(scope="session")
def analysis_borough(linked_borough: Path) -> Path:
    """The linked 20k borough with its analysis store built (a few seconds more)."""
    from gateway.analysis.build import build_analysis
    from gateway.datadir import DataDir

    build_analysis(DataDir(linked_borough))
    return linked_borough


@pytest.fixture
def small_borough(tmp_path: Path) -> Path:
    """A 1,500-resident borough of this test's own (under a second to make)."""
    seed(tmp_path, people=1_500)
    return tmp_path


@pytest.fixture
def pg_prefix() -> Iterator[str]:
    """A unique database-name prefix on the local server; every database made under it is dropped."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    prefix = f"gwt_{uuid.uuid4().hex[:10]}_"
    base = PG_SERVER.rsplit("/", 1)[0]
    yield f"{base}/{prefix}"
    for store in STORE_NAMES:
        drop_database(f"{base}/{prefix}{store}")
    engine = create_engine(PG_SERVER)  # and anything else the test made under its prefix
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{prefix}%"}
        ).scalars()
        leftover = list(names)
    engine.dispose()
    for name in leftover:
        drop_database(f"{base}/{name}")


@pytest.fixture
def audit_behind_proxy(pg_prefix: str) -> Iterator[tuple[str, TcpProxy]]:
    """A PostgreSQL audit database of this test's own, reached through a TCP hop the test can cut."""
    url = f"{pg_prefix}proxied_audit"
    proxy = TcpProxy(("127.0.0.1", 5432))
    yield url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), proxy
    drop_database(url)


@dataclass
class Production:
    """A production deployment's settings: PostgreSQL for the gateway database and the audit store
    (migrated, as the Helm chart's Job would), key files, and an identity provider's key of our own."""

    settings: dict[str, Any]
    idp: Any  # joserfc RSAKey
    issuer: str = "https://login.example"

    def token(self, **claims: Any) -> str:
        from joserfc import jwt

        now = int(time.time())
        base = {"iss": self.issuer, "aud": "gateway", "iat": now, "nbf": now, "exp": now + 600}
        return jwt.encode(
            {"alg": "RS256", "kid": "idp-1"}, {**base, **claims}, self.idp, algorithms=["RS256"]
        )

    def as_user(self, user_id: str) -> dict[str, str]:
        """A bearer header for a demo user's identity, as the council's provider would issue it."""
        from gateway.config import _default_policies_dir
        from gateway.identity.users import load_demo_users

        user = load_demo_users(_default_policies_dir()).get(user_id)
        claims = {"sub": user.id, "name": user.name, "groups": directory_groups(user.roles, user.department)}
        claims |= {"team": user.team, "employee_id": user.worker_id}
        return {"Authorization": f"Bearer {self.token(**claims)}"}


def directory_groups(roles: Any, department: str | None) -> list[str]:
    """The directory groups that give these roles in this department (policies/identity-claims.yaml),
    as the council's provider would list them in a token."""
    import yaml

    from gateway.config import _default_policies_dir

    mapping = yaml.safe_load((_default_policies_dir() / "identity-claims.yaml").read_text())["groups"]
    found = [
        name
        for name, grant in mapping.items()
        if set(grant["roles"]) <= set(roles) and grant.get("department") in (None, department)
    ]
    assert found, f"no directory group gives {roles} in {department}"
    return found


def production_keys(where: Path) -> dict[str, Any]:
    """Key files as an operator mounts them from Secrets (nothing generated by the gateway)."""
    import base64
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    where.mkdir(parents=True, exist_ok=True)
    audit_key = where / "audit-checkpoint.pem"
    audit_key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pseudonym = where / "pseudonym-master.key"
    pseudonym.write_bytes(base64.b64encode(secrets.token_bytes(32)))
    session = where / "session-secret"
    session.write_bytes(secrets.token_hex(32).encode())
    return {"audit_key_file": audit_key, "pseudonym_key_file": pseudonym, "session_secret_file": session}


@pytest.fixture
def production(pg_prefix: str, tmp_path: Path) -> Production:
    from joserfc.jwk import RSAKey

    from gateway.migrations import runner as migrations

    idp = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [idp.as_dict(private=False)]}))
    settings: dict[str, Any] = {
        "mode": "production",
        "issuer": "https://login.example",
        "jwks_file": jwks,
        "database_url": f"{pg_prefix}gateway",
        "audit_url": f"{pg_prefix}audit",
        "audit_anchor_file": tmp_path / "audit-checkpoints.jsonl",
        **production_keys(tmp_path / "secrets"),
    }
    migrations.upgrade(settings["database_url"], "gateway")
    migrations.upgrade(settings["audit_url"], "audit")
    return Production(settings, idp)


def copy_index(from_url: str, to_url: str) -> None:
    """Put an already linked index into another (migrated) gateway database, rows unchanged."""
    from gateway.index import schema

    source, target = create_engine(from_url), create_engine(to_url)
    with source.connect() as src, target.begin() as dst:
        for table in schema.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(table.select())]
            for i in range(0, len(rows), 5000):
                dst.execute(table.insert(), rows[i : i + 5000])
    source.dispose()
    target.dispose()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def bearer(data_dir: Path, user_id: str) -> dict[str, str]:
    """Authorization header with a development-issuer token for a demo user."""
    from gateway.config import _default_policies_dir
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users

    user = load_demo_users(_default_policies_dir()).get(user_id)
    return {"Authorization": f"Bearer {sign_token(data_dir, user)}"}


def free_port() -> int:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base_url: str, proc: object, timeout: float = 120.0) -> None:
    """Block until a gateway subprocess answers /healthz; fail if it dies or never does."""
    import time

    import httpx

    deadline = time.time() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the gateway process exited with {proc.returncode}"  # type: ignore[attr-defined]
        assert time.time() < deadline, "the gateway process did not start in time"
        time.sleep(0.2)


class TcpProxy(TcpHop):
    """A real TCP hop in front of PostgreSQL that the test can cut, as a network failure would."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)


def fresh_budgets(root: Path) -> None:
    """Start a test module with no privacy budget spent and no stored answers in this borough's gateway
    database: the session-scoped borough is shared by several modules, and each plays its own analyst."""
    from gateway.datadir import DataDir
    from gateway.privacy.budget import answers, budgets, spends

    engine = create_engine(DataDir(root).index_url())
    try:
        with engine.begin() as conn:
            for table in (answers, spends, budgets):
                conn.execute(table.delete())
    finally:
        engine.dispose()
