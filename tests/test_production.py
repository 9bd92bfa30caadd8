"""Production mode on real PostgreSQL: every development default is refused by name, schemas come from
migrations (an empty database is upgraded and the service runs on it), and an unmigrated database stops
the service instead of being changed by it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from typer.testing import CliRunner

from audit import schema as audit_schema
from gateway.api.app import create_app
from gateway.cli import app as cli
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.extracts import store as extract_schema
from gateway.index import schema as index_schema
from gateway.migrations import runner as migrations
from gateway.production import ProductionNotReady, production_problems
from gateway.stores.postgres import normalise

from .conftest import Production, copy_index

pytestmark = pytest.mark.postgres

# Each case: what an operator left out (or left at its development default), and the setting named.
MISSING = {
    "issuer": {"issuer": "https://gateway.local/dev-issuer"},
    "jwks_url": {"jwks_file": None},
    "database_url": {"database_url": None},
    "audit_url": {"audit_url": None},
    "audit_key_file": {"audit_key_file": None},
    "pseudonym_key_file": {"pseudonym_key_file": None},
    "session_secret_file": {"session_secret_file": None},
}


@pytest.mark.parametrize("setting", sorted(MISSING))
def test_production_refuses_each_missing_setting_by_name(
    setting: str, production: Production, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, **{**production.settings, **MISSING[setting]})
    with pytest.raises(ProductionNotReady) as refused:
        create_app(settings)
    named = [p.setting for p in refused.value.problems]
    assert named == [setting], f"exactly the missing setting is named: {named}"
    assert f"GATEWAY_{setting.upper()}" in str(refused.value)
    assert not data.exists(), "nothing was created on the way to refusing (no keys, no SQLite files)"


def test_production_names_unusable_files_and_a_short_secret(production: Production, tmp_path: Path) -> None:
    short = tmp_path / "short-secret"
    short.write_text("abc")
    not_ed25519 = tmp_path / "rsa.pem"
    not_ed25519.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    settings = Settings(
        data_dir=tmp_path / "data",
        **{
            **production.settings,
            "session_secret_file": short,
            "audit_key_file": not_ed25519,
            "pseudonym_key_file": tmp_path / "gone.key",
            "jwks_file": tmp_path / "gone.json",
        },
    )
    problems = {p.setting: p.message for p in production_problems(settings)}
    assert set(problems) == {"jwks_file", "audit_key_file", "pseudonym_key_file", "session_secret_file"}
    assert "does not exist" in problems["jwks_file"] and "does not exist" in problems["pseudonym_key_file"]
    assert "PEM" in problems["audit_key_file"] and "fewer than 32 bytes" in problems["session_secret_file"]


def test_serve_lists_every_problem_and_exits_without_serving(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_MODE"] = "production"
    result = CliRunner(env=env).invoke(cli, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    for variable in ("GATEWAY_ISSUER", "GATEWAY_JWKS_URL", "GATEWAY_DATABASE_URL", "GATEWAY_AUDIT_URL"):
        assert variable in result.output
    for variable in ("GATEWAY_AUDIT_KEY_FILE", "GATEWAY_PSEUDONYM_KEY_FILE", "GATEWAY_SESSION_SECRET_FILE"):
        assert variable in result.output
    assert not (tmp_path / "keys").exists() and not (tmp_path / "audit.db").exists()


def test_an_unmigrated_database_stops_production_and_is_left_untouched(
    production: Production, pg_prefix: str, tmp_path: Path
) -> None:
    from gateway.stores.postgres import create_database

    empty = f"{pg_prefix}empty"
    create_database(empty)
    settings = Settings(data_dir=tmp_path, **{**production.settings, "database_url": empty})
    with pytest.raises(migrations.SchemaOutOfDate, match="gateway db upgrade"):
        create_app(settings)
    engine = sa.create_engine(normalise(empty))
    assert sa.inspect(engine).get_table_names() == [], "production does not migrate on its own"
    engine.dispose()


def _schema_drift(url: str, metadata: sa.MetaData) -> list[object]:
    engine = sa.create_engine(normalise(url) if url.startswith("postgresql") else url)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return [d for d in drift if not (isinstance(d, tuple) and d[0] == "remove_table")]


def _gateway_metadata() -> sa.MetaData:
    combined = sa.MetaData()
    from gateway.exchanges import store as exchanges
    from gateway.identity import revocation
    from gateway.policy import drafts
    from gateway.privacy import budget

    every = (index_schema.metadata, extract_schema.metadata, revocation.metadata, budget.metadata)
    for metadata in (*every, drafts.metadata, exchanges.metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def test_db_upgrade_builds_an_empty_postgresql_database_and_the_service_runs_on_it(
    linked_borough: Path, pg_prefix: str, tmp_path: Path
) -> None:
    from .conftest import production_keys

    gateway_url, audit_url = f"{pg_prefix}gateway", f"{pg_prefix}audit"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATABASE_URL": gateway_url, "GATEWAY_AUDIT_URL": audit_url}
    runner = CliRunner(env=env)

    behind = runner.invoke(cli, ["db", "current", "--data-dir", str(tmp_path)])
    assert behind.exit_code == 1 and "run gateway db upgrade" in behind.output
    upgraded = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert upgraded.exit_code == 0, upgraded.output
    gateway_head = migrations.head("gateway")
    assert (
        f"gateway: empty -> {gateway_head}" in upgraded.output and "audit: empty -> a0001" in upgraded.output
    )
    again = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert f"already at {gateway_head}" in again.output and "already at a0001" in again.output
    current = runner.invoke(cli, ["db", "current", "--data-dir", str(tmp_path)])
    assert current.exit_code == 0 and f"gateway {gateway_head} head {gateway_head}" in current.output

    # The migrated schema is exactly what the code's table definitions describe.
    assert _schema_drift(gateway_url, _gateway_metadata()) == []
    assert _schema_drift(audit_url, audit_schema.metadata) == []

    # The service runs on it: an index linked elsewhere is loaded, a caseworker asks for flags.
    copy_index(DataDir(linked_borough).index_url(), str(normalise(gateway_url)))
    production = Production(settings={}, idp=RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [production.idp.as_dict(private=False)]}))
    settings = Settings(
        mode="production",
        data_dir=linked_borough,
        issuer=production.issuer,
        jwks_file=jwks,
        database_url=gateway_url,
        audit_url=audit_url,
        audit_anchor_file=tmp_path / "anchor.jsonl",
        **production_keys(tmp_path / "secrets"),
    )
    alice = {
        "sub": "cw.alice",
        "name": "Alice Okafor",
        "groups": ["GW-CSC-Caseworkers"],
        "team": "CSC01",
        "employee_id": "SW0001",
    }
    headers = {"Authorization": f"Bearer {production.token(**alice)}"}
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        caseload = client.get("/v1/caseload", headers=headers)
        assert caseload.status_code == 200 and caseload.json(), caseload.text
        person = caseload.json()[0]["person_id"]
        flags = client.get(
            f"/v1/persons/{person}/flags", params={"purpose": "child_protection_enquiry"}, headers=headers
        )
        assert flags.status_code == 200, flags.text
        audit_id = flags.json()["audit_id"]
    engine = sa.create_engine(normalise(audit_url))
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(audit_schema.events).where(audit_schema.events.c.id == audit_id))
            .one()
            ._mapping
        )
    engine.dispose()
    assert row["actor"] == "cw.alice" and json.loads(row["subject_ids"]) == [person]
    verified = runner.invoke(
        cli,
        ["audit", "verify", "--data-dir", str(tmp_path)],
        env={
            **env,
            "GATEWAY_AUDIT_KEY_FILE": str(settings.audit_key_file),
            "GATEWAY_AUDIT_ANCHOR_FILE": str(settings.audit_anchor_file),
        },
    )
    assert verified.exit_code == 0 and verified.stdout.startswith("OK "), verified.output


def test_upgrade_adopts_a_database_made_before_migrations(small_borough: Path) -> None:
    """Tables created by an earlier release (no version row) are kept with their rows."""
    url = DataDir(small_borough).audit_url()
    engine = sa.create_engine(url)
    audit_schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(audit_schema.checkpoints).values(
                seq=1, head_hash="0" * 64, time="2026-01-01T00:00:00Z", key_id="k", signature="s"
            )
        )
    assert migrations.current(url, "audit") is None
    assert migrations.upgrade(url, "audit") == migrations.head("audit")
    assert migrations.current(url, "audit") == migrations.head("audit")
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(audit_schema.checkpoints)).scalar_one() == 1
        )
    engine.dispose()
    assert _schema_drift(url, audit_schema.metadata) == []


def test_upgrade_sql_prints_the_ddl_for_a_dba(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--sql", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE audit_events" in result.output and "CREATE TABLE index_xref" in result.output
    assert not (tmp_path / "gateway.db").exists(), "--sql changes nothing"
