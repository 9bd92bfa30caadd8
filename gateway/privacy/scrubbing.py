"""Free-text scrubbing: identifiers in case notes replaced by typed placeholders, fully offline.

Presidio finds them and replaces them; nothing here downloads anything:
- the NLP engine is a blank spaCy pipeline (a tokenizer, no model, no NER), so `AnalyzerEngine()`
  never reaches for `en_core_web_lg`;
- recognizers are patterns with validation: NHS number (mod-11 check digit), National Insurance
  number, UK postcode, phone (libphonenumber, region GB), email (the public suffix list is the copy
  bundled with tldextract: `suffix_list_urls=()`), dates, UPN (check letter), and street addresses;
- a deny-list recognizer, fed with the names and address lines of everyone in the departmental stores
  (and the staff who write the notes), catches names without NER. Matching is on word n-grams in a
  hash set, so a hundred thousand names cost no more per note than ten.

A name that belongs to the note's subject or their family becomes that person's project pseudonym
(`<PERSON:h1_...>`), so an analyst can follow who a note is about without learning who they are;
any other name becomes `<PERSON>`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import spacy
import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    DateRecognizer,
    EmailRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UkNinoRecognizer,
    UkPostcodeRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from stdnum.gb import upn as stdnum_upn

WORD = re.compile(r"\w+(?:['’\-]\w+)*")
MAX_PHRASE = 8  # words in the longest name or address line matched whole
MIN_NAME = 2  # single letters are initials, not names
# Capitalised words that open sentences in notes and are also someone's surname somewhere. A name of
# one word is only taken when it is not one of these; inside a longer name it always is.
COMMON_WORDS = frozenset(
    """a about after all also an and any are as at be been before but by call called can child children
    concerns contact dad day did discussed do does first for from further had has have he health her
    here him his home house i in is it its know last later left met more mother mum no not note now of
    on or our out parent parents plan police referred recorded said school she should so some strategy
    summary that the their them then there they this to today told under up very visit visited was we
    well were what when where which who will with would yes you young""".split()
)
ENTITIES = (
    "PERSON",
    "ADDRESS",
    "UK_POSTCODE",
    "UK_NHS",
    "UK_NINO",
    "UK_UPN",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "DATE_TIME",
)
STREET_TYPES = (
    "Road|Street|Avenue|Lane|Close|Way|Drive|Court|Gardens|Place|Crescent|Grove|Terrace|Walk|Row|Hill|"
    "Park|Rise|Mews|Square|Green|Vale|View|Parade|Yard|Gate|Wharf|Mount|Rd|St|Ave"
)


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's English tokenizer and nothing else: no model to load, so nothing to download."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with tldextract kept to its bundled suffix list (no fetch)."""

    _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text.rsplit("@", 1)[-1]).suffix != ""


