"""A proposed policy change as an IG officer writes it on the what-if page: agreement files to add or
replace, agreements to end on a date or remove, a new rules file. `materialise` writes it as a copy of
the live policies in a directory of its own, which the simulator then compares; the live directory is
only ever read."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from gateway.policy.agreements import AGREEMENTS_DIR, agreement_files
from gateway.policy.enforcer import RULES_FILE
from gateway.policy.whatif import WhatIfError

MAX_FILE_CHARS = 64 * 1024


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreements: list[str] = Field(
        default_factory=list, max_length=20, description="agreement files (YAML) to add or replace"
    )
    end: dict[str, dt.date] = Field(default_factory=dict, description="agreement id -> new end date")
    remove: list[str] = Field(default_factory=list, description="agreement ids to take out")
    rules: str | None = Field(default=None, max_length=MAX_FILE_CHARS, description="a new rules.csv")

    def is_empty(self) -> bool:
        return not (self.agreements or self.end or self.remove or self.rules is not None)

    def described(self) -> dict[str, object]:
        """What the audit event keeps: which agreements change and how, not the files' text."""
        return {
            "agreements": [_id_of(text) or "(unreadable)" for text in self.agreements],
            "end": {k: v.isoformat() for k, v in self.end.items()},
            "remove": list(self.remove),
            "rules_replaced": self.rules is not None,
        }


def _id_of(text: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _files_by_id(folder: Path) -> dict[str, Path]:
    out = {}
    for path in agreement_files(folder):
        try:
            found = _id_of(path.read_text())
        except OSError:
            continue
        if found:
            out[found] = path
    return out


def materialise(live_dir: Path, proposal: Proposal, into: Path) -> Path:
    """Copy `live_dir` to `into` and apply the proposal there; problems name what was wrong."""
    problems: list[str] = []
    if proposal.is_empty():
        raise WhatIfError(
            ["the proposal changes nothing: add an agreement, end or remove one, or edit rules"]
        )
    shutil.copytree(live_dir, into)
    by_id = _files_by_id(into)
    for n, text in enumerate(proposal.agreements, start=1):
        if len(text) > MAX_FILE_CHARS:
            problems.append(f"proposed agreement {n} is over {MAX_FILE_CHARS // 1024} KiB")
            continue
        found = _id_of(text)
        if found is None:
            problems.append(f"proposed agreement {n} is not a YAML mapping with an id (AGR-...)")
            continue
        if not all(c.isalnum() or c == "-" for c in found):
            problems.append(f"proposed agreement {n}: id {found!r} must be letters, digits and dashes")
            continue
        if found in by_id:
            by_id.pop(found).unlink()
        (into / AGREEMENTS_DIR / f"{found}-proposed.yaml").write_text(text)
    for agreement_id, end in proposal.end.items():
        path = by_id.get(agreement_id)
        if path is None:
            problems.append(f"there is no agreement {agreement_id} to end")
            continue
        data = yaml.safe_load(path.read_text())
        data["end"] = end
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    for agreement_id in proposal.remove:
        path = by_id.pop(agreement_id, None)
        if path is None:
            problems.append(f"there is no agreement {agreement_id} to remove")
            continue
        path.unlink()
    if proposal.rules is not None:
        (into / RULES_FILE).write_text(proposal.rules)
    if problems:
        raise WhatIfError(problems)
    return into
