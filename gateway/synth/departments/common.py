"""What every departmental generator shares: local ids, noisy identities, and the hidden truth rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gateway.synth.casenotes import NoteSubject
from gateway.synth.identifiers import LANDLINE, phone_number
from gateway.synth.noise import Identity, NoiseRates, apply_noise
from gateway.synth.population import CHILD, GRANDPARENT, HEAD, PARTNER, World

Row = dict[str, object]

# CIN census / SSDA903 ethnicity codes by the name-origin groups of gateway.synth.names.
ETHNICITY_BY_GROUP: dict[str, tuple[str, ...]] = {
    "british": ("WBRI", "WBRI", "WBRI", "WBRI", "BCRB", "MWBC", "MWBA"),
    "irish": ("WIRI",),
    "south_asian": ("ABAN", "AIND", "APKN", "AOTH"),
    "west_african": ("BAFR",),
    "polish": ("WOTH",),
    "turkish": ("WOTH", "OOTH"),
    "southern_european": ("WOTH",),
    "romanian": ("WOTH", "WROM"),
    "french": ("WOTH", "MOTH"),
}


@dataclass
class Professional:
    """A named worker who can be the contact for a service's involvement (Family Context)."""

    id: str
    name: str
    role: str
    team: str
    phone: str


def seeded(seed: int, store: str) -> random.Random:
    """A stream per store, so that changing one store's generator leaves the others unchanged."""
    return random.Random(f"{seed}:{store}")


def days_before(as_of: dt.date, rnd: random.Random, lo: int, hi: int) -> dt.date:
    return as_of - dt.timedelta(days=rnd.randint(lo, hi))


# About 1.5% of households are protected in the services that know them: a family in a refuge after
# domestic abuse, an adoptive placement, witness protection. Decided per household from its latent
# need, without drawing from the store's random stream (so every other value is unchanged).
PROTECTED_SHARE = 0.015


