"""Free-text scrubbing: identifiers in case notes replaced by typed placeholders, fully offline.

Presidio finds them and replaces them; each kind of identifier is one recognizer plug-in in a registry,
and nothing downloads anything:
- the NLP engine is a blank spaCy pipeline (a tokenizer), or a spaCy pipeline that is already on disk
  (the project's trained notes model, `privacy/ner_model.py`, or one an operator installed);
- pattern recognizers with validation: NHS number (mod-11 check digit), National Insurance number,
  UK postcode, phone (libphonenumber, region GB), email (the public suffix list is the copy bundled with
  tldextract: `suffix_list_urls=()`), UPN (check letter), numeric and month-name dates
  (`privacy/places.py`);
- streets and institutions by their shape (`privacy/places.py`), and the stores' own address lines and
  schools as phrases (the deny list);
- names by lexicon and context (`privacy/names.py`, `privacy/lexicon.py`), and, with a model, names the
  NER model proposes, each word checked against the lexicon.

A name that belongs to the note's subject or their family becomes that person's project pseudonym
(`<PERSON:h1_...>`), so an analyst can follow who a note is about without learning who they are;
any other name becomes `<PERSON>`. `docs/extracts.md` lists what each recognizer catches and misses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

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

from gateway.privacy.lexicon import fold, lexicon
from gateway.privacy.names import POSSESSIVE, CheckedNerRecognizer, NameRecognizer
from gateway.privacy.ner_model import resolve_model
from gateway.privacy.places import (
    FlatRecognizer,
    MonthDateRecognizer,
    institution_recognizer,
    street_recognizer,
)

WORD = re.compile(r"\w+(?:['’\-]\w+)*")
MAX_PHRASE = 8  # words in the longest address line or school name matched whole
ENTITIES = (
    "PERSON",
    "ADDRESS",
    "ORGANIZATION",
    "UK_POSTCODE",
    "UK_NHS",
    "UK_NINO",
    "UK_UPN",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "DATE_TIME",
)


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's English tokenizer and nothing else: no model to load, so nothing to download."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]  # presidio types it None


class TrainedSpacyNlpEngine(SpacyNlpEngine):
    """A spaCy pipeline that is already here (the project's trained notes model, or a package an
    operator installed): loaded from disk, never downloaded."""

    def __init__(self, model: str) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": resolve_model(model)}])

    def load(self) -> None:
        self.nlp = {"en": spacy.load(self.models[0]["model_name"])}  # type: ignore[assignment]


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


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in WORD.findall(text))


@dataclass
class DenyList:
    """What the stores hold: the words of everyone's names, and address lines and schools as phrases."""

    names: set[str] = field(default_factory=set)
    addresses: set[tuple[str, ...]] = field(default_factory=set)
    organisations: set[tuple[str, ...]] = field(default_factory=set)

    def add_name(self, name: str | None) -> None:
        self.names.update(w for w in _tokens(name or "") if len(w) >= 2 and not w.isdigit())

    def add_address(self, line: str | None) -> None:
        """The whole line, and each part of it ("Kerr House", "Acacia Road") without its number."""
        if not line:
            return
        self._phrase(self.addresses, line)
        for part in line.split(","):
            self._phrase(self.addresses, re.sub(r"^\s*(?:Flat\s+\S+|[0-9]+[A-Za-z]?)\s*", "", part))

    def add_organisation(self, name: str | None) -> None:
        self._phrase(self.organisations, name or "")

    @staticmethod
    def _phrase(into: set[tuple[str, ...]], text: str) -> None:
        words = _tokens(text)
        if 1 < len(words) <= MAX_PHRASE:
            into.add(words)

    def __len__(self) -> int:
        return len(self.names) + len(self.addresses) + len(self.organisations)


class DenyListRecognizer(EntityRecognizer):
    """Presidio plug-in: the longest address line or school of the stores starting at each word."""

    def __init__(self, deny: DenyList) -> None:
        self.deny = deny
        super().__init__(supported_entities=["ADDRESS", "ORGANIZATION"], name="DenyListRecognizer")

    def load(self) -> None:  # everything is in memory already
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = [(m.start(), m.end()) for m in WORD.finditer(text)]
        folded = [fold(m.group()) for m in WORD.finditer(text)]
        out: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            for n in range(min(MAX_PHRASE, len(words) - i), 1, -1):
                key = tuple(folded[i : i + n])
                entity = (
                    "ADDRESS"
                    if key in self.deny.addresses
                    else "ORGANIZATION"
                    if key in self.deny.organisations
                    else None
                )
                if entity:
                    out.append(RecognizerResult(entity, words[i][0], words[i + n - 1][1], 0.9))
                    break
            else:
                i += 1
                continue
            i += n
        return out


@dataclass(frozen=True)
class Scrubbed:
    text: str
    found: list[tuple[str, int, int]]  # (entity, start, end) in the original text, overlaps included
    replaced: list[str]  # the entity type of each replacement made


class Scrubber:
    """One analyzer per extract job (building it costs about a second; scrubbing a note, a millisecond)."""

    def __init__(self, deny: DenyList, score_threshold: float = 0.3, model: str | Path | None = None) -> None:
        self.deny = deny
        self.score_threshold = score_threshold
        self.model = str(model) if model else None

    @cached_property
    def analyzer(self) -> AnalyzerEngine:
        words = lexicon()
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
            MonthDateRecognizer(),
            UpnRecognizer(),
            street_recognizer(words),
            institution_recognizer(words),
            FlatRecognizer(),
            DenyListRecognizer(self.deny),
            NameRecognizer(words, self.deny.names),
        ]
        nlp_engine: SpacyNlpEngine = BlankSpacyNlpEngine()
        if self.model:
            nlp_engine = TrainedSpacyNlpEngine(self.model)
            recognizers.append(CheckedNerRecognizer(words, self.deny.names))
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])

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
            possessive = POSSESSIVE.search(span)
            base = span[: possessive.start()] if possessive else span
            pseudonym = known.get(_tokens(base))
            return (f"<PERSON:{pseudonym}>" if pseudonym else "<PERSON>") + (
                possessive.group() if possessive else ""
            )

        operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in ENTITIES}
        operators["PERSON"] = OperatorConfig("custom", {"lambda": person})
        # presidio-anonymizer declares its own RecognizerResult class; the analyzer's has the same fields.
        out = self.anonymizer.anonymize(text=text, analyzer_results=results, operators=operators)  # type: ignore[arg-type]
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
