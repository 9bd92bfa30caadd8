"""Settings: defaults that make the demo run with nothing configured, overridable by a YAML file
(`gateway serve --config FILE`) and by `GATEWAY_*` environment variables (which win)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from gateway.datadir import DataDir


def _default_policies_dir() -> Path:
    """`policies/` beside the source tree when run from a checkout, else the working directory's."""
    beside = Path(__file__).resolve().parents[1] / "policies"
    return beside if beside.is_dir() else Path("policies")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid")

    mode: Literal["demo", "production"] = "demo"
    data_dir: Path = Path("var")
    policies_dir: Path = Field(default_factory=_default_policies_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    # Bearer tokens: who issues them, for whom, and where the public keys are. In demo mode with no
    # JWKS configured, the development issuer's key in the data directory is used.
    issuer: str = "https://gateway.local/dev-issuer"
    audience: str = "gateway"
    jwks_file: Path | None = None
    jwks_url: str | None = None
    # The web interface (/ui). The secret signs form tokens and the OIDC login state; replicas must
    # share it (default: a fresh one per process). In production the sign-in is an OpenID Connect
    # authorization-code login at `issuer` (metadata from `oidc_metadata_url`, default the issuer's
    # /.well-known/openid-configuration) as client `oidc_client_id`.
    session_secret_file: Path | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_file: Path | None = None
    oidc_metadata_url: str | None = None
    oidc_scope: str = "openid profile"
    # Where a directory's token says who someone is (policies/identity-claims.yaml by default); read
    # whenever tokens come from an identity provider rather than the development issuer.
    claims_file: Path | None = None
    # Free-text scrubbing: a spaCy pipeline for names no list holds (an installed package such as
    # en_core_web_lg, or a directory). Default: the model `gateway scrub train` trained into the
    # data dir, if there is one; else the lexicon and context rules alone. Never downloaded.
    scrub_spacy_model: str | None = None
    # Per-principal and per-role request limits (default: limits.yaml in the policies directory).
    limits_file: Path | None = None
    # How often the policy files are checked for changes (seconds).
    policy_check_interval: float = Field(default=1.0, ge=0)
    # Views and tables flag their data stale once the index or analysis store is older than this (the
    # nightly link and refresh have not run).
    stale_after_hours: float = Field(default=36.0, gt=0)
    # How long an open front-door contact gives its screening worker access to the family's flags.
    triage_hours: float = Field(default=72.0, gt=0, le=24 * 31)
    # The gateway's own database (person index, extract requests, re-identifications) and the analysis
    # store: `index` / `analysis` in stores.json unless these name another (a Secret in Kubernetes).
    database_url: str | None = None
    analysis_url: str | None = None
    # The audit store: SQLite file in the data dir unless `audit` in stores.json or this names another.
    audit_url: str | None = None
    # Where signed checkpoints are also appended, outside the database (default in the data dir). For
    # `gateway audit verify` it may name a directory: every *.jsonl in it is read (one file per process).
    audit_anchor_file: Path | None = None
    # The witness files of every process (a directory of *.jsonl), read by verification; default: the
    # anchor file alone. Several replicas each write their own anchor file into this directory.
    audit_anchor_dir: Path | None = None
    audit_key_file: Path | None = None  # Ed25519 checkpoint key; default <data-dir>/keys/audit-checkpoint.pem
    # Public keys (PEM) of checkpoint keys used before a rotation: their checkpoints still verify.
    audit_retired_keys: list[Path] = Field(default_factory=list)
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0)
    # Extracts: the pseudonymisation master key (else GATEWAY_PSEUDONYM_KEY, else a demo key in the data
    # dir), or a plug-in "package.module:factory" returning a provider (e.g. a KMS); build workers.
    pseudonym_key_file: Path | None = None
    pseudonym_key_provider: str | None = None
    extract_workers: int = Field(default=1, ge=1, le=8)
    # A span per SQL statement, for diagnosis. Off by default: the request and its governed steps
    # (decide, fetch, transform, audit) are traced either way, and statement spans cost about 0.65 ms
    # of CPU per flags request (issue 24's profile).
    trace_sql: bool = False
    # uvicorn's line per request: on in the demo (a new user sees requests arrive), off in production
    # unless asked for (the audit log is the record of every request).
    access_log: bool | None = None
    # Caseworker views commit their access event while the flags are fetched, and record what the reply
    # carried in an `audit.outcome` event after it (docs/audit.md). Worth it where a commit mostly waits
    # (a remote PostgreSQL, synchronous replication: it hides that wait); on a local disk the commit is
    # mostly CPU, which the fetch's threads then contend with, so it is off by default
    # (docs/performance.md has both measurements).
    audit_write_ahead: bool = False
    # Review alerts: distinct subjects per user per hour, working hours (local time), denial bursts.
    alert_subjects_per_hour: int = Field(default=40, ge=1)
    alert_working_hours: tuple[int, int] = (7, 19)
    alert_timezone: str = "Europe/London"
    alert_denials_in_ten_minutes: int = Field(default=5, ge=1)

    def datadir(self) -> DataDir:
        """The data directory with this configuration's database URLs in force over stores.json."""
        return DataDir(Path(self.data_dir), self.database_url, self.audit_url, self.analysis_url)

    def gateway_db_url(self) -> str:
        return self.datadir().index_url()

    def audit_db_url(self) -> str:
        return self.datadir().audit_url()

    def analysis_db_url(self) -> str:
        return self.datadir().analysis_url()

    def claim_mapping_file(self) -> Path:
        return (
            Path(self.claims_file) if self.claims_file else Path(self.policies_dir) / "identity-claims.yaml"
        )

    def oidc_client_secret(self) -> str | None:
        """Read when the client is made, so the secret lives in a mounted file, not the environment."""
        if self.oidc_client_secret_file is None:
            return None
        return Path(self.oidc_client_secret_file).read_text().strip()

    @property
    def uses_dev_issuer(self) -> bool:
        return self.mode == "demo" and not (self.jwks_file or self.jwks_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Explicit arguments win over GATEWAY_* variables, which win over the config file."""
    if config_file is not None and not Path(config_file).is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")
    cls = Settings
    if config_file is not None:

        class FileSettings(Settings):
            model_config = SettingsConfigDict(yaml_file=config_file)

        cls = FileSettings
    return cls(**{k: v for k, v in overrides.items() if v is not None})
