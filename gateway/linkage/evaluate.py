"""Pairwise and cluster-level accuracy of a clustering against ground truth.

Pairwise figures count record pairs: a true positive is a pair placed in one cluster that the truth
says is one person. They are computed from cluster-size contingency counts, never by enumerating pairs,
so evaluating a million records costs a few dictionaries.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path


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


TRUTH_COLUMNS = ("source", "local_id", "person_key")


class TruthFileError(ValueError):
    pass


def read_truth(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(record -> person key, record -> household key) from a `source,local_id,person_key[,household_key]`
    file; records are `source:local_id`. A council's own clerically labelled sample works the same way."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = set(TRUTH_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise TruthFileError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
            persons: dict[str, str] = {}
            households: dict[str, str] = {}
            for row in reader:
                uid = f"{row['source']}:{row['local_id']}"
                persons[uid] = row["person_key"]
                if row.get("household_key"):
                    households[uid] = row["household_key"]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TruthFileError(f"cannot read {path}: {exc}") from exc
    return persons, households


def label_scores(
    labels: Mapping[tuple[str, str], bool], person_of: Mapping[str, str]
) -> dict[str, float | int]:
    """Precision and recall of the index on clerically labelled pairs (from `gateway link review`)."""
    tp = fp = fn = tn = 0
    for (a, b), is_match in labels.items():
        if a not in person_of or b not in person_of:
            continue
        linked = person_of[a] == person_of[b]
        tp += linked and is_match
        fp += linked and not is_match
        fn += (not linked) and is_match
        tn += (not linked) and not is_match
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"labelled_pairs": tp + fp + fn + tn, "precision": precision, "recall": recall, "f1": f1}
