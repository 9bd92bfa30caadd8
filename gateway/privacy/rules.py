"""The disclosure rules an analyst table is released under, with their defaults and why.

An agreement's `disclosure` block may set any of these; whatever it leaves out takes the default here.

- `query_rho` 0.01: what one distinct table costs, in zero-concentrated differential privacy (zCDP).
  A count table's finest cells then get Gaussian noise of standard deviation 7.1 (one unit per cell),
  so a published cell of 100 or more is within 5% of the truth in most draws; margins are sums of
  cells and are relatively more precise still.
- `project_rho` 1.0 and `analyst_rho` 1.0: what a project, and each analyst, may spend under one
  agreement: a working day of about 100 tables. zCDP adds up, so after spending rho in all, whatever
  the tables, an attacker's view of any one person changes by at most what rho allows (docs:
  disclosure-control.md, "What the budget guarantees").
- `agreement_rho` 5.0: what everyone under the agreement may spend in all, so that analysts who
  collude across projects cannot pool more than this.
- `threshold` 10: ACRO/SACRO `safe_threshold` and the ONS "rule of 10": a cell whose noisy count of
  units is below it is shown as suppressed (output checking on top of the noise, as an IG officer
  expects; it is post-processing, so it costs no budget and hides nothing the noise does not).
- `rounding_base` 5: OpenSAFELY and ONS publish counts rounded to the nearest 5.
- `max_cells` 5000: the largest table released (with its margins).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DisclosureRules:
    threshold: int = 10
    rounding_base: int | None = 5
    query_rho: float = 0.01
    project_rho: float = 1.0
    analyst_rho: float = 1.0
    agreement_rho: float = 5.0
    max_cells: int = 5000


def rules_from(settings: dict[str, Any] | None) -> DisclosureRules:
    """Rules from an agreement's disclosure settings; unset (None) entries take the defaults."""
    names = {f.name for f in fields(DisclosureRules)}
    return DisclosureRules(**{k: v for k, v in (settings or {}).items() if v is not None and k in names})
