"""The true borough: residents, households, families and addresses, before any store sees them.

Everything downstream (departmental stores with their noise, the hidden ground truth) is derived from
this one `World`. Household shapes follow ONS Census 2021 household composition for inner London
(see docs/synthetic-data.md); names follow `gateway.synth.names`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from gateway.synth.geography import Geography, build_geography
from gateway.synth.identifiers import phone_number, synthetic_nhs_numbers
from gateway.synth.names import group_weights, name_pools, zipf_weights

# Roles within a household
HEAD, PARTNER, CHILD, GRANDPARENT, SHARER = 0, 1, 2, 3, 4
ROLE_NAMES = ("head", "partner", "child", "grandparent", "sharer")

# Household types and their shares of households (ONS Census 2021, inner London, rounded).
HOUSEHOLD_TYPES: tuple[tuple[str, float], ...] = (
    ("single_adult", 0.33),
    ("couple", 0.18),
    ("couple_with_children", 0.17),
    ("lone_parent", 0.11),
    ("large_family", 0.03),
    ("multigenerational", 0.05),
    ("house_share", 0.13),
)
MOVED_RECENTLY = 0.12  # households that moved within the last three years (keeps an old address)
TWIN_RATE = 0.015  # multiple maternities per birth in England and Wales (ONS births, ~1.5%)
SAME_NAME_NEIGHBOUR_RATE = 0.002  # residents given the name of someone next door


@dataclass
class World:
    as_of: dt.date
    geography: Geography
    # one element per person, persons of a household contiguous
    household: np.ndarray  # int32 household index
    family: np.ndarray  # int32 family index, -1 when not in a family with dependent children
    role: np.ndarray  # int8, see ROLE_NAMES
    sex: np.ndarray  # '<U1' 'F'/'M'
    dob: np.ndarray  # datetime64[D]
    first: list[str]
    middle: list[str]
    last: list[str]
    group: np.ndarray  # int8 origin group
    nhs: np.ndarray  # int64
    phone: list[str]
    mother: np.ndarray  # int32 person index or -1
    father: np.ndarray  # int32 person index or -1
    twin_of: np.ndarray  # int32 person index or -1
    # one element per household
    hh_type: list[str]
    hh_start: np.ndarray  # int32, first person index; hh_start[-1] == n_people
    hh_property: np.ndarray  # int32 property index (current address)
    hh_prev_property: np.ndarray  # int32 property index or -1
    hh_move_date: list[dt.date | None]
    hh_risk: np.ndarray  # float, latent need that makes service involvement co-occur
    # one element per family
    family_household: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    same_name_pairs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def n_people(self) -> int:
        return int(self.household.size)

    @property
    def n_households(self) -> int:
        return int(self.hh_property.size)

    def members(self, h: int) -> range:
        return range(int(self.hh_start[h]), int(self.hh_start[h + 1]))

    def ages(self) -> np.ndarray:
        """Whole years on the as-of date, vectorised."""
        dob = self.dob.astype("datetime64[D]").astype(object)
        return np.fromiter((age_on_date(d, self.as_of) for d in dob), dtype=np.int16, count=len(dob))

    def person_key(self, i: int) -> str:
        return f"P{i + 1:07d}"

    def household_key(self, h: int) -> str:
        return f"H{h + 1:07d}"

    def family_key(self, f: int) -> str:
        return f"F{f + 1:07d}" if f >= 0 else ""


def age_on_date(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


class _Names:
    """Weighted name draws per origin group with a shared scalar RNG."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.pools = name_pools()
        self.cum: dict[tuple[int, str], list[float]] = {}
        for g, pool in enumerate(self.pools):
            for kind, names in (("M", pool.male), ("F", pool.female), ("S", pool.surnames)):
                self.cum[(g, kind)] = list(accumulate(zipf_weights(len(names))))

    def _pick(self, g: int, kind: str) -> str:
        pool = self.pools[g]
        names = pool.male if kind == "M" else pool.female if kind == "F" else pool.surnames
        return self.rnd.choices(names, cum_weights=self.cum[(g, kind)])[0]

    def first(self, g: int, sex: str) -> str:
        return self._pick(g, sex)

    def surname(self, g: int) -> str:
        return self._pick(g, "S")


# Siblings who are not twins are born at least this far apart.
MIN_BIRTH_SPACING_DAYS = 300


def _dob(rnd: random.Random, as_of: dt.date, age: int) -> dt.date:
    """A birth date that makes the person exactly `age` on the as-of date."""
    latest = as_of.replace(year=as_of.year - age) if not (as_of.month == 2 and as_of.day == 29) else as_of
    return latest - dt.timedelta(days=rnd.randrange(365))


def _adult_age(rnd: random.Random, kind: str) -> int:
    if kind == "single":
        r = rnd.random()
        return rnd.randint(19, 39) if r < 0.45 else rnd.randint(40, 64) if r < 0.8 else rnd.randint(65, 95)
    if kind == "couple":
        return rnd.randint(22, 85)
    return rnd.randint(19, 40)  # sharer


