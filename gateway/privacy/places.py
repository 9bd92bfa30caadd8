"""Addresses, schools and surgeries, and dates written with month names, in case notes.

Streets and institutions are named the same way everywhere: one to four capitalised words before a
word that says what the place is ("Larkspur Crescent", "Hermann Embankment", "St Idun's Infant
School", "Elm Tree Surgery"). The recognizers find that last word (case-sensitive, so "brown
envelope" or "the school" are never places) and walk left over capitalised words, stopping at an
ordinary word that opens a sentence ("Telephoned Bray Primary School" keeps "Telephoned"). A house
number and a flat before a street are taken with it. Places the stores hold (every address line and
school) are matched whole by the deny list as well, in any case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.privacy.lexicon import Lexicon
from gateway.privacy.names import SERVICE_WORDS, Word, words_of

STREET_TYPES = (
    "Road Street Avenue Lane Close Way Drive Court Gardens Place Crescent Grove Terrace Walk Row Hill Park "
    "Rise Mews Square Green Vale View Parade Yard Gate Wharf Mount Rd Ave Broadway Embankment Quay Circus "
    "Approach Chase Croft Heights Meadows Meadow Passage Boulevard Causeway Crossing Fields End Side Path "
    "Market Estate Cottages Villas Common Ridge Dene Garth Wynd Hollow Copse Wood Brow Bank Reach Orchard "
    "House Lodge Tower Mansions Point Buildings Block"
).split()
INSTITUTION = (
    r"(?:(?:C of E|CofE|C\.E\.|RC|R\.C\.|Catholic|Church of England|Community|Free)\s+)?"
    r"(?:(?:Primary|Infants?|Junior|Secondary|High|Grammar|Nursery|Special)\s+)?"
    r"(?:School|Academy|College|Nursery|Primary|Surgery|Medical Centre|Health Centre|Medical Practice|"
    r"Children['’]s Centre|Family Centre|Family Hub|Hospital|Pupil Referral Unit)\b"
)
MAX_NAME_WORDS = 4
MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
ORDINAL = r"(?:st|nd|rd|th)"


class ProperPlaceRecognizer(EntityRecognizer):
    """Capitalised words ending in a place word: a street (ADDRESS) or an institution (ORGANIZATION)."""

    def __init__(self, entity: str, suffix: str, lexicon: Lexicon, with_number: bool) -> None:
        self.suffix = re.compile(suffix)
        self.lexicon = lexicon
        self.with_number = with_number
        super().__init__(supported_entities=[entity], name=f"ProperPlaceRecognizer:{entity}")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = words_of(text)
        out = []
        for m in self.suffix.finditer(text):
            start = self._name_start(text, words, m.start())
            if start is None:
                continue
            if self.with_number:
                start = self._number_start(text, start)
            out.append(RecognizerResult(self.supported_entities[0], start, m.end(), 0.7))
        return out

    def _name_start(self, text: str, words: Sequence[Word], suffix_start: int) -> int | None:
        before = [w for w in words if w.end <= suffix_start]
        start = None
        edge = suffix_start
        for w in reversed(before[-MAX_NAME_WORDS:]):
            gap = text[w.end : edge]
            if gap not in (" ", " of ") or not (w.capitalised or w.base == "st"):
                break
            if w.sentence_start and (self.lexicon.is_ordinary(w.base) and not self.lexicon.is_name(w.base)):
                break
            if w.base in SERVICE_WORDS and w.base != "st":
                break
            start = edge = w.start
        return start

    @staticmethod
    def _number_start(text: str, start: int) -> int:
        m = re.search(r"(?:Flat\s+[0-9A-Z]+[,\s]+)?(?:[0-9]+[A-Za-z]?[,\s]+)$", text[:start])
        return m.start() if m else start


def street_recognizer(lexicon: Lexicon) -> ProperPlaceRecognizer:
    return ProperPlaceRecognizer("ADDRESS", rf"\b(?:{'|'.join(STREET_TYPES)})\b", lexicon, with_number=True)


def institution_recognizer(lexicon: Lexicon) -> ProperPlaceRecognizer:
    return ProperPlaceRecognizer("ORGANIZATION", rf"\b{INSTITUTION}", lexicon, with_number=False)


class FlatRecognizer(PatternRecognizer):
    """`Flat 4`, `Flat 12B`: the flat number of an address whose block or street is found apart."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="ADDRESS",
            patterns=[Pattern("flat", r"\bFlat\s+[0-9]+[A-Z]?\b", 0.5)],
            global_regex_flags=re.MULTILINE,
        )


class MonthDateRecognizer(PatternRecognizer):
    """`14 December 2020`, `3rd May`, `May 3rd`, `the 9th of April 2008`, `Dec 14, 2020`, `June 2015`.

    Case-sensitive: a month needs its capital, and a day or a year beside it, so "Review in May" and
    "may need" stay as they are."""

    def __init__(self) -> None:
        patterns = [
            Pattern(
                "day month",
                rf"\b\d{{1,2}}{ORDINAL}?(?:\s+of)?\s+{MONTH}(?:,?\s+\d{{4}}|\s+'?\d{{2}}\b)?",
                0.6,
            ),
            Pattern("month day", rf"\b{MONTH}\s+\d{{1,2}}{ORDINAL}?\b(?:,?\s+\d{{4}})?", 0.6),
            Pattern("month year", rf"\b{MONTH}\s+\d{{4}}\b", 0.5),
            Pattern("dotted", r"\b\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})\b", 0.5),
        ]
        super().__init__(supported_entity="DATE_TIME", patterns=patterns, global_regex_flags=re.MULTILINE)
