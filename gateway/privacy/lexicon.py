"""What a word is likely to be in a case note: someone's name, or an ordinary English word.

Two published, offline sources decide it, so no list of "names that are also words" is kept by hand:

- **Names** are every first name and surname in Faker's person providers (86 locales, the census- and
  registry-derived lists Faker ships; only Latin-script ones, since the notes are written in English)
  and every name and nickname in the `nicknames` package (Old Dominion University's table: Bob for
  Robert, Kasia for Katarzyna). The stores' own names are added by the caller.
- **Ordinary words** come from spaCy's English lexeme probabilities (`spacy-lookups-data`), which are
  case-sensitive: `may` is far more frequent than `May`, while `Khan` is more frequent than `khan`.
  A word is ordinary when its lowercase form is common (log-probability at least -13.5, about one
  word in 700,000) and not clearly rarer than its capitalised form (within 1.5 nats). So "hope",
  "mark", "frank", "grace" and "rose" are ordinary words, while "john", "smith", "khan", "lee" and
  "harper" are names even when a worker types them in lowercase.

A name that is an ordinary word is only taken as a name where the text says so (a capital letter in
the middle of a sentence, a title, a relationship word, a possessive, another name beside it); see
`gateway/privacy/names.py`.
"""

from __future__ import annotations

import gzip
import importlib
import json
import pkgutil
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import faker.providers.person
from nicknames import NickNamer

COMMON_LOG_PROB = -13.5  # lowercase form at least this frequent...
FAMILIAR_LOG_PROB = -15.0  # a word seen this often in English, in any case, is no stranger
NAME_MARGIN = 1.5  # ...and no more than this much rarer than the capitalised form
NAME_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")  # as `names.WORD` reads a note
FAKER_NAME_ATTRIBUTES = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_names_nonbinary",
    "last_names",
    "last_names_male",
    "last_names_female",
)


# Letters that Unicode does not decompose into a base letter and a mark, written as people type them
# on an English keyboard: "Açıkel" is typed "ACIKEL", "Łukasz" "Lukasz", "Søren" "Soren".
UNDECOMPOSED = str.maketrans(
    {"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ŧ": "t"}
    | {"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D"}
)


def fold(word: str) -> str:
    """Case and accents folded, since systems often store `Hector` for `Héctor` and `SMITH` for `Smith`."""
    if word.isascii():
        return word.casefold()
    decomposed = unicodedata.normalize("NFKD", word.translate(UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _latin(word: str) -> bool:
    return all(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in word)


@dataclass(frozen=True)
class Lexicon:
    names: frozenset[str]  # folded single words that are someone's first name or surname somewhere
    ordinary: frozenset[str]  # folded words that are, in running English, usually not a name
    familiar: frozenset[str]  # folded words English text uses at all (brands and places included)

    def is_name(self, folded: str) -> bool:
        return folded in self.names

    def is_ordinary(self, folded: str) -> bool:
        return folded in self.ordinary

    def is_familiar(self, folded: str) -> bool:
        return folded in self.familiar


def _faker_names() -> set[str]:
    out: set[str] = set()
    for module in pkgutil.iter_modules(faker.providers.person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attr in FAKER_NAME_ATTRIBUTES:
            value = getattr(provider, attr, None)
            if isinstance(value, dict | list | tuple):
                for name in value:
                    if isinstance(name, str) and _latin(name):
                        out.update(
                            fold(part) for part in name.split() if len(part) > 1 and NAME_WORD.fullmatch(part)
                        )
    return out


def _nickname_names() -> set[str]:
    out: set[str] = set()
    for canonical, nicks in NickNamer().nickname_lookup.items():
        out.add(fold(canonical))
        out.update(fold(n) for n in nicks)
    return {n for n in out if len(n) > 1 and NAME_WORD.fullmatch(n)}


def _lexeme_log_probs() -> dict[str, float]:
    data = resources.files("spacy_lookups_data") / "data" / "en_lexeme_prob.json.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        probs: dict[str, float] = json.load(fh)
    return probs


def ordinary_words(probs: dict[str, float]) -> frozenset[str]:
    """Lowercase alphabetic words whose lowercase use is common and not clearly rarer than `Word`."""
    out = set()
    for word, p in probs.items():
        if p < COMMON_LOG_PROB or not word.isalpha() or not word.islower():
            continue
        capitalised = probs.get(word.capitalize(), -30.0)
        if p + NAME_MARGIN >= capitalised:
            out.add(word)
    return frozenset(out)


def familiar_words(probs: dict[str, float]) -> frozenset[str]:
    return frozenset(fold(w) for w, p in probs.items() if p >= FAMILIAR_LOG_PROB and w.isalpha())


@cache
def lexicon() -> Lexicon:
    """Built once per process (about two seconds: a million lexeme probabilities are read)."""
    probs = _lexeme_log_probs()
    return Lexicon(
        names=frozenset(_faker_names() | _nickname_names()),
        ordinary=ordinary_words(probs),
        familiar=familiar_words(probs),
    )