def build_world(n_people: int, seed: int, as_of: dt.date) -> World:
    """Generate the borough. Deterministic in (n_people, seed, as_of)."""
    rnd = random.Random(seed)
    nprng = np.random.default_rng(seed)
    names = _Names(random.Random(seed + 1))
    type_names = [t for t, _ in HOUSEHOLD_TYPES]
    type_cum = list(accumulate(w for _, w in HOUSEHOLD_TYPES))
    group_cum = list(accumulate(group_weights()))
    n_groups = len(group_cum)

    household: list[int] = []
    family: list[int] = []
    role: list[int] = []
    sex: list[str] = []
    dob: list[dt.date] = []
    first: list[str] = []
    middle: list[str] = []
    last: list[str] = []
    group: list[int] = []
    mother: list[int] = []
    father: list[int] = []
    twin_of: list[int] = []
    hh_type: list[str] = []
    hh_start: list[int] = []
    n_families = 0

    def add(h: int, f: int, r: int, s: str, age: int, g: int, surname: str) -> int:
        i = len(household)
        household.append(h)
        family.append(f)
        role.append(r)
        sex.append(s)
        dob.append(_dob(rnd, as_of, age))
        first.append(names.first(g, s))
        middle.append(names.first(g, s) if rnd.random() < 0.4 else "")
        last.append(surname)
        group.append(g)
        mother.append(-1)
        father.append(-1)
        twin_of.append(-1)
        return i

    def add_children(h: int, f: int, count: int, mum: int, dad: int, g: int, surname_of: list[str]) -> None:
        k = 0
        parent_age = min(age_on_date(dob[p], as_of) for p in (mum, dad) if p >= 0)
        siblings: list[int] = []
        attempts = 0
        while k < count and attempts < 50:
            attempts += 1
            age = rnd.randint(0, min(17, max(parent_age - 18, 0)))
            twins = rnd.random() < TWIN_RATE  # per maternity
            births: list[int] = []
            for t in range(2 if twins else 1):
                s = "F" if rnd.random() < 0.488 else "M"
                surname = rnd.choice(surname_of)
                i = add(h, f, CHILD, s, age, g, surname)
                mother[i], father[i] = mum, dad
                _distinct_sibling_name(i, siblings + births, s, g)
                if t == 1:
                    dob[i] = dob[i - 1]
                    twin_of[i], twin_of[i - 1] = i - 1, i
                births.append(i)
            if any(abs((dob[births[0]] - dob[b]).days) < MIN_BIRTH_SPACING_DAYS for b in siblings):
                # No mother gives birth twice within ten months: drop this maternity and draw again.
                for _ in births:
                    _pop_last()
                continue
            siblings.extend(births)
            k += 2 if twins else 1

    def _distinct_sibling_name(i: int, siblings: list[int], s: str, g: int) -> None:
        """Parents do not give two of their children the same first name."""
        taken = {first[b] for b in siblings}
        for _ in range(20):
            if first[i] not in taken:
                return
            first[i] = names.first(g, s)

    def _pop_last() -> None:
        for column in (
            household,
            family,
            role,
            sex,
            dob,
            first,
            middle,
            last,
            group,
            mother,
            father,
            twin_of,
        ):
            column.pop()

    h = 0
    while len(household) < n_people:
        kind = rnd.choices(type_names, cum_weights=type_cum)[0]
        g = rnd.choices(range(n_groups), cum_weights=group_cum)[0]
        hh_type.append(kind)
        hh_start.append(len(household))
        if kind == "single_adult":
            s = "F" if rnd.random() < 0.5 else "M"
            add(h, -1, HEAD, s, _adult_age(rnd, "single"), g, names.surname(g))
        elif kind == "couple":
            age = _adult_age(rnd, "couple")
            s = "M" if rnd.random() < 0.5 else "F"
            head_surname = names.surname(g)
            add(h, -1, HEAD, s, age, g, head_surname)
            g2 = g if rnd.random() < 0.9 else rnd.randrange(n_groups)
            s2 = ("F" if s == "M" else "M") if rnd.random() < 0.95 else s
            shared = s2 != s and rnd.random() < 0.6
            add(
                h,
                -1,
                PARTNER,
                s2,
                max(19, age + rnd.randint(-6, 6)),
                g2,
                head_surname if shared else names.surname(g2),
            )
        elif kind in ("couple_with_children", "large_family", "multigenerational"):
            f = n_families
            n_families += 1
            mum_age = rnd.randint(24, 55)
            dad_surname = names.surname(g)
            g2 = g if rnd.random() < 0.9 else rnd.randrange(n_groups)
            married = rnd.random() < 0.65
            dad = add(h, f, HEAD, "M", max(19, mum_age + rnd.randint(-3, 8)), g, dad_surname)
            mum = add(h, f, PARTNER, "F", mum_age, g2, dad_surname if married else names.surname(g2))
            double = f"{last[mum]}-{dad_surname}" if not married and rnd.random() < 0.3 else dad_surname
            count = (
                rnd.randint(4, 7) if kind == "large_family" else rnd.choices((1, 2, 3), (0.45, 0.4, 0.15))[0]
            )
            add_children(h, f, count, mum, dad, g, [dad_surname, double] if not married else [dad_surname])
            if kind == "multigenerational":
                gp_surname = dad_surname if rnd.random() < 0.5 else last[mum]
                gp_age = min(98, mum_age + rnd.randint(22, 35))
                add(h, -1, GRANDPARENT, "F", gp_age, g, gp_surname)
                if rnd.random() < 0.5:
                    add(h, -1, GRANDPARENT, "M", min(99, gp_age + rnd.randint(0, 5)), g, gp_surname)
        elif kind == "lone_parent":
            f = n_families
            n_families += 1
            s = "F" if rnd.random() < 0.9 else "M"
            own = names.surname(g)
            parent = add(h, f, HEAD, s, rnd.randint(19, 55), g, own)
            other = names.surname(g if rnd.random() < 0.8 else rnd.randrange(n_groups))
            count = rnd.choices((1, 2, 3, 4), (0.5, 0.32, 0.13, 0.05))[0]
            mum, dad = (parent, -1) if s == "F" else (-1, parent)
            add_children(h, f, count, mum, dad, g, [own, own, other])
        else:  # house share: unrelated adults, each of their own origin
            for _ in range(rnd.randint(2, 5)):
                gi = rnd.choices(range(n_groups), cum_weights=group_cum)[0]
                s = "F" if rnd.random() < 0.5 else "M"
                add(h, -1, SHARER, s, _adult_age(rnd, "sharer"), gi, names.surname(gi))
        h += 1

    n = len(household)
    n_households = h
    hh_start.append(n)

    # Addresses: current properties for every household, plus spare ones for previous addresses.
    moved = [rnd.random() < MOVED_RECENTLY for _ in range(n_households)]
    n_properties = n_households + sum(moved) + n_households // 20
    geography = build_geography(n_properties, random.Random(seed + 2))
    order = nprng.permutation(n_properties)
    hh_property = order[:n_households].astype(np.int32)
    spare = iter(order[n_households:].tolist())
    hh_prev_property = np.full(n_households, -1, dtype=np.int32)
    hh_move_date: list[dt.date | None] = [None] * n_households
    for k in range(n_households):
        if moved[k]:
            hh_prev_property[k] = next(spare)
            hh_move_date[k] = as_of - dt.timedelta(days=rnd.randint(30, 3 * 365))

    world = World(
        as_of=as_of,
        geography=geography,
        household=np.asarray(household, dtype=np.int32),
        family=np.asarray(family, dtype=np.int32),
        role=np.asarray(role, dtype=np.int8),
        sex=np.asarray(sex, dtype="<U1"),
        dob=np.asarray(dob, dtype="datetime64[D]"),
        first=first,
        middle=middle,
        last=last,
        group=np.asarray(group, dtype=np.int8),
        nhs=synthetic_nhs_numbers(nprng, n),
        phone=[
            phone_number(k, x)
            for k, x in zip(
                nprng.integers(0, 2, n).tolist(), nprng.integers(0, 1000, n).tolist(), strict=True
            )
        ],
        mother=np.asarray(mother, dtype=np.int32),
        father=np.asarray(father, dtype=np.int32),
        twin_of=np.asarray(twin_of, dtype=np.int32),
        hh_type=hh_type,
        hh_start=np.asarray(hh_start, dtype=np.int32),
        hh_property=hh_property,
        hh_prev_property=hh_prev_property,
        hh_move_date=hh_move_date,
        hh_risk=nprng.lognormal(mean=-0.32, sigma=0.8, size=n_households),  # mean 1.0
    )
    fam_household = np.full(n_families, -1, dtype=np.int32)
    fam_idx = world.family
    has = fam_idx >= 0
    fam_household[fam_idx[has]] = world.household[has]
    world.family_household = fam_household
    _plant_same_name_neighbours(world, random.Random(seed + 3))
    return world


