"""Linked residents as the gateway sees them: one row per index person, with the demographics their
records agree on (the most common date of birth, sex and postcode) and every service's flags.

Both the analysis store (which keeps only bands and wards) and de-identified extracts (which
generalise what they release) start here, so a flag or an age means the same thing in both.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.analysis.facts import UNKNOWN, StoreFacts, housing_wards, read_facts, read_postcode_directory
from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.index.store import IndexStore
from gateway.stores.engines import store_engine

Progress = Callable[[str], None]


def mode(values: Iterable[Any]) -> Any:
    """The most common value (ties: the smallest), ignoring missing ones."""
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return None
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


@dataclass
class People:
    as_of: dt.date
    run_id: int
    person_of: dict[str, str]  # "store:local_id" -> person id
    household_of: dict[str, str]
    family_of: dict[str, str]
    birth: dict[str, dt.date | None] = field(default_factory=dict)
    sex: dict[str, str] = field(default_factory=dict)
    postcode: dict[str, str | None] = field(default_factory=dict)
    ward: dict[str, str] = field(default_factory=dict)
    flags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    weekly: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    facts: dict[str, StoreFacts] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return sorted(self.household_of)


def read_people(dd: DataDir, progress: Progress = lambda _m: None) -> People:
    as_of = dt.date.fromisoformat(dd.read_manifest()["as_of"])
    index = IndexStore(dd.index_url())
    try:
        index.require()
        person_of = index.person_of_record()
        household_of, family_of = index.groups_of_person()
        run_id = index.last_run()["run_id"]
    finally:
        index.dispose()
    people = People(as_of, run_id, person_of, household_of, family_of)

    progress("reading identities for ages, sex and postcodes")
    records, _ = read_stores(dd, progress)
    dob: dict[str, list[str]] = defaultdict(list)
    sex: dict[str, list[str]] = defaultdict(list)
    post: dict[str, list[str]] = defaultdict(list)
    for r in records:
        pid = person_of.get(r["unique_id"])
        if pid is None:
            continue
        dob[pid].append(r["dob"])
        sex[pid].append(r["sex"])
        post[pid].append(r["postcode"])

    progress("reading service facts")
    wards = read_postcode_directory(dd.postcode_directory)
    for store, url in dd.store_urls().items():
        engine = store_engine(url)
        try:
            with engine.connect() as conn:
                people.facts[store] = read_facts(store, conn, as_of)
                if not wards and store == "housing":
                    wards = housing_wards(conn)
        finally:
            engine.dispose()
    for store, f in people.facts.items():
        for local_id, names in f.flags.items():
            pid = person_of.get(f"{store}:{local_id}")
            if pid:
                people.flags[pid] |= names
        for local_id, amount in f.weekly_benefit.items():
            pid = person_of.get(f"{store}:{local_id}")
            if pid:
                people.weekly[pid] += amount

    for p in people.ids:
        born = mode(dob[p])
        people.birth[p] = dt.date.fromisoformat(born) if born else None
        people.sex[p] = mode(sex[p]) or UNKNOWN
        people.postcode[p] = mode(post[p])
        people.ward[p] = wards.get(people.postcode[p] or "", UNKNOWN)
    return people
