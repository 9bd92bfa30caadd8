"""Partners as flag providers. A partner (the police, a health trust) is not a council store: what it
sends in under an exchange agreement is matched to the person index and kept in the gateway (the
partner store). Its published schema (`policies/exchanges/<name>.schema.json`) may declare one flag
(`x-flag`): which field is the value, which the date, and how long a record counts (`keep_days`, the
exchange agreement's retention). A flags agreement that lists the partner among its providers and
grants the dataset `exchanges.<name>` with those two fields releases it, as for a department's flags.

Declared here, beside the departments' own flags, so the policy check, the caseworker views and the
partner store read one declaration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gateway.departments.flags import FlagSpec

EXCHANGE_SCHEMAS = "exchanges"
DATASET_PREFIX = "exchanges."


@dataclass(frozen=True)
class PartnerFlag:
    spec: FlagSpec
    schema: str
    value_field: str
    since_field: str
    keep_days: int
    label: str  # how pages name the partner's service ("Police notifications (partner)")


def partner_flags(policies_dir: Path) -> tuple[PartnerFlag, ...]:
    """Every flag a published exchange schema declares (read again when a schema file changes)."""
    folder = Path(policies_dir) / EXCHANGE_SCHEMAS
    stamps = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.schema.json")))
    return _partner_flags(str(folder), stamps)


@lru_cache(maxsize=16)
def _partner_flags(folder: str, stamps: tuple[tuple[str, int], ...]) -> tuple[PartnerFlag, ...]:
    found = []
    for filename, _ in stamps:
        declared = json.loads((Path(folder) / filename).read_text()).get("x-flag")
        if not declared:
            continue
        name = filename.removesuffix(".schema.json")
        value, since = str(declared["value"]), str(declared["since"])
        spec = FlagSpec(
            str(declared["service"]), str(declared["flag"]), f"{DATASET_PREFIX}{name}", (value, since)
        )
        label = str(declared.get("label") or spec.service.replace("_", " ").capitalize())
        found.append(PartnerFlag(spec, name, value, since, int(declared.get("keep_days", 365)), label))
    return tuple(found)


def partner_labels(policies_dir: Path) -> dict[str, str]:
    """Partner service -> the name pages show for it."""
    return {p.spec.service: p.label for p in partner_flags(policies_dir)}
