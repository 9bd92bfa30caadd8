"""Clerical review: export the pairs nearest the threshold side by side, read the decisions back.

The ONS reached precision 0.999 and recall 0.9975 linking the 2021 Census only with clerical review of
the uncertain band; this queue is that band. Labels are kept in the index database, survive re-runs,
and `gateway link evaluate` reports the index's precision and recall on them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.index.store import ReviewPair

SHOWN = ("first_name", "last_name", "dob", "sex", "postcode", "address_key", "uprn", "nhs_number")
YES, NO = {"yes", "y", "1", "true", "match"}, {"no", "n", "0", "false", "non_match", "non-match"}


class ReviewFileError(ValueError):
    pass


def write_queue(dd: DataDir, pairs: Sequence[ReviewPair], out: Path) -> None:
    records, _ = read_stores(dd, lambda _m: None)
    by_id = {r["unique_id"]: r for r in records}
    header = ["left_id", "right_id", "match_weight", "match_probability", "linked"]
    header += [f"{side}_{f}" for f in SHOWN for side in ("left", "right")] + ["is_match"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for p in pairs:
            left, right = by_id.get(p.left_id, {}), by_id.get(p.right_id, {})
            row: list[object] = [p.left_id, p.right_id, f"{p.match_weight:.2f}", f"{p.match_probability:.4f}"]
            row.append("yes" if p.linked else "no")
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
