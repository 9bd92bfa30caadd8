"""The data directory: where the stores, the gateway's own databases, keys and the hidden truth live.

Layout (all under `--data-dir`, default `var/`, or `GATEWAY_DATA_DIR`):

    stores.json        which databases hold the departmental stores (SQLite paths or PostgreSQL URLs)
    stores/*.db        the departmental stores, when embedded
    gateway.db         the gateway's own database (person index), unless stores.json names another
    audit.db           the audit log (hash-chained), unless stores.json names another
    audit-checkpoints.jsonl  copies of the signed audit checkpoints, outside the database
    keys/              the development token issuer's key, the audit checkpoint key, the demo pseudonym key
    extracts/          built de-identified extracts, one folder each, deleted when they expire
    truth/             the generator's ground truth; nothing in the gateway reads it at run time
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

MANIFEST = "stores.json"
DEFAULT_INDEX_URL = "sqlite:///gateway.db"
DEFAULT_AUDIT_URL = "sqlite:///audit.db"
DEFAULT_ANALYSIS_URL = "duckdb:///analysis.duckdb"
POSTCODE_DIRECTORY = "reference/postcode_directory.csv"
AUDIT_ANCHOR = "audit-checkpoints.jsonl"
AUDIT_KEY = "keys/audit-checkpoint.pem"
# Synthetic stores describe the borough as extracted at this time on their `as_of` date (stores.json):
# the time-limited views (front-door contacts) count from it, as real stores count from now.
AS_OF_TIME = dt.time(17, 0)


@dataclass(frozen=True)
class DataDir:
    root: Path
    # URLs set in the service's settings (GATEWAY_DATABASE_URL, ...; a Kubernetes Secret) win over
    # stores.json, so that every reader of the data directory sees the same databases.
    index_override: str | None = None
    audit_override: str | None = None
    analysis_override: str | None = None

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def stores_dir(self) -> Path:
        return self.root / "stores"

    @property
    def truth_dir(self) -> Path:
        return self.root / "truth"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        if not self.exists():
            raise FileNotFoundError(
                f"no departmental stores in {self.root}: run `gateway seed --data-dir {self.root}` first"
            )
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def store_urls(self) -> dict[str, str]:
        """SQLAlchemy URLs by store name; embedded paths are kept relative so the directory can move."""
        stores = self.read_manifest()["stores"]
        return {name: self.resolve(url) for name, url in stores.items()}

    def index_url(self) -> str:
        """The gateway's own database: `index` in stores.json, else `gateway.db` in the data dir."""
        if self.index_override:
            return self.index_override
        manifest = self.read_manifest() if self.exists() else {}
        return self.resolve(manifest.get("index", DEFAULT_INDEX_URL))

    def audit_url(self) -> str:
        """The audit store: `audit` in stores.json, else `audit.db` in the data dir."""
        if self.audit_override:
            return self.audit_override
        manifest = self.read_manifest() if self.exists() else {}
        return self.resolve(manifest.get("audit", DEFAULT_AUDIT_URL))

    def analysis_url(self) -> str:
        """The linked analysis store: `analysis` in stores.json, else `analysis.duckdb` in the data dir."""
        if self.analysis_override:
            return self.analysis_override
        manifest = self.read_manifest() if self.exists() else {}
        return self.resolve(manifest.get("analysis", DEFAULT_ANALYSIS_URL))

    def set_analysis_url(self, url: str) -> None:
        manifest = self.read_manifest()
        manifest["analysis"] = without_password(url)
        self.write_manifest(manifest)

    @property
    def postcode_directory(self) -> Path:
        """Postcode -> ward lookup (the ONS Postcode Directory's role); reference data, not personal data."""
        return self.root / POSTCODE_DIRECTORY

    @property
    def audit_anchor(self) -> Path:
        """Signed checkpoints, also appended here: outside the database, so deleting them shows."""
        return self.root / AUDIT_ANCHOR

    @property
    def audit_key(self) -> Path:
        return self.root / AUDIT_KEY

    def set_index_url(self, url: str) -> None:
        manifest = self.read_manifest()
        manifest["index"] = without_password(url)
        self.write_manifest(manifest)

    def resolve(self, url: str) -> str:
        parsed = make_url(url)
        if (
            parsed.drivername.startswith(("sqlite", "duckdb"))
            and parsed.database
            and not Path(parsed.database).is_absolute()
        ):
            return str(parsed.set(database=str((self.root / parsed.database).resolve())))
        return url


PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    """Everything the gateway writes under the data dir holds personal data, keys or the audit log:
    files are created 0600 and directories 0700 (owner only), whoever runs it and whatever the shell's
    umask. Called at every entry point (the CLI, the service, the seeder)."""
    os.umask(PRIVATE_UMASK)


def safe_url(url: str) -> str:
    """A URL fit for logs and messages: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def without_password(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False) if parsed.password else url
