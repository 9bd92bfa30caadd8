"""Sentences for training the notes NER model: names in the many places a worker writes them.

The model has one job the lexicon cannot do: recognise a name no list holds from where it stands
("spoke to Tiwaloluwa at the gate", "Zainab-Rose's nan"). So the names here are drawn from the whole
lexicon and, a third of the time, invented from syllables; they appear capitalised, in lowercase, in
capitals, with possessives and titles; and the sentences also use words that are names elsewhere as
ordinary words ("we hope", "a frank talk", "Brown envelope", "May need"), labelled as nothing, so that
the model learns the context rather than the word.

These templates are the project's own. The scrubber is measured on notes phrased independently
(`tests/held_out_notes.py`), never on these.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from gateway.privacy.lexicon import lexicon

Span = tuple[int, int, str]

SYLLABLES = (
    "a ba be bi bo da de di do fa fe fi ga go ha he ja jo ka ke ki ko la le li lo lu ma me mi mo mu na ne "
    "ni no nu pa pe ra re ri ro sa se si so ta te ti to tu va ve vi wa ya yo za ze zi zo chi sha shu tha "
    "wen mir dan kel zor vin tas lyn brin"
).split()
PERSON_SLOTS = (
    "Saw {P} at the family home.",
    "{P} said she was frightened of going home.",
    "Phoned {P} twice, no answer.",
    "Discussed with {P} and her partner {Q}.",
    "{P}'s school reports no concerns.",
    "Worried that {P} is caring for {Q}.",
    "mum {P} says the baby is unsettled at night.",
    "{P} and {Q} attended the meeting with the worker.",
    "Half-sister {P} lives with the maternal grandmother.",
    "Contact between {P} and dad {Q} to stay supervised.",
    "Letter sent to {P} about the review.",
    "Mr {P} did not attend the conference.",
    "Ms {P} was tearful during the visit.",
    "Asked {P} who lives at the house; {P} named {Q}.",
    "Called {P}'s mobile and left a message.",
    "The child ({P}) was seen alone in her room.",
    "Neighbour reports shouting from {P}'s flat late at night.",
    "{P} disclosed that {Q} hits him.",
    "Referral made by {P}, health visitor.",
    "Visit cancelled by {P}, rearranged for next week.",
    "{P}, {Q} and the baby were all present.",
    "Spoke to {P} at the school gate.",
    "{P} is staying with her uncle {Q} for now.",
    "Bruise noticed on {P}'s arm, body map completed.",
    "Grandmother {P} has parental responsibility.",
    "Key worker {P} to update the plan.",
    "Text from {P}: cannot make Tuesday.",
    "sibling {P} also known to early help.",
    "{P} ran away again on Friday night.",
    "Supervision with {P} re the case direction.",
)
DECOY_SENTENCES = (
    "We hope to close the case next month.",
    "Hope the new tenancy settles things.",
    "A frank talk about the arrears followed.",
    "Frank conversation about drinking.",
    "Mark on the cheek, explained as a fall.",
    "Will review at the next core group.",
    "May need a referral to CAMHS.",
    "Review booked for May.",
    "Grace period on the loan agreed.",
    "Green bin left out for weeks.",
    "Brown envelope of letters unopened.",
    "Rose early and left for work.",
    "DOB checked against records.",
    "Faith leaders were consulted.",
    "Police attended and took a statement.",
    "Early Help offered a parenting course.",
    "Bill arrears with the water company.",
    "Sunny disposition, settled in class.",
    "Summer holiday plans discussed.",
    "Dawn visit by police, nothing found.",
    "Joy at the news of the new flat.",
    "Heath and safety check completed.",
    "Young carer assessment offered.",
    "The family moved in the spring.",
)


def invented_name(rnd: random.Random) -> str:
    return "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4))).capitalize()


def _name(rnd: random.Random, pool: list[str]) -> str:
    roll = rnd.random()
    name = invented_name(rnd) if roll < 0.33 else rnd.choice(pool).capitalize()
    if rnd.random() < 0.35:
        name += " " + (invented_name(rnd) if rnd.random() < 0.4 else rnd.choice(pool).capitalize())
    form = rnd.random()
    if form < 0.15:
        return name.lower()
    if form < 0.2:
        return name.upper()
    return name


def _sentence(rnd: random.Random, pool: list[str]) -> tuple[str, list[Span]]:
    template = rnd.choice(PERSON_SLOTS)
    text = ""
    spans: list[Span] = []
    names = {"P": _name(rnd, pool), "Q": _name(rnd, pool)}
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        key, _, rest = after.partition("}")
        text += before
        spans.append((len(text), len(text) + len(names[key]), "PERSON"))
        text += names[key]
    return text + rest, spans


def training_notes(n: int, seed: int = 7) -> Iterator[tuple[str, list[Span]]]:
    """`n` notes of two to five sentences, each with its PERSON spans."""
    rnd = random.Random(seed)
    pool = sorted(lexicon().names - lexicon().ordinary)
    for _ in range(n):
        text = ""
        spans: list[Span] = []
        for _ in range(rnd.randint(2, 5)):
            if text:
                text += " "
            if rnd.random() < 0.3:
                text += rnd.choice(DECOY_SENTENCES)
                continue
            sentence, found = _sentence(rnd, pool)
            spans.extend((a + len(text), b + len(text), label) for a, b, label in found)
            text += sentence
        yield text, spans
