"""Names in case notes, found by reading each word in its place in the sentence.

A word is a name candidate when the lexicon (`gateway/privacy/lexicon.py`) or the stores hold it as
someone's name. Whether it is taken depends on what it is and where it stands:

- a name that is no ordinary English word ("Khan", "priya", "Tomczak's") is taken in any case, with
  its possessive;
- a name that is also an ordinary word ("Hope", "Mark", "May", "Grace") is taken only where the text
  marks it as a name: a capital letter inside a sentence, a title or relationship word before it
  ("Mrs Green", "mum Hope"), a possessive ("Grace's"), another name beside it ("Grace Okafor"), or,
  at the start of a sentence, a verb of speech or state after it ("Rose said"); months stay dates
  unless a title, possessive or neighbouring name says otherwise;
- a capitalised word no list holds ("Roxmi") is taken after a title or relationship word, beside a
  name ("Roxmi Okafor"), or inside a sentence when English text never uses it (brands and places
  that English does use, such as "Snapchat" or "Croydon", stay); anything else is left to the NER
  model, when one is loaded.

Social-care acronyms ("DOB", "SW", "CP") and service words ("Police", "Early Help") are never names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import SpacyRecognizer

from gateway.privacy.lexicon import Lexicon, fold

WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
SENTENCE_END = ".!?:\n"  # after a semicolon the sentence goes on: a capital there is a name
OPENERS = "\"'“‘([-–—•*"

ACRONYMS = frozenset(
    """dob nhs gp sw cp cin lac cla sen send ehcp mash icpc rcpc upn ni asb yot dv da dsl hv cse cce
    fgm pc dc ae ofsted cafcass camhs iro lado pep sgo ehc ss sgo nfa tac tam ic""".split()
)
SERVICE_WORDS = frozenset(
    """police health court council housing school schools hub team social care services service family
    families children child youth offending education welfare benefits hospital panel conference plan
    protection review core group strategy meeting north south east west central london england
    early help safeguarding front door mum dad nan grandad gran auntie baby home office centre""".split()
)
COMPASS = frozenset("north south east west".split())  # surnames too, but only beside a first name
MONTHS = frozenset(
    """january february march april may june july august september october november december""".split()
)
TITLES = frozenset("mr mrs ms miss mx dr master prof sir".split())
RELATIONS = frozenset(
    """mum mother mam mom dad father brother sister bro sis son daughter nan nanna nana gran grandma
    grandmother grandad grandpa grandfather aunt auntie aunty uncle cousin partner boyfriend girlfriend
    husband wife stepdad stepmum step-dad step-mum stepfather stepmother sibling siblings niece nephew
    carer friend neighbour called named aka teacher worker officer nurse midwife landlord ex
    ex-partner pupil child baby twin""".split()
)
SUBJECT_VERBS = frozenset(
    """said says told tells was is has had reported reports disclosed stated states attended asked
    explained confirmed agreed denied lives lived returned went came arrived appeared presented seemed
    became spoke rang phoned texted refused left cried shouted hit and who did does didn't doesn't
    isn't wasn't""".split()
)


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    text: str
    base: str  # folded, possessive removed
    accented: bool  # "Pál" is no English word, though "pal" is
    possessive: bool
    capitalised: bool
    sentence_start: bool


@lru_cache(maxsize=16)
def words_of(text: str) -> tuple[Word, ...]:
    """The note's words, read once per note: the name and place recognizers all walk them."""
    out = []
    for m in WORD.finditer(text):
        raw = m.group()
        possessive = bool(POSSESSIVE.search(raw)) and len(raw) > 2
        base = fold(raw[:-2] if possessive else raw)
        out.append(
            Word(
                m.start(),
                m.end(),
                raw,
                base,
                not raw.isascii(),
                possessive,
                raw[:1].isupper(),
                _starts_sentence(text, m.start()),
            )
        )
    return tuple(out)


def _starts_sentence(text: str, at: int) -> bool:
    i = at - 1
    while i >= 0 and (text[i].isspace() or text[i] in OPENERS):
        if text[i] == "\n":
            return True
        i -= 1
    return i < 0 or text[i] in SENTENCE_END


def _adjacent(text: str, left: Word, right: Word) -> bool:
    """Two words of one name: a space between them and nothing else."""
    return text[left.end : right.start] == " "


