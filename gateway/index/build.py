"""`gateway link`: read every store, link records to people, group households and families, keep ids
stable, and write the index. Reads top to bottom in the order it runs."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.datadir import DataDir
from gateway.index.households import group_people
from gateway.index.ids import assign_ids, new_id
from gateway.index.records import read_stores
from gateway.index.store import IndexStore, IndexWrite, PersonRow, ReviewPair, XrefRow
from gateway.linkage.engines import engine_for
from gateway.linkage.model import Profile
from gateway.linkage.pipeline import LinkResult, link_records

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LinkSummary:
    run_id: int
    records: int
    persons: int
    households: int
    families: int
    ids_kept: int
    ids_created: int
    merges: int
    splits: int
    retired: int
    review_pairs: int
    seconds: float
    engine: str
    # What the clustering rules for records without a date of birth did (gateway/linkage/clustering.py).
    attached_without_dob: int = 0
    ambiguous_without_dob: int = 0


def _best_links(result: LinkResult) -> dict[str, tuple[float, float]]:
    """record -> (probability, weight) of its strongest link inside its own cluster."""
    best: dict[str, tuple[float, float]] = {}
    for e in result.edges:
        if result.clusters.get(e.left) != result.clusters.get(e.right):
            continue
        for uid in (e.left, e.right):
            if uid not in best or e.match_probability > best[uid][0]:
                best[uid] = (e.match_probability, e.match_weight)
    return best


def build_index(
    dd: DataDir,
    *,
    engine: str = "duckdb",
    profile: Profile | None = None,
    progress: Progress = lambda _m: None,
) -> LinkSummary:
    profile = profile or Profile()
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    store = IndexStore(dd.index_url())

    records, memberships = read_stores(dd, progress)
    result = link_records(records, engine_for(engine), profile=profile, progress=progress)

    progress("assigning stable person ids")
    people = assign_ids(store.person_of_record(), result.clusters, lambda: new_id("P"))
    person_of = people.member_ids(result.clusters)

    progress("grouping households and families")
    grouping = group_people(records, person_of, memberships)
    old_household, old_family = store.groups_of_person()
    households = assign_ids(old_household, grouping.household_of, lambda: new_id("H"))
    families = assign_ids(old_family, grouping.family_of, lambda: new_id("F"))
    household_of = households.member_ids(grouping.household_of)
    family_of = families.member_ids(grouping.family_of)

    best = _best_links(result)
    xref = [
        XrefRow(
            r["source"], r["local_id"], person_of[r["unique_id"]], *best.get(r["unique_id"], (None, None))
        )
        for r in records
    ]
    record_count = Counter(person_of.values())
    persons = [PersonRow(p, household_of[p], family_of[p], record_count[p]) for p in sorted(record_count)]
    household_size = Counter(household_of.values())
    dwelling_of_household = {household_of[p]: d for p, d in grouping.dwelling_of.items() if d}
    family_size = Counter(family_of.values())
    family_basis = {families.ids[label]: basis for label, basis in grouping.family_basis.items()}

    low, high = (
        profile.match_weight - profile.review_band_weight,
        profile.match_weight + profile.review_band_weight,
    )
    review = [
        ReviewPair(
            e.left, e.right, e.match_weight, e.match_probability, person_of[e.left] == person_of[e.right]
        )
        for e in result.edges
        if low <= e.match_weight <= high
    ]
    changes = [("person", c) for c in people.changes]
    changes += [("household", c) for c in households.changes] + [("family", c) for c in families.changes]
    count = Counter(c.kind for _, c in changes if _ == "person")
    finished = dt.datetime.now(dt.UTC)
    merges = len({c.new_id for _, c in changes if _ == "person" and c.kind == "merge"})
    splits = len({c.old_id for _, c in changes if _ == "person" and c.kind == "split"})
    run: dict[str, object] = {
        "started_at": started,
        "finished_at": finished,
        "engine": engine,
        "records": len(records),
        "persons": len(persons),
        "households": len(household_size),
        "families": len(family_size),
        "match_threshold": profile.match_threshold,
        "review_band_weight": profile.review_band_weight,
        "ids_kept": people.kept,
        "ids_created": people.created,
        "merges": merges,
        "splits": splits,
        "retired": count["retired"],
        "model_json": json.dumps(result.model_json, sort_keys=True),
    }
    progress("writing the index")
    run_id = store.write(
        IndexWrite(
            run=run,
            persons=persons,
            xref=xref,
            households=[
                {"household_id": h, "dwelling": dwelling_of_household.get(h), "size": n}
                for h, n in sorted(household_size.items())
            ],
            families=[
                {"family_id": f, "basis": family_basis[f], "size": n} for f, n in sorted(family_size.items())
            ],
            changes=changes,
            review=review,
        )
    )
    store.dispose()
    return LinkSummary(
        run_id=run_id,
        records=len(records),
        persons=len(persons),
        households=len(household_size),
        families=len(family_size),
        ids_kept=people.kept,
        ids_created=people.created,
        merges=merges,
        splits=splits,
        retired=count["retired"],
        review_pairs=len(review),
        seconds=time.perf_counter() - clock,
        engine=engine,
        attached_without_dob=int(result.stats.get("attached_without_dob", 0)),
        ambiguous_without_dob=int(result.stats.get("ambiguous_without_dob", 0)),
    )
