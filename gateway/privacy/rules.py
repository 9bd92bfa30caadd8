"""The disclosure-control rules an aggregate table is released under, with their defaults and sources.

An agreement's `disclosure` block may set any of these; whatever it leaves out takes the default here.
The defaults follow practice in UK trusted research environments and statistics offices:

- `threshold` 10: ACRO/SACRO `safe_threshold` and the ONS "rule of 10" for frequency tables.
- `query_set_min` 50: Denning's query-set size restriction; a table about fewer people than this is
  mostly suppression anyway, and refusing it (and its complement) stops the simplest tracker attacks.
- `protection_margin` = threshold: tau-Argus protection levels; a suppressed cell's feasible interval
  from the published cells must be at least this wide.
- `rounding_base` 5: OpenSAFELY and ONS publish counts rounded to the nearest 5.
- `max_noise` 2 over a key space of 256: ABS TableBuilder and the ONS 2021 Census cell-key method use
  small zero-mean noise looked up from a record-key sum modulo 256.
- `nk_n` 2, `nk_k` 0.85, `p_percent` 0.10: ACRO's dominance defaults for magnitude tables.
- `sum_noise` 0.5: a perturbed sum moves by up to half its largest contribution (ABS magnitude method).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from gateway.privacy.perturbation import KEY_SPACE


@dataclass(frozen=True)
class DisclosureRules:
    threshold: int = 10
    query_set_min: int = 50
    protection_margin: int | None = None  # None: the threshold
    rounding_base: int | None = 5
    perturbation: bool = True
    max_noise: int = 2
    key_space: int = KEY_SPACE
    nk_n: int = 2
    nk_k: float = 0.85
    p_percent: float = 0.10
    sum_noise: float = 0.5
    max_cells: int = 5000

    @property
    def margin(self) -> int:
        return self.protection_margin if self.protection_margin is not None else self.threshold


def rules_from(settings: dict[str, Any] | None) -> DisclosureRules:
    """Rules from an agreement's disclosure settings; unset (None) entries take the defaults."""
    names = {f.name for f in fields(DisclosureRules)}
    return DisclosureRules(**{k: v for k, v in (settings or {}).items() if v is not None and k in names})