class NameRecognizer(EntityRecognizer):
    """Presidio plug-in: names by lexicon and context (see the module docstring)."""

    def __init__(self, lexicon: Lexicon, store_names: Iterable[str] = ()) -> None:
        self.lexicon = lexicon
        self.store_names = frozenset(store_names)
        super().__init__(supported_entities=["PERSON"], name="NameRecognizer")

    def load(self) -> None:  # everything is in memory already
        return None

    def _known(self, base: str) -> bool:
        if base in self.store_names or self.lexicon.is_name(base):
            return True
        parts = base.split("-")
        return len(parts) > 1 and all(p in self.store_names or self.lexicon.is_name(p) for p in parts)

    def _ordinary(self, w: Word) -> bool:
        if w.accented:
            return False
        return self.lexicon.is_ordinary(w.base) or w.base in SERVICE_WORDS or w.base in RELATIONS

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = words_of(text)
        taken = [False] * len(words)
        strong = [False] * len(words)  # names that need no neighbour to be taken
        for i, _w in enumerate(words):
            strong[i] = self._standalone(text, words, i)
        taken = list(strong)
        for _ in range(2):  # a name beside a name: "Grace Okafor", "Roxmi Smith", "Mrs Roxmi Kaqu"
            for i, _w in enumerate(words):
                if not taken[i] and self._beside_a_name(text, words, taken, i):
                    taken[i] = True
        return [
            RecognizerResult("PERSON", w.start, w.end, 0.85) for w, t in zip(words, taken, strict=True) if t
        ]

    def _cue_before(self, text: str, words: Sequence[Word], i: int) -> bool:
        """A title ("Mrs Green", "Mr. Khan") or relationship word ("mum Hope") just before."""
        if i == 0:
            return False
        prev, gap = words[i - 1], text[words[i - 1].end : words[i].start]
        return (gap == " " and (prev.base in TITLES or prev.base in RELATIONS)) or (
            gap == ". " and prev.base in TITLES
        )

    def _standalone(self, text: str, words: Sequence[Word], i: int) -> bool:
        w = words[i]
        if len(w.base) < 2 or w.base in ACRONYMS or w.base in TITLES:
            return False
        if w.base in SERVICE_WORDS:
            return self._cue_before(text, words, i) and words[i - 1].base in TITLES
        if w.text.isupper() and len(w.text) <= 3 and not self._cue_before(text, words, i):
            return False  # short capitals are abbreviations unless a title says otherwise
        known = self._known(w.base)
        ordinary = self._ordinary(w)
        cue = self._cue_before(text, words, i)
        if not known:
            if not w.capitalised or ordinary or w.text.isupper():
                return False
            if cue or (not self.lexicon.is_familiar(w.base) and (w.possessive or not w.sentence_start)):
                return True  # "Mrs Kaqu"; a word English never uses, capitalised mid-sentence
            return False
        if not ordinary:
            return w.capitalised or len(w.base) >= 3
        if not w.capitalised:
            return cue and words[i - 1].base in TITLES
        if w.base in MONTHS:
            return cue or w.possessive
        if w.possessive or cue:
            return True
        if not w.sentence_start:
            return True
        following = words[i + 1] if i + 1 < len(words) else None
        return following is not None and _adjacent(text, w, following) and following.base in SUBJECT_VERBS

    def _beside_a_name(self, text: str, words: Sequence[Word], taken: list[bool], i: int) -> bool:
        w = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        if w.text.isupper() and following and taken[i + 1] and text[w.end : following.start] == ", ":
            return self._known(w.base) or not self._ordinary(w)  # "SMITH, Jo", "POP, Severin"
        before = i > 0 and taken[i - 1] and _adjacent(text, words[i - 1], w)
        if w.base in COMPASS and self._known(w.base):
            return before  # "Mitchell North", but "North London" stays
        if not w.capitalised or w.base in ACRONYMS or w.base in SERVICE_WORDS or w.base in TITLES:
            return False
        if w.base in MONTHS or (w.text.isupper() and len(w.text) <= 3):
            return False
        if self._ordinary(w) and not self._known(w.base):
            return False
        after = following is not None and taken[i + 1] and _adjacent(text, w, following)
        if after and not before and w.sentence_start and not self._known(w.base):
            return False  # "Telephoned Khan": a verb opening the sentence, not a first name
        return before or after


class CheckedNerRecognizer(SpacyRecognizer):
    """The NER model's PERSON spans, each word checked against the lexicon: the model proposes names
    from context (a word no list holds, opening a sentence or in lowercase), and a word English uses
    for something else ("Chronology", "quotes", "Health") is never taken on the model's word alone."""

    def __init__(self, lexicon: Lexicon, store_names: Iterable[str] = ()) -> None:
        self.lexicon = lexicon
        self.store_names = frozenset(store_names)
        super().__init__(supported_entities=["PERSON"])

    def _plausible(self, w: Word) -> bool:
        if w.base in ACRONYMS or w.base in SERVICE_WORDS or w.base in RELATIONS or w.base in TITLES:
            return False
        if (self.lexicon.is_ordinary(w.base) and not w.accented) or len(w.base) < 2:
            return False
        return (
            w.base in self.store_names or self.lexicon.is_name(w.base) or not self.lexicon.is_familiar(w.base)
        )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out = []
        for r in super().analyze(text, entities, nlp_artifacts):
            for w in words_of(text[r.start : r.end]):
                if self._plausible(w):
                    out.append(RecognizerResult("PERSON", r.start + w.start, r.start + w.end, r.score))
        return out
