"""Case notes written independently of the seeding templates, to measure free-text scrubbing honestly.

The seeded borough's notes (`gateway/synth/casenotes.py`) and the notes the NER model is trained on
(`gateway/synth/training_notes.py`) come from the project's own templates; a scrubber tuned on them
could pass by learning their phrasing. These notes are phrased differently, written the way a busy
worker types (lowercase names, possessives, nicknames, month-name dates, schools, unusual street
suffixes), and use names that no store holds: Faker locales the synthetic borough never draws from,
and names invented from syllables that no list holds at all. Words that are names elsewhere but
ordinary words here (hope, frank, mark, may, grace, green, brown, DOB) are planted as decoys that a
precise scrubber must leave alone.

Every identifier is recorded with its exact span, so recall and precision are computed from what was
planted, never from what the scrubber says.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.datadir import DataDir
from gateway.departments.records import read_identities
from gateway.stores.engines import store_engine

# Locales the synthetic borough never draws names from (gateway/synth/names.py uses others).
OTHER_LOCALES = ("de_DE", "nl_NL", "sv_SE", "da_DK", "cs_CZ", "hu_HU", "fi_FI", "hr_HR", "sk_SK")
# Written here by hand, not taken from the `nicknames` package the scrubber may use.
NICKNAMES = {
    "Robert": ("Bob", "Rob", "Bobby", "Robbie"),
    "William": ("Billy", "Liam", "Wills"),
    "Elizabeth": ("Liz", "Lizzie", "Beth", "Betsy"),
    "Katherine": ("Kate", "Katie", "Kath"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Alexander": ("Alex", "Sasha", "Xander"),
    "Mohammed": ("Mo", "Moe", "Hamoudi"),
    "Christopher": ("Chris", "Kit"),
    "Michael": ("Mike", "Mikey", "Mick"),
    "Daniel": ("Dan", "Danny"),
    "Samuel": ("Sam", "Sammy"),
    "Thomas": ("Tom", "Tommy"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Joseph": ("Joe", "Joey"),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky", "Tori"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Trish", "Patsy"),
    "Stephen": ("Steve", "Stevie"),
    "Anthony": ("Tony", "Ant"),
    "Benjamin": ("Ben", "Benji"),
    "Nicholas": ("Nick", "Nicky"),
    "Matthew": ("Matt", "Matty"),
    "Andrew": ("Andy", "Drew"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Oliver": ("Ollie", "Olly"),
    "Katarzyna": ("Kasia", "Kasha"),
    "Aleksandra": ("Ola", "Olka"),
    "Małgorzata": ("Gosia", "Małgosia"),
    "Oluwaseun": ("Seun",),
    "Oluwadamilare": ("Dami", "Lare"),
    "Abdullahi": ("Abdi",),
    "Francesca": ("Fran", "Frankie"),
    "Giuseppe": ("Beppe", "Peppe"),
}
SYLLABLES = ("ka", "zu", "ren", "vo", "tal", "mi", "rox", "bel", "an", "dri", "sh", "qu", "ny", "lo", "pe")
SCHOOL_SUFFIXES = (
    "Primary School",
    "Infant School",
    "Junior School",
    "C of E Primary",
    "Catholic Primary School",
    "Academy",
    "High School",
    "Nursery",
    "Children's Centre",
    "Surgery",
    "Medical Centre",
)
ODD_STREETS = (
    "Broadway",
    "Parade",
    "Embankment",
    "Quay",
    "Circus",
    "Approach",
    "Wharf",
    "Chase",
    "Croft",
    "Heights",
    "Meadows",
    "Passage",
    "Boulevard",
    "Causeway",
)
DATE_STYLES = (
    "{d} {B} {Y}",
    "{d}{th} {B} {Y}",
    "{d}{th} of {B} {Y}",
    "{B} {d}, {Y}",
    "{d} {b} {Y}",
    "{d}{th} {B}",
    "{B} {d}{th}",
    "{dd}/{mm}/{Y}",
    "{dd}.{mm}.{y}",
    "{Y}-{mm}-{dd}",
)
DECOYS = (
    "We hope the situation improves before the review.",
    "Hope to see the family again next week.",
    "Frank discussion held about the state of the kitchen.",
    "A frank conversation followed.",
    "Mark on the left forearm, explanation consistent.",
    "Worker will mark the file for supervision.",
    "Review in May, as agreed at the meeting.",
    "May need a referral to the food bank.",
    "Grace period on the rent arrears agreed with the landlord.",
    "Green light from the manager to proceed.",
    "Brown envelope of unopened letters on the table.",
    "Rent paid in a brown envelope at the office.",
    "DOB confirmed against the birth certificate.",
    "Rose from the sofa when the worker arrived.",
    "Will attend the next core group.",
    "Bill from the energy company not paid since the winter.",
    "Sunny day, children playing in the garden.",
    "Faith group attended on Sundays.",
    "Police and Health attended the strategy meeting.",
    "Reported to the Early Help hub on Monday.",
)


@dataclass(frozen=True)
class Identifier:
    kind: str
    value: str
    start: int
    end: int


@dataclass
class HeldOutNote:
    text: str = ""
    planted: list[Identifier] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.text += text

    def plant(self, kind: str, value: str) -> None:
        self.planted.append(Identifier(kind, value, len(self.text), len(self.text) + len(value)))
        self.text += value


@dataclass
class Sources:
    """What the notes draw from: people and places in the stores, and names no store holds."""

    store_people: list[tuple[str, str]]
    store_addresses: list[str]
    store_schools: list[str]
    other_first: list[str]
    other_last: list[str]


def _names(locales: Iterable[str], attrs: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for loc in locales:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in attrs:
            value = getattr(provider, attr, None)
            if isinstance(value, dict | list | tuple):
                out.update(v for v in value if isinstance(v, str) and v.isalpha() and len(v) > 2)
    return out


def read_sources(dd: DataDir) -> Sources:
    people: list[tuple[str, str]] = []
    addresses: set[str] = set()
    schools: list[str] = []
    store_words: set[str] = set()
    for store, url in dd.store_urls().items():
        engine = store_engine(url)
        try:
            for r in read_identities(store, engine):
                if r.get("first_name") and r.get("last_name"):
                    people.append((r["first_name"], r["last_name"]))
                    store_words.update(str(r["first_name"]).casefold().split())
                    store_words.update(str(r["last_name"]).casefold().split())
                if r.get("address_line"):
                    addresses.add(r["address_line"])
            if store == "education":
                with engine.connect() as conn:
                    schools = [row[0] for row in conn.exec_driver_sql("SELECT sch_name FROM edu_schools")]
        finally:
            engine.dispose()
    first = _names(OTHER_LOCALES, ("first_names", "first_names_male", "first_names_female"))
    last = _names(OTHER_LOCALES, ("last_names", "last_names_male"))
    return Sources(
        store_people=sorted(set(people)),
        store_addresses=sorted(addresses),
        store_schools=sorted(schools),
        other_first=sorted(n for n in first if n.casefold() not in store_words),
        other_last=sorted(n for n in last if n.casefold() not in store_words),
    )


def _invented(rnd: random.Random) -> str:
    return "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 3))).capitalize()


def _date(rnd: random.Random) -> str:
    day = dt.date(2005, 1, 1) + dt.timedelta(days=rnd.randrange(7000))
    th = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
    return rnd.choice(DATE_STYLES).format(
        d=day.day,
        dd=f"{day.day:02d}",
        mm=f"{day.month:02d}",
        th=th,
        B=day.strftime("%B"),
        b=day.strftime("%b"),
        Y=day.year,
        y=day.strftime("%y"),
    )


def _phone(rnd: random.Random) -> str:
    return rnd.choice(("07700 9{:05d}", "07700{:06d}", "020 7946 {:04d}", "+44 7700 9{:05d}")).format(
        rnd.randrange(1000)
    )


def _odd_address(rnd: random.Random, s: Sources) -> str:
    street = f"{rnd.choice(s.other_last)} {rnd.choice(ODD_STREETS)}"
    return rnd.choice((f"{rnd.randint(1, 180)} {street}", f"Flat {rnd.randint(1, 40)}, {street}", street))


def _school(rnd: random.Random, s: Sources) -> str:
    if s.store_schools and rnd.random() < 0.5:
        return rnd.choice(s.store_schools)
    saint = rnd.random() < 0.3
    base = f"St {rnd.choice(s.other_first)}'s" if saint else rnd.choice(s.other_last)
    return f"{base} {rnd.choice(SCHOOL_SUFFIXES)}"


def _person(rnd: random.Random, s: Sources, invented: bool = True) -> tuple[str, str, str]:
    """(kind, first, last): a store resident, someone in no store, or (capitalised only: nothing could
    tell a lowercase made-up word from an ordinary one) a name no list holds."""
    roll = rnd.random() * (1.0 if invented else 0.85)
    if roll < 0.45:
        first, last = rnd.choice(s.store_people)
        return "name", first.split()[0], last
    if roll < 0.85:
        return "name_not_in_stores", rnd.choice(s.other_first), rnd.choice(s.other_last)
    return "invented_name", _invented(rnd), _invented(rnd)


def write_held_out_note(rnd: random.Random, s: Sources) -> HeldOutNote:
    note = HeldOutNote()
    kind, first, last = _person(rnd, s)
    _, low_first, low_last = _person(rnd, s, invented=False)
    parent_kind, parent_first, _ = _person(rnd, s)
    opening = rnd.randrange(6)
    if opening == 0:
        note.say("Spoke with ")
        note.plant(kind, f"{first} {last}")
        note.say(" on the doorstep; ")
        note.plant("name_possessive", f"{first}'s")
        note.say(" brother was in the front room. ")
    elif opening == 1:
        note.say("home visit - ")
        note.plant("name_lowercase", low_first.lower())
        note.say(" and her mum ")
        note.plant(parent_kind, parent_first)
        note.say(" were in, flat was cold. ")
    elif opening == 2:
        nick_of = rnd.choice(sorted(NICKNAMES))
        note.say("Mum says ")
        note.plant("nickname", rnd.choice(NICKNAMES[nick_of]))
        note.say(" (")
        note.plant(kind, f"{first} {last}")
        note.say(") has not been sleeping. ")
    elif opening == 3:
        note.say("Child's DOB: ")
        note.plant("date", _date(rnd))
        note.say(". Lives with Mr ")
        note.plant(kind, last)
        note.say(" and the children at ")
        note.plant("address", rnd.choice(s.store_addresses) if rnd.random() < 0.5 else _odd_address(rnd, s))
        note.say(". ")
    elif opening == 4:
        note.say("Telephoned ")
        note.plant("school", _school(rnd, s))
        note.say(" re attendance; ")
        note.plant("name_lowercase", low_last.lower())
        note.say(" family have moved to ")
        note.plant("address", _odd_address(rnd, s))
        note.say(", ")
        note.plant(
            "postcode",
            f"NB{rnd.randint(1, 12)} {rnd.randint(0, 9)}{rnd.choice('ABDEFGHJ')}{rnd.choice('LNPQRSTU')}",
        )
        note.say(". ")
    else:
        note.say("Chronology: born ")
        note.plant("date", _date(rnd))
        note.say("; ")
        note.plant(kind, first)
        note.say(" moved school to ")
        note.plant("school", _school(rnd, s))
        note.say(" after ")
        note.plant("name_possessive", f"{last}'s")
        note.say(" eviction. ")
    extra = rnd.randrange(4)
    if extra == 0:
        note.say("Best number for dad is ")
        note.plant("phone", _phone(rnd))
        note.say(". ")
    elif extra == 1:
        note.say("GP letter quotes NHS ")
        nhs = _nhs(rnd)
        note.plant("nhs_number", nhs)
        note.say(". ")
    elif extra == 2:
        note.say("Aunt ")
        aunt_kind, aunt_first, aunt_last = _person(rnd, s)
        note.plant(aunt_kind, f"{aunt_first} {aunt_last}")
        note.say(" can be emailed at ")
        note.plant("email", f"{aunt_first.lower()}.{aunt_last.lower()}@example.org")
        note.say(". ")
    else:
        note.say("Next visit ")
        note.plant("date", _date(rnd))
        note.say(". ")
    for decoy in rnd.sample(DECOYS, 2):
        note.say(decoy + " ")
    return note


def _nhs(rnd: random.Random) -> str:
    while True:
        digits = [rnd.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            n = "".join(map(str, digits)) + str(check)
            return f"{n[:3]} {n[3:6]} {n[6:]}"


def held_out_notes(dd: DataDir, n: int = 400, seed: int = 20261202) -> list[HeldOutNote]:
    sources = read_sources(dd)
    rnd = random.Random(seed)
    return [write_held_out_note(rnd, sources) for _ in range(n)]


@dataclass(frozen=True)
class Score:
    recall: dict[str, float]
    planted: dict[str, int]
    overall_recall: float
    precision: float
    spans: int
    false_positives: list[str]
    precision_by_entity: dict[str, float]  # of each recognizer's entity type, its spans that were right
    spans_by_entity: dict[str, int]


def score(notes: list[HeldOutNote], typed: list[list[tuple[str, int, int]]], scrubbed: list[str]) -> Score:
    """Strict recall: every letter and digit of the identifier inside a found span, and its text gone
    from the output. Precision: found spans (overlaps merged) that touch a planted identifier; per
    entity type, each recognizer's own spans that touch one."""
    found = [[(a, b) for _entity, a, b in spans] for spans in typed]
    right: Counter[str] = Counter()
    made: Counter[str] = Counter()
    for note, spans in zip(notes, typed, strict=True):
        for entity, a, b in spans:
            made[entity] += 1
            right[entity] += any(a < p.end and p.start < b for p in note.planted)
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    good = 0
    spans = 0
    false_positives: list[str] = []
    for note, spans_found, out in zip(notes, found, scrubbed, strict=True):
        covered = set()
        for a, b in spans_found:
            covered.update(range(a, b))
        for p in note.planted:
            total[p.kind] += 1
            letters = [i for i in range(p.start, p.end) if note.text[i].isalnum()]
            caught[p.kind] += all(i in covered for i in letters) and p.value not in out
        for a, b in _merge(spans_found):
            spans += 1
            if any(a < p.end and p.start < b for p in note.planted):
                good += 1
            else:
                false_positives.append(note.text[a:b])
    return Score(
        recall={k: caught[k] / total[k] for k in sorted(total)},
        planted=dict(sorted(total.items())),
        overall_recall=sum(caught.values()) / sum(total.values()),
        precision=good / spans if spans else 1.0,
        spans=spans,
        false_positives=false_positives,
        precision_by_entity={e: right[e] / made[e] for e in sorted(made)},
        spans_by_entity=dict(sorted(made.items())),
    )


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
