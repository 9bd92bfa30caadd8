"""Pairwise and cluster-level accuracy of a clustering against ground truth.

Pairwise figures count record pairs: a true positive is a pair placed in one cluster that the truth
says is one person. They are computed from cluster-size contingency counts, never by enumerating pairs,
so evaluating a million records costs a few dictionaries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class Scores:
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    true_clusters: int
    predicted_clusters: int
    exact_clusters: int  # predicted clusters identical to a true cluster

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]) -> Scores:
    """Compare two labellings of the same records (record id -> cluster label).

    Only records present in both are scored; an empty side gives precision/recall of 1.0 by convention
    (nothing claimed, nothing missed).
    """
    ids = [i for i in predicted if i in truth]
    pred_sizes = Counter(predicted[i] for i in ids)
    true_sizes = Counter(truth[i] for i in ids)
    joint = Counter((predicted[i], truth[i]) for i in ids)
    tp = sum(_pairs(n) for n in joint.values())
    pp = sum(_pairs(n) for n in pred_sizes.values())
    tt = sum(_pairs(n) for n in true_sizes.values())
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(1 for (p, t), n in joint.items() if n == pred_sizes[p] == true_sizes[t])
    return Scores(
        records=len(ids),
        true_pairs=tt,
        predicted_pairs=pp,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=f1,
        true_clusters=len(true_sizes),
        predicted_clusters=len(pred_sizes),
        exact_clusters=exact,
    )
