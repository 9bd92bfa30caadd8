"""Build the linked analysis store (run by `gateway link` after the index, or `gateway refresh`).

Reads top to bottom: index -> demographics -> wards -> service facts -> people -> families -> events ->
record keys -> write. Nothing that identifies a person is carried over: ages become bands, addresses
become wards, ids become internal integers that are reassigned, in random order, at every build.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.analysis import schema
from gateway.analysis.facts import UNKNOWN
from gateway.analysis.people import mode, read_people
from gateway.analysis.store import AnalysisStore
from gateway.datadir import DataDir
from gateway.privacy import generalise
from gateway.privacy.generalise import age

Progress = Callable[[str], None]
CHILD_AGE = 18
PERSISTENT_ABSENCE = 0.10


@dataclass(frozen=True)
class AnalysisSummary:
    rows: dict[str, int]
    seconds: float
    url: str


def age_band(dob: dt.date | None, on: dt.date) -> str:
    if dob is None or dob > on:
        return UNKNOWN
    return generalise.age_band(dob, on)


def size_band(members: int) -> str:
    return str(members) if members < 5 else "5+"


def build_analysis(dd: DataDir, progress: Progress = lambda _m: None) -> AnalysisSummary:
    clock = time.perf_counter()
    world = read_people(dd, progress)
    as_of, person_of, run_id = world.as_of, world.person_of, world.run_id
    household_of, family_of, facts, flags, weekly = (
        world.household_of,
        world.family_of,
        world.facts,
        world.flags,
        world.weekly,
    )
    progress("deriving people and families")
    people = world.ids
    birth, ward_of, sex_of = world.birth, world.ward, world.sex
    shuffle = random.Random(secrets.randbits(64))
    person_unit = _units(people, shuffle)
    families = sorted(set(family_of.values()))
    family_unit = _units(families, shuffle)
    households = sorted(set(household_of.values()))
    household_unit = _units(households, shuffle)

    previous = AnalysisStore(dd.analysis_url())
    try:
        keys = _KeyBook(previous.record_keys())
    finally:
        previous.dispose()
    person_rows = []
    for p in people:
        row = {
            "unit_id": person_unit[p],
            "record_key": keys.get("person", p),
            "family_unit": family_unit[family_of[p]],
            "age_band": age_band(birth[p], as_of),
            "sex": sex_of[p],
            "ward": ward_of[p],
            "housing_benefit_weekly": round(weekly[p], 2) if p in weekly else None,
        }
        row.update({f: f in flags[p] for f in schema.SERVICE_FLAGS})
        person_rows.append(row)

    members: dict[str, list[str]] = defaultdict(list)
    for p in people:
        members[family_of[p]].append(p)
    family_rows = []
    for f in families:
        who = members[f]
        children = sum(1 for p in who if _is_child(birth[p], as_of))
        adults = sum(1 for p in who if birth[p] is not None and not _is_child(birth[p], as_of))
        row = {
            "unit_id": family_unit[f],
            "record_key": keys.get("family", f),
            "ward": mode(ward_of[p] for p in who if ward_of[p] != UNKNOWN) or UNKNOWN,
            "size_band": size_band(len(who)),
            "members": len(who),
            "children_count": children,
            "lone_parent": adults == 1 and children > 0,
        }
        row.update({flag: any(flag in flags[p] for p in who) for flag in schema.SERVICE_FLAGS})
        family_rows.append(row)

    progress("deriving event tables")
    event_rows: dict[str, list[dict[str, Any]]] = {}
    for source, store_facts in facts.items():
        for table, rows in store_facts.events.items():
            out = event_rows.setdefault(table, [])
            for e in rows:
                pid = person_of.get(f"{source}:{e['local_id']}")
                if pid is None:
                    continue
                person = _Person(
                    person_unit[pid],
                    household_unit[household_of[pid]],
                    birth[pid],
                    ward_of[pid],
                    sex_of[pid],
                )
                out.append(_event(table, e, person))
    for table, rows in event_rows.items():
        shuffle.shuffle(rows)
        for i, row in enumerate(rows, start=1):
            row["event_id"] = i
            row["record_key"] = keys.get(table, str(row.pop("source_key")))

    tables = {"persons": person_rows, "families": family_rows}
    for name in ("referrals", "rent_transactions", "attendance", "benefit_awards"):
        tables[name] = event_rows.get(name, [])
    summary = {name: len(rows) for name, rows in tables.items()}
    progress("writing the analysis store")
    store = AnalysisStore(dd.analysis_url())
    try:
        store.replace(
            tables,
            keys.rows(),
            {
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "as_of": as_of.isoformat(),
                "index_run_id": run_id,
                "summary": json.dumps(summary, sort_keys=True),
            },
        )
    finally:
        store.dispose()
    return AnalysisSummary(summary, time.perf_counter() - clock, dd.analysis_url())


def _is_child(born: dt.date | None, on: dt.date) -> bool:
    return born is not None and age(born, on) < CHILD_AGE


def _units(ids: list[str], rnd: random.Random) -> dict[str, int]:
    """Internal integers in random order, so that a unit id says nothing about the index id."""
    order = list(range(1, len(ids) + 1))
    rnd.shuffle(order)
    return dict(zip(ids, order, strict=True))


@dataclass(frozen=True)
class _Person:
    unit: int
    household_unit: int
    birth: dt.date | None
    ward: str
    sex: str


def _event(table: str, e: dict[str, Any], p: _Person) -> dict[str, Any]:
    ward = p.ward
    if table == "referrals":
        return {
            "source_key": e["source_key"],
            "unit_id": p.unit,
            "month": e["date"].isoformat()[:7],
            "source": e["source"],
            "ward": ward,
            "age_band": age_band(p.birth, e["date"]),
            "outcome": e["outcome"],
        }
    if table == "rent_transactions":
        # About the household that holds the tenancy: a rent account is theirs, not one person's.
        return {
            "source_key": e["source_key"],
            "unit_id": p.household_unit,
            "month": e["date"].isoformat()[:7],
            "type": e["type"],
            "amount": round(e["amount"], 2),
            "ward": e["ward"] or ward,
            "arrears_band": e["arrears_band"],
        }
    if table == "attendance":
        possible, missed = e["sessions_possible"], e["sessions_missed"]
        return {
            "source_key": e["source_key"],
            "unit_id": p.unit,
            "academic_year": e["academic_year"],
            "ward": ward,
            "age_band": age_band(p.birth, _year_start(e["academic_year"])),
            "sex": p.sex,
            "sessions_possible": possible,
            "sessions_missed": missed,
            "persistent_absence": bool(possible) and missed / possible >= PERSISTENT_ABSENCE,
        }
    return {
        "source_key": e["source_key"],
        "unit_id": p.unit,
        "start_month": e["date"].isoformat()[:7],
        "ward": ward,
        "current": e["current"],
        "weekly_amount": round(e["weekly_amount"], 2),
    }


def _year_start(academic_year: str) -> dt.date:
    try:
        return dt.date(int(academic_year[:4]), 9, 1)
    except ValueError:
        return dt.date.min


class _KeyBook:
    """Permanent record keys: kept from earlier builds, drawn at random for new records."""

    def __init__(self, existing: dict[tuple[str, str], int]) -> None:
        self._keys = dict(existing)

    def get(self, kind: str, source_key: str) -> int:
        key = (kind, str(source_key))
        if key not in self._keys:
            self._keys[key] = secrets.randbelow(schema.RECORD_KEY_SPACE)
        return self._keys[key]

    def rows(self) -> list[dict[str, Any]]:
        return [{"kind": k, "source_key": s, "record_key": v} for (k, s), v in self._keys.items()]
