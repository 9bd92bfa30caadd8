"""Free-text case notes that carry identifiers the way real notes do.

Social workers write names, addresses, phone numbers and NHS numbers into notes, in whatever format
comes to hand. Each note is built from template fragments, and every identifier planted is recorded
with its exact character span so that the scrubbing work (de-identified extracts) can be measured
against what the generator actually planted.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from gateway.synth.identifiers import format_nhs


@dataclass(frozen=True)
class Planted:
    kind: str  # name | nhs_number | phone | address | postcode | date_of_birth
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class NoteSubject:
    first: str
    last: str
    dob: dt.date
    nhs: int
    address_line: str
    postcode: str
    phone: str
    parent_first: str | None
    parent_last: str | None
    worker_name: str


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.planted: list[Planted] = []

    def say(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def plant(self, kind: str, value: str) -> None:
        self.planted.append(Planted(kind, value, self.length, self.length + len(value)))
        self.say(value)

    def done(self) -> tuple[str, list[Planted]]:
        return "".join(self.parts), self.planted


NOTE_TYPES = ("Home visit", "Telephone call", "Strategy discussion", "School visit", "Case summary")


def write_note(s: NoteSubject, rnd: random.Random) -> tuple[str, str, list[Planted]]:
    """Return (note type, text, planted identifiers)."""
    t = _Text()
    kind = rnd.choice(NOTE_TYPES)
    if kind == "Home visit":
        t.say("Visited ")
        t.plant("name", f"{s.first} {s.last}")
        t.say(" at home, ")
        t.plant("address", s.address_line)
        t.say(", ")
        t.plant("postcode", s.postcode)
        t.say(". ")
    elif kind == "Telephone call":
        t.say("Call from ")
        if s.parent_first:
            t.plant("name", f"{s.parent_first} {s.parent_last}" if rnd.random() < 0.6 else s.parent_first)
            t.say(f" about {s.first}")
        else:
            t.plant("name", s.first)
        t.say(". Contact number ")
        t.plant("phone", s.phone if rnd.random() < 0.7 else s.phone.replace(" ", ""))
        t.say(". ")
    elif kind == "Strategy discussion":
        t.say("Strategy discussion held regarding ")
        t.plant("name", f"{s.first} {s.last}")
        t.say(" (DOB ")
        t.plant("date_of_birth", s.dob.strftime("%d/%m/%Y"))
        t.say(", NHS no. ")
        t.plant("nhs_number", format_nhs(s.nhs, rnd.randrange(3)))
        t.say("). Police and health present. ")
    elif kind == "School visit":
        t.say("Met ")
        t.plant("name", s.first)
        t.say(" at school with the designated safeguarding lead. ")
        if s.parent_first:
            t.say("Mum ")
            t.plant("name", s.parent_first)
            t.say(" not answering on ")
            t.plant("phone", s.phone)
            t.say(". ")
    else:
        t.say("Summary: ")
        t.plant("name", f"{s.last.upper()}, {s.first}")
        t.say(" NHS ")
        t.plant("nhs_number", format_nhs(s.nhs, rnd.randrange(3)))
        t.say(" lives at ")
        t.plant("address", f"{s.address_line}, {s.postcode}")
        t.say(". ")
    t.say(
        rnd.choice(
            (
                "Child appeared well cared for. ",
                "Concerns about home conditions discussed. ",
                "Parent engaged and agreed to the plan. ",
                "Attendance at school remains a concern. ",
                "Referred to the family hub for parenting support. ",
                "No further concerns raised at this visit. ",
            )
        )
    )
    t.say(f"Recorded by {s.worker_name}.")
    text, planted = t.done()
    return kind, text, planted
