"""k-anonymity for record-level extracts: full-domain generalisation, then record suppression.

Starting from the levels the agreement asks for, the quasi-identifier with the most distinct values
is generalised one more level (Sweeney's Datafly heuristic) until the records in classes of fewer than
k people are few enough to suppress (`max_suppression`, a share of all records). Classes are counted
in distinct *subjects*, not rows, so that three notes about one child are not a class of three.

Pure: the same records, settings and date give the same extract. The report says what was done and
what it cost (levels reached, records suppressed, and the information lost, by Sweeney's precision
metric and the share suppressed), because an analyst needs to know how coarse the data became.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.privacy.generalise import Hierarchy

DEFAULT_K = 5
DEFAULT_MAX_SUPPRESSION = 0.05


class NotAnonymisable(ValueError):
    """Fewer than k subjects in the whole extract: no generalisation can hide anyone."""


@dataclass(frozen=True)
class QuasiIdentifier:
    field: str
    hierarchy: Hierarchy
    start: int  # index of the level the agreement asks for


@dataclass
class KAnonymised:
    kept: list[int]  # indexes of the released records, in input order
    values: list[dict[str, str]]  # the generalised quasi-identifiers of each released record
    levels: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)


def k_anonymise(
    records: Sequence[Mapping[str, Any]],
    qis: Sequence[QuasiIdentifier],
    *,
    k: int = DEFAULT_K,
    max_suppression: float = DEFAULT_MAX_SUPPRESSION,
    subject: str,
    on: dt.date,
) -> KAnonymised:
    n = len(records)
    subjects = [r[subject] for r in records]
    if len(set(subjects)) < k:
        raise NotAnonymisable(f"the extract is about {len(set(subjects))} people, fewer than k = {k}")
    level = {q.field: q.start for q in qis}
    cache: dict[tuple[str, int], list[str]] = {}

    def column(q: QuasiIdentifier) -> list[str]:
        key = (q.field, level[q.field])
        if key not in cache:
            name = q.hierarchy.levels[level[q.field]]
            cache[key] = [q.hierarchy.apply(r.get(q.field), name, on) for r in records]
        return cache[key]

    allowed = int(max_suppression * n)
    while True:
        columns = {q.field: column(q) for q in qis}
        keys = list(zip(*columns.values(), strict=True)) if qis else [()] * n
        groups: dict[tuple, set] = defaultdict(set)
        for key, who in zip(keys, subjects, strict=True):
            groups[key].add(who)
        small = {key for key, who in groups.items() if len(who) < k}
        at_risk = sum(1 for key in keys if key in small) if small else 0
        climbable = [q for q in qis if level[q.field] < q.hierarchy.top]
        if at_risk <= allowed or not climbable:
            break
        widest = max(climbable, key=lambda q: (len(set(columns[q.field])), -level[q.field]))
        level[widest.field] += 1

    kept: list[int] = []
    values: list[dict[str, str]] = []
    for i, key in enumerate(keys):
        if key in small:
            continue
        kept.append(i)
        values.append({q.field: value for q, value in zip(qis, key, strict=True)})
    released = {key: who for key, who in groups.items() if key not in small}
    suppressed_subjects = set(subjects) - {subjects[i] for i in kept}
    precision_loss = sum(level[q.field] / q.hierarchy.top for q in qis) / len(qis) if qis else 0.0
    report = {
        "k": k,
        "k_achieved": min((len(w) for w in released.values()), default=None),
        "quasi_identifiers": {q.field: q.hierarchy.levels[level[q.field]] for q in qis},
        "generalised_beyond_agreement": {
            q.field: q.hierarchy.levels[level[q.field]] for q in qis if level[q.field] > q.start
        },
        "records_in": n,
        "records_released": len(kept),
        "records_suppressed": n - len(kept),
        "subjects_suppressed": len(suppressed_subjects),
        "max_suppression": max_suppression,
        "equivalence_classes": len(released),
        "information_loss": {
            # Sweeney's precision loss: how far up its ladder each quasi-identifier went (0 = as held).
            "generalisation": round(precision_loss, 4),
            "suppressed_share": round((n - len(kept)) / n, 4) if n else 0.0,
            # Discernibility: the mean class size a released record hides in (higher = coarser).
            "mean_class_size": round(len(kept) / len(released), 2) if released else None,
        },
    }
    return KAnonymised(kept, values, {q.field: q.hierarchy.levels[level[q.field]] for q in qis}, report)
