"""Clerical review: export the borderline pairs side by side, those whose decision would change the most
records' persons first, and read the decisions back.

The ONS reached precision 0.999 and recall 0.9975 linking the 2021 Census only with clerical review of
the uncertain band; this queue is that band. Labels are kept in the index database, survive re-runs,
and `gateway link evaluate` reports the index's precision and recall on them.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.index.store import ReviewPair

SHOWN = ("first_name", "last_name", "dob", "sex", "postcode", "address_key", "uprn", "nhs_number")
YES, NO = {"yes", "y", "1", "true", "match"}, {"no", "n", "0", "false", "non_match", "non-match"}


class ReviewFileError(ValueError):
    pass


def prioritise(
    pairs: Sequence[ReviewPair], person_of: Mapping[str, str], threshold_weight: float = 0.0
) -> list[ReviewPair]:
    """Order the queue so a reviewer's first hour changes the most records' persons.

    Overturning a linked pair splits its person: at most all of that person's records change. Linking
    an unlinked pair merges two persons: all records of both change person id or gain records. Either
    happens only if the model was wrong, with probability 1 - p for a linked pair and p for an unlinked
    one, so each pair's expected change is that chance times the records affected; ties go to the pair
    nearest the threshold weight, then by id (a stable order). Pure: the index store supplies the
    clusters.
    """
    size = Counter(person_of.values())

    def scored(p: ReviewPair) -> ReviewPair:
        left, right = person_of.get(p.left_id), person_of.get(p.right_id)
        if p.linked or (left is not None and left == right):
            affected = size.get(left, 0) if left else 0
            wrong = 1.0 - p.match_probability
        else:
            affected = (size.get(left, 0) if left else 1) + (size.get(right, 0) if right else 1)
            wrong = p.match_probability
        return dataclasses.replace(p, records_affected=affected, expected_change=round(wrong * affected, 6))

    return sorted(
        (scored(p) for p in pairs),
        key=lambda p: (-p.expected_change, abs(p.match_weight - threshold_weight), p.left_id, p.right_id),
    )


def write_queue(dd: DataDir, pairs: Sequence[ReviewPair], out: Path) -> None:
    records, _ = read_stores(dd, lambda _m: None)
    by_id = {r["unique_id"]: r for r in records}
    header = ["left_id", "right_id", "match_weight", "match_probability", "linked", "records_affected"]
    header += ["expected_change"]
    header += [f"{side}_{f}" for f in SHOWN for side in ("left", "right")] + ["is_match"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for p in pairs:
            left, right = by_id.get(p.left_id, {}), by_id.get(p.right_id, {})
            row: list[object] = [p.left_id, p.right_id, f"{p.match_weight:.2f}", f"{p.match_probability:.4f}"]
            row += ["yes" if p.linked else "no", p.records_affected, f"{p.expected_change:.3f}"]
            for f in SHOWN:
                row += [left.get(f) or "", right.get(f) or ""]
            writer.writerow([*row, ""])


def read_labels(path: Path) -> Iterator[tuple[str, str, bool]]:
    """(left id, right id, is match) for every row with is_match filled in; bad values are errors."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not {"left_id", "right_id", "is_match"} <= set(reader.fieldnames or []):
                raise ReviewFileError(f"{path} needs the columns left_id, right_id and is_match")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReviewFileError(f"cannot read {path}: {exc}") from exc
    for n, row in enumerate(rows, start=2):
        value = (row["is_match"] or "").strip().lower()
        if not value:
            continue
        if value not in YES | NO:
            raise ReviewFileError(f"{path} line {n}: is_match must be yes or no, not {row['is_match']!r}")
        yield row["left_id"], row["right_id"], value in YES
