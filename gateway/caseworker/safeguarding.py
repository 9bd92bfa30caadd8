"""Central safeguarding lines (`policies/safeguarding-lines.yaml`): the only contact route shown for a
protected person, because an involved professional's own phone (one school, one officer) locates them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LINES_FILE = "safeguarding-lines.yaml"


class LinesError(ValueError):
    """The file is missing a service or a line lacks its role or phone."""


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> dict[str, dict[str, str]]:
    raw = yaml.safe_load(path.read_text()) or {}
    lines = raw.get("lines") or {}
    out: dict[str, dict[str, str]] = {}
    for service, line in lines.items():
        if not isinstance(line, dict) or not line.get("role") or not line.get("phone"):
            raise LinesError(f"{path}: the line for {service} needs a role and a phone")
        out[str(service)] = {"role": str(line["role"]), "phone": str(line["phone"])}
    return out


def safeguarding_lines(policies_dir: Path) -> dict[str, dict[str, str]]:
    """Service -> {role, phone}; re-read when the file changes. No file: no route is shown."""
    path = Path(policies_dir) / LINES_FILE
    if not path.is_file():
        return {}
    return _load(path, path.stat().st_mtime_ns)
