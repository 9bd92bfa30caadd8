"""Match a partner's list (a CSV file) to the person index without adding its people to the index.

The partner rows are scored against the indexed records with the model trained by the last
`gateway link` run (the same m/u parameters and term frequencies), and each row gets the best person
whose match probability reaches the threshold, or none.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splink import Linker

from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.index.store import IndexStore
from gateway.linkage.engines import DuckDBEngine, rows
from gateway.linkage.model import tf_columns
from gateway.linkage.standardise import standardise_record, to_arrow
from gateway.stores.identity import STANDARD_COLUMNS

MATCHABLE_FIELDS = tuple(c for c in STANDARD_COLUMNS if c != "local_id")
PARTNER = "partner"
OUTPUT_COLUMNS = ("person_id", "match_probability", "match_weight", "match_status")
MATCHED, POSSIBLE, NONE = "matched", "possible", "none"


class MatchInputError(ValueError):
    """The partner file or the column map is unusable; the message says why."""


def parse_map(pairs: list[str], header: list[str]) -> dict[str, str]:
    """`COL=FIELD` options -> {field: column}; every column must exist and every field be known."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        column, field = column.strip(), field.strip()
        if not sep or not column or not field:
            raise MatchInputError(f"--map {pair!r}: write it as COLUMN=FIELD, e.g. --map 'Surname=last_name'")
        if field not in MATCHABLE_FIELDS:
            raise MatchInputError(
                f"--map {pair!r}: unknown field {field!r}; fields: {', '.join(MATCHABLE_FIELDS)}"
            )
        if column not in header:
            raise MatchInputError(
                f"--map {pair!r}: the file has no column {column!r}; it has {', '.join(header)}"
            )
        if field in mapping:
            raise MatchInputError(f"field {field!r} is mapped twice")
        mapping[field] = column
    if not {"first_name", "last_name"} <= mapping.keys() and "nhs_number" not in mapping:
        raise MatchInputError("map at least first_name and last_name (or nhs_number) to match on")
    return mapping


@dataclass(frozen=True)
class MatchSummary:
    rows: int
    matched: int
    possible: int
    out: Path
    # The people whose ids the file now carries (for the audit event: a subject access request lists
    # the matches that named them).
    person_ids: frozenset[str] = frozenset()


Candidate = tuple[str, float, float]  # person id, match probability, match weight


def score_against_index(
    dd: DataDir,
    store: IndexStore,
    records: list[dict[str, Any]],
    *,
    progress: Callable[[str], None] = lambda _m: None,
    every_candidate: bool = False,
) -> dict[str, list[Candidate]]:
    """Each outside record's candidate people, best first, scored with the last `gateway link` run's
    model (its m/u parameters and term frequencies) down to the review band below its threshold, or
    (`every_candidate`) every person the blocking rules pair it with, however weak: a search shows an
    officer candidates to choose from, where a file match must not guess. Shared by partner-file
    matching and the search for a subject access request."""
    run = store.last_run()
    threshold = float(run["match_threshold"])
    floor = math.log2(threshold / (1 - threshold)) - float(run.get("review_band_weight") or 4.0)
    person_of = store.person_of_record()
    progress("reading the indexed records")
    indexed_records, _ = read_stores(dd, progress)
    indexed = [r for r in indexed_records if r["unique_id"] in person_of]
    found: dict[str, dict[str, Candidate]] = {}
    if records and indexed:
        logging.getLogger("splink").setLevel(logging.ERROR)
        engine = DuckDBEngine()
        db_api = engine.db_api()
        left = engine.register(db_api, to_arrow(indexed), "indexed")
        right = engine.register(db_api, to_arrow(records), "partner_file")
        linker = Linker(left, run["model"], log_level=None)
        for column in tf_columns(run["model"]):
            linker.table_management.compute_tf_table(column)
        progress("scoring against the index")
        scored = linker.inference.predict_between(
            left, right, threshold_match_weight=None if every_candidate else floor
        )
        for r in rows(scored, ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]):
            ids = {r["unique_id_l"], r["unique_id_r"]}
            outside = next(i for i in ids if i.startswith(f"{PARTNER}:"))
            person = person_of[next(i for i in ids if not i.startswith(f"{PARTNER}:"))]
            candidate = (person, float(r["match_probability"]), float(r["match_weight"]))
            mine = found.setdefault(outside, {})
            if person not in mine or candidate[1] > mine[person][1]:  # a person's best record counts
                mine[person] = candidate
    return {
        outside: sorted(people.values(), key=lambda c: (-c[1], c[0])) for outside, people in found.items()
    }


@dataclass(frozen=True)
class RecordMatch:
    """A partner record's best candidate in the index, and whether it clears the model's threshold."""

    person_id: str | None  # only when matched: below the threshold no person id is given
    probability: float | None
    weight: float | None

    @property
    def status(self) -> str:
        if self.person_id:
            return MATCHED
        return POSSIBLE if self.probability is not None else NONE


def match_records(
    dd: DataDir,
    store: IndexStore,
    rows: list[dict[str, Any]],
    *,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[RecordMatch]:
    """Each partner record (linkage fields: first_name, last_name, dob, postcode...) matched to the
    index with the last link's model and threshold, in the order given."""
    threshold = float(store.last_run()["match_threshold"])
    partner = [
        standardise_record(PARTNER, {**row, "local_id": str(i)}) for i, row in enumerate(rows, start=1)
    ]
    candidates = score_against_index(dd, store, partner, progress=progress)
    out = []
    for rec in partner:
        found = candidates.get(rec["unique_id"]) or []
        if not found:
            out.append(RecordMatch(None, None, None))
            continue
        person, probability, weight = found[0]
        out.append(RecordMatch(person if probability >= threshold else None, probability, weight))
    return out


def match_file(
    dd: DataDir,
    path: Path,
    map_pairs: list[str],
    out: Path,
    *,
    progress: Callable[[str], None] = lambda _m: None,
) -> MatchSummary:
    store = IndexStore(dd.index_url())
    store.require()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            partner_rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MatchInputError(f"cannot read {path}: {exc}") from exc
    if not header:
        raise MatchInputError(f"{path} has no header row")
    mapping = parse_map(map_pairs, header)
    matches = match_records(
        dd, store, [{f: row.get(c) for f, c in mapping.items()} for row in partner_rows], progress=progress
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*header, *OUTPUT_COLUMNS])
        writer.writeheader()
        for m, row in zip(matches, partner_rows, strict=True):
            # Below the threshold the best candidate's score is shown, never its person id.
            writer.writerow(
                {
                    **row,
                    "person_id": m.person_id or "",
                    "match_probability": f"{m.probability:.6f}" if m.probability is not None else "",
                    "match_weight": f"{m.weight:.2f}" if m.weight is not None else "",
                    "match_status": m.status,
                }
            )
    named = frozenset(m.person_id for m in matches if m.person_id)
    found = sum(1 for m in matches if m.person_id)
    possible = sum(1 for m in matches if m.status == POSSIBLE)
    return MatchSummary(rows=len(matches), matched=found, possible=possible, out=out, person_ids=named)