class UpnRecognizer(PatternRecognizer):
    """Unique Pupil Numbers: a check letter and twelve digits (DfE; validated with python-stdnum)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="UK_UPN",
            patterns=[Pattern("UPN", r"\b[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]\b", 0.6)],
            context=["upn", "pupil"],
        )

    def validate_result(self, pattern_text: str) -> bool:
        return bool(stdnum_upn.is_valid(pattern_text))


class StreetAddressRecognizer(PatternRecognizer):
    """`Flat 3, Kerr House, 12 Acacia Road` and the like, for addresses missing from the deny list."""

    def __init__(self) -> None:
        cap = r"[A-Z][\w'’\-]+"
        pattern = (
            rf"\b(?:Flat\s+[0-9A-Z]+,?\s+)?(?:{cap}(?:\s+{cap})?\s+(?:House|Court|Lodge|Tower|Mansions|Point),?\s+)?"
            rf"(?:[0-9]+[A-Z]?\s+)?(?:{cap}\s+){{1,3}}(?:{STREET_TYPES})\b"
        )
        super().__init__(supported_entity="ADDRESS", patterns=[Pattern("street", pattern, 0.5)])


def fold(word: str) -> str:
    """Case and accents folded, since systems often store `Hector` for `Héctor` and `SMITH` for `Smith`."""
    if word.isascii():
        return word.casefold()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in WORD.findall(text))


@dataclass
class DenyList:
    """Known names and address lines as word n-grams (case-folded)."""

    names: set[tuple[str, ...]] = field(default_factory=set)
    addresses: set[tuple[str, ...]] = field(default_factory=set)

    def add_name(self, name: str | None) -> None:
        words = _tokens(name or "")
        if not words:
            return
        if len(words) <= MAX_PHRASE:
            self.names.add(words)
        self.names.update((w,) for w in words if len(w) >= MIN_NAME)

    def add_address(self, line: str | None) -> None:
        words = _tokens(line or "")
        if 1 < len(words) <= MAX_PHRASE:
            self.addresses.add(words)

    def __len__(self) -> int:
        return len(self.names) + len(self.addresses)


class DenyListRecognizer(EntityRecognizer):
    """Presidio plug-in: the longest known name or address line starting at each word."""

    def __init__(self, deny: DenyList) -> None:
        self.deny = deny
        super().__init__(supported_entities=["PERSON", "ADDRESS"], name="DenyListRecognizer")

    def load(self) -> None:  # everything is in memory already
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
        folded = [fold(w[2]) for w in words]
        out: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
                key = tuple(folded[i : i + n])
                start, end = words[i][0], words[i + n - 1][1]
                if n > 1 and key in self.deny.addresses:
                    out.append(RecognizerResult("ADDRESS", start, end, 0.9))
                    break
                if key in self.deny.names and self._name_like(words[i : i + n], key):
                    out.append(RecognizerResult("PERSON", start, end, 0.85))
                    break
            else:
                i += 1
                continue
            i += n
        return out

    @staticmethod
    def _name_like(words: list[tuple[int, int, str]], key: tuple[str, ...]) -> bool:
        if not all(w[2][:1].isupper() for w in words):
            return False
        return len(key) > 1 or key[0] not in COMMON_WORDS


@dataclass(frozen=True)
class Scrubbed:
    text: str
    found: list[tuple[str, int, int]]  # (entity, start, end) in the original text, overlaps included
    replaced: list[str]  # the entity type of each replacement made


class Scrubber:
    """One analyzer per extract job (building it costs about a second; scrubbing a note, a millisecond)."""

    def __init__(self, deny: DenyList, score_threshold: float = 0.3) -> None:
        self.deny = deny
        self.score_threshold = score_threshold

    @cached_property
    def analyzer(self) -> AnalyzerEngine:
        postcode = UkPostcodeRecognizer(
            patterns=[Pattern("UK postcode", UkPostcodeRecognizer.PATTERNS[0].regex, 0.6)]
        )
        recognizers: list[EntityRecognizer] = [
            NhsRecognizer(),
            UkNinoRecognizer(),
            postcode,
            PhoneRecognizer(supported_regions=("GB",), leniency=0),
            OfflineEmailRecognizer(),
            DateRecognizer(),
            UpnRecognizer(),
            StreetAddressRecognizer(),
            DenyListRecognizer(self.deny),
        ]
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        return AnalyzerEngine(registry=registry, nlp_engine=BlankSpacyNlpEngine(), supported_languages=["en"])

    @cached_property
    def anonymizer(self) -> AnonymizerEngine:
        return AnonymizerEngine()

    def find(self, text: str) -> list[RecognizerResult]:
        return self.analyzer.analyze(
            text=text, language="en", entities=list(ENTITIES), score_threshold=self.score_threshold
        )

    def scrub(self, text: str, known: Mapping[tuple[str, ...], str] | None = None) -> Scrubbed:
        """Replace every identifier found; `known` maps a person's name words to their pseudonym."""
        if not text:
            return Scrubbed(text or "", [], [])
        results = self.find(text)
        known = known or {}

        def person(span: str) -> str:
            pseudonym = known.get(_tokens(span))
            return f"<PERSON:{pseudonym}>" if pseudonym else "<PERSON>"

        operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in ENTITIES}
        operators["PERSON"] = OperatorConfig("custom", {"lambda": person})
        out = self.anonymizer.anonymize(text=text, analyzer_results=results, operators=operators)
        return Scrubbed(
            out.text, [(r.entity_type, r.start, r.end) for r in results], [i.entity_type for i in out.items]
        )


def known_names(people: Iterable[tuple[str, Iterable[str | None]]]) -> dict[tuple[str, ...], str]:
    """(pseudonym, names) of the people a note may mention -> lookup of every way their name is written
    (full name, first name, surname, 'SURNAME, First')."""
    lookup: dict[tuple[str, ...], str] = {}
    for pseudonym, names in people:
        for name in names:
            words = _tokens(name or "")
            if not words:
                continue
            # A surname alone is shared by the family, so it stays <PERSON>.
            for key in (words, words[:1], (*words[-1:], *words[:-1])):
                lookup.setdefault(key, pseudonym)
    return lookup