def _plant_same_name_neighbours(world: World, rnd: random.Random) -> None:
    """Give some adults the full name of an adult of the same sex next door.

    Real boroughs have these (two John Smiths in one block), and they are what makes naive
    name-and-address matching create false links; the linkage tests look for them by name.
    """
    prop_to_hh = {int(p): hh for hh, p in enumerate(world.hh_property.tolist())}
    pairs: list[tuple[int, int]] = []
    n_pairs = max(2, int(world.n_people * SAME_NAME_NEIGHBOUR_RATE))
    attempts = 0
    while len(pairs) < n_pairs and attempts < n_pairs * 50:
        attempts += 1
        hh = rnd.randrange(world.n_households)
        neighbour = prop_to_hh.get(int(world.hh_property[hh]) + 1)
        if neighbour is None:
            continue
        a_candidates = [i for i in world.members(hh) if world.role[i] != CHILD]
        b_candidates = [i for i in world.members(neighbour) if world.role[i] != CHILD]
        if not a_candidates or not b_candidates:
            continue
        a = rnd.choice(a_candidates)
        same_sex = [b for b in b_candidates if world.sex[b] == world.sex[a]]
        if not same_sex:
            continue
        b = rnd.choice(same_sex)
        world.first[b] = world.first[a]
        world.last[b] = world.last[a]
        pairs.append((a, b))
    world.same_name_pairs = pairs
