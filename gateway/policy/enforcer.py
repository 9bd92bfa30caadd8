"""Build the pycasbin enforcer: `model.conf` + `rules.csv` + one policy line per agreement grant.

Model and policy stay apart as in pycasbin: the model says how a request is matched; the rules file and
the agreements say what is granted. Lines generated from agreements carry the agreement id as their
`basis` and its start and end dates, so `enforce_ex` returns the agreement that allowed a request.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import casbin

from gateway.policy.agreements import Agreement

MODEL_FILE = "model.conf"
RULES_FILE = "rules.csv"
P_FIELDS = ("role", "dept", "dataset", "view", "purpose", "basis", "start", "end", "eft")


@dataclass(frozen=True)
class RuleLine:
    kind: str  # "p" or "g"
    values: tuple[str, ...]
    line: int


class RulesError(ValueError):
    pass


def read_rules(policies_dir: Path) -> list[RuleLine]:
    """The rules file, with comments, and with each line's number for error messages."""
    out: list[RuleLine] = []
    path = Path(policies_dir) / RULES_FILE
    with path.open(newline="") as fh:
        for n, row in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
            if not row or row[0].lstrip().startswith("#"):
                continue
            kind, values = row[0].strip(), tuple(v.strip() for v in row[1:])
            if kind == "p" and len(values) != len(P_FIELDS):
                raise RulesError(
                    f"{RULES_FILE} line {n}: a p rule has {len(P_FIELDS)} fields ({', '.join(P_FIELDS)})"
                )
            if kind == "p" and values[-1] not in {"allow", "deny"}:
                raise RulesError(
                    f"{RULES_FILE} line {n}: the effect must be allow or deny, not {values[-1]!r}"
                )
            if kind == "g" and len(values) != 2:
                raise RulesError(f"{RULES_FILE} line {n}: a g rule has 2 fields (role, inherits_from)")
            if kind not in {"p", "g"}:
                raise RulesError(f"{RULES_FILE} line {n}: lines start with p or g, not {kind!r}")
            out.append(RuleLine(kind, values, n))
    return out


def agreement_lines(agreement: Agreement) -> list[list[str]]:
    """One allow line per recipient, dataset and purpose, valid between the agreement's dates."""
    return [
        [
            r.role,
            r.department,
            dataset,
            agreement.view,
            purpose,
            agreement.id,
            agreement.start.isoformat(),
            agreement.end.isoformat(),
            "allow",
        ]
        for r in agreement.recipients
        for dataset in sorted(agreement.datasets)
        for purpose in sorted(agreement.purposes)
    ]


def build_enforcer(
    policies_dir: Path, registry: dict[str, Agreement], rules: list[RuleLine]
) -> casbin.Enforcer:
    enforcer = casbin.Enforcer(str(Path(policies_dir) / MODEL_FILE))
    enforcer.enable_auto_save(False)
    p_lines = [list(r.values) for r in rules if r.kind == "p"]
    for agreement in registry.values():
        p_lines.extend(agreement_lines(agreement))
    # The model's effect is "first matching line decides": refusals go first so that they always win.
    p_lines.sort(key=lambda line: line[-1] != "deny")
    if p_lines:
        enforcer.add_policies(p_lines)
    g_lines = [list(r.values) for r in rules if r.kind == "g"]
    if g_lines:
        enforcer.add_grouping_policies(g_lines)
    return enforcer