def protected_household(world: World, h: int) -> bool:
    risk = float(world.hh_risk[h])
    digest = hashlib.sha256(f"protected:{h}:{risk:.12f}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < PROTECTED_SHARE * min(3.0, risk)


@dataclass
class StoreBuilder:
    """Collects one store's rows and the truth about which record is whom."""

    store: str
    world: World
    rates: NoiseRates
    rnd: random.Random
    ages: np.ndarray
    rows: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    truth: list[tuple[str, str, str, str]] = field(default_factory=list)
    noise_log: list[tuple[str, str, str]] = field(default_factory=list)
    local: dict[int, str] = field(default_factory=dict)
    # identifiers planted in free text: (store, note_id, kind, value, start, end)
    planted: list[tuple[str, str, str, str, int, int]] = field(default_factory=list)
    _used_ids: set[str] = field(default_factory=set)

    # -- ids ---------------------------------------------------------------------------------------
    def new_id(self, fmt: str, lo: int, hi: int) -> str:
        """A random, unused local id: sequential ids in person order would leak the linkage."""
        while True:
            candidate = fmt.format(self.rnd.randrange(lo, hi))
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    # -- identities --------------------------------------------------------------------------------
    def true_identity(self, i: int) -> Identity:
        w = self.world
        geo = w.geography
        prop = int(w.hh_property[w.household[i]])
        return Identity(
            first=w.first[i],
            middle=w.middle[i],
            last=w.last[i],
            sex=str(w.sex[i]),
            dob=w.dob[i].astype("datetime64[D]").astype(object),
            address_line=geo.address_line[prop],
            postcode=geo.postcode[prop],
            uprn=int(geo.uprn[prop]),
            nhs=int(w.nhs[i]),
        )

    def _other_surname(self, i: int) -> str | None:
        """The surname a store might hold instead: a partner's, or the other parent's for a child."""
        w = self.world
        candidates: list[int] = []
        if w.role[i] == CHILD:
            candidates = [p for p in (int(w.father[i]), int(w.mother[i])) if p >= 0]
        elif w.role[i] in (HEAD, PARTNER):
            candidates = [
                j for j in w.members(int(w.household[i])) if w.role[j] in (HEAD, PARTNER) and j != i
            ]
        for j in candidates:
            if w.last[j] != w.last[i]:
                return w.last[j]
        return None

    def _old_address(self, i: int) -> tuple[str, str, int] | None:
        w = self.world
        prev = int(w.hh_prev_property[w.household[i]])
        if prev < 0:
            return None
        geo = w.geography
        return geo.address_line[prev], geo.postcode[prev], int(geo.uprn[prev])

    def register_person(
        self, i: int, id_fmt: str, lo: int, hi: int, make_row: Callable[[str, Identity], Row], table: str
    ) -> str:
        """Add person i to the store (once; sometimes twice, as real systems do). Returns the local id."""
        if i in self.local:
            return self.local[i]
        copies = 2 if self.rnd.random() < self.rates.duplicate else 1
        true = self.true_identity(i)
        adult = self.ages[i] >= 18
        first_id = ""
        for copy in range(copies):
            local_id = self.new_id(id_fmt, lo, hi)
            noisy, kinds = apply_noise(
                true,
                rates=self.rates,
                rnd=self.rnd,
                adult=bool(adult),
                old_address=self._old_address(i),
                other_surname=self._other_surname(i),
            )
            if copy == 1:
                kinds.append("duplicate")
            self.rows[table].append(make_row(local_id, noisy))
            hh = int(self.world.household[i])
            self.truth.append((self.store, local_id, self.world.person_key(i), self.world.household_key(hh)))
            self.noise_log.append((self.store, local_id, ";".join(kinds)))
            if copy == 0:
                first_id = local_id
        self.local[i] = first_id
        return first_id

    # -- helpers -----------------------------------------------------------------------------------
    def ethnicity(self, i: int) -> str:
        from gateway.synth.names import ORIGIN_GROUPS

        group = ORIGIN_GROUPS[int(self.world.group[i])][0]
        return self.rnd.choice(ETHNICITY_BY_GROUP[group])

    def children_of(self, h: int) -> list[int]:
        return [j for j in self.world.members(h) if self.world.role[j] == CHILD and self.ages[j] < 18]

    def adults_of(self, h: int) -> list[int]:
        return [j for j in self.world.members(h) if self.ages[j] >= 18]

    def relationship(self, i: int) -> str:
        """How a household member stands to the children in it, as family records put it."""
        w = self.world
        r = int(w.role[i])
        if r == CHILD:
            return "child" if self.ages[i] < 18 else "adult child"
        if r == GRANDPARENT:
            return "grandparent"
        if r in (HEAD, PARTNER):
            return "mother" if w.sex[i] == "F" else "father"
        return "household member"

    def add_staff(self, table: str, prefix: str, id_column: str, staff: list[Professional]) -> None:
        """Rows for a `staff_table` (see gateway/stores/columns.py)."""
        for p in staff:
            self.rows[table].append(
                {
                    id_column: p.id,
                    f"{prefix}_name": p.name,
                    f"{prefix}_role": p.role,
                    f"{prefix}_team": p.team,
                    f"{prefix}_phone": p.phone,
                }
            )

    def professionals(self, prefix: str, count: int, role: str, teams: list[str]) -> list[Professional]:
        from gateway.synth.names import name_pools

        pool = name_pools()[0]
        out = []
        for k in range(count):
            sex = self.rnd.random() < 0.7
            first = self.rnd.choice(pool.female if sex else pool.male)
            name = f"{first} {self.rnd.choice(pool.surnames)}"
            phone = phone_number(LANDLINE, self.rnd.randrange(1000))
            out.append(Professional(f"{prefix}{k + 1:04d}", name, role, teams[k % len(teams)], phone))
        return out


def address_json(line: str, postcode: str | None) -> str:
    """SSD keeps addresses as a JSON blob of parts (the UPRN, when held, is in its own column)."""
    return json.dumps({"ADDRESS": line, "POSTCODE": postcode}, sort_keys=True)


def note_subject(w: World, kid: int, worker_name: str) -> NoteSubject:
    """The facts about a child (and a parent) that a worker's note may mention."""
    parent = next((p for p in (int(w.mother[kid]), int(w.father[kid])) if p >= 0), -1)
    prop = int(w.hh_property[w.household[kid]])
    return NoteSubject(
        first=w.first[kid],
        last=w.last[kid],
        dob=w.dob[kid].astype("datetime64[D]").astype(object),
        nhs=int(w.nhs[kid]),
        address_line=w.geography.address_line[prop],
        postcode=w.geography.postcode[prop],
        phone=w.phone[parent] if parent >= 0 else w.phone[kid],
        parent_first=w.first[parent] if parent >= 0 else None,
        parent_last=w.last[parent] if parent >= 0 else None,
        worker_name=worker_name,
    )
