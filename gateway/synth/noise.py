"""Identity noise: how each departmental system gets a resident's details a little wrong.

Each store receives its own copy of a person's identity with errors of the kinds real council systems
show (typos, nicknames, swapped names, changed surnames, partial or swapped dates of birth, stale
addresses after a move, missing postcodes, records held twice). The rates are configurable per store
(`gateway seed --noise FILE.yaml`) and the kinds applied to every record are written to the hidden
ground truth so that tests can check both the rates and that the noise is really there.

The functions here are small and pure apart from the `random.Random` they are handed.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from nicknames import NickNamer
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_NOISE_FILE = Path(__file__).with_name("noise.yaml")


class NoiseRates(BaseModel):
    """Probabilities per store record. Documented in docs/synthetic-data.md."""

    model_config = ConfigDict(extra="forbid")

    first_typo: float = Field(0.03, ge=0, le=1)
    last_typo: float = Field(0.03, ge=0, le=1)
    nickname: float = Field(0.06, ge=0, le=1, description="when the first name has a known nickname")
    name_swap: float = Field(0.01, ge=0, le=1, description="first and last name entered the wrong way round")
    surname_change: float = Field(0.04, ge=0, le=1, description="adults: birth/married/double-barrelled name")
    dob_missing: float = Field(0.02, ge=0, le=1)
    dob_partial: float = Field(0.02, ge=0, le=1, description="day (or day and month) unknown, stored as 1st")
    dob_day_month_swap: float = Field(0.015, ge=0, le=1, description="when day <= 12 and day != month")
    old_address: float = Field(
        0.35, ge=0, le=1, description="when the household moved: store kept the old one"
    )
    postcode_missing: float = Field(0.04, ge=0, le=1)
    ascii_folded: float = Field(0.5, ge=0, le=1, description="when the name has accents: system drops them")
    duplicate: float = Field(0.01, ge=0, le=1, description="the person is held twice under two local ids")
    # Harder noise, off in the shipped rates (so the default borough is unchanged), on in
    # benchmarks/noise-hard.yaml, which makes the borough at least as noisy as FEBRL.
    ocr: float = Field(0.0, ge=0, le=1, description="a scanned form misread: rn->m, l->1, O->0 and the like")
    dob_typo: float = Field(0.0, ge=0, le=1, description="one digit of the date of birth keyed wrongly")
    address_typo: float = Field(0.0, ge=0, le=1, description="a keying slip in the address line")


class NoiseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: NoiseRates = NoiseRates()
    stores: dict[str, dict[str, float]] = {}

    def for_store(self, store: str) -> NoiseRates:
        merged = self.default.model_dump() | self.stores.get(store, {})
        return NoiseRates(**merged)


def load_noise_config(path: Path | None = None) -> NoiseConfig:
    """Defaults ship in gateway/synth/noise.yaml; a user file overrides any of its keys."""
    base = yaml.safe_load(DEFAULT_NOISE_FILE.read_text()) or {}
    if path is not None:
        user = yaml.safe_load(Path(path).read_text()) or {}
        base["default"] = base.get("default", {}) | user.get("default", {})
        stores = dict(base.get("stores", {}))
        for store, rates in (user.get("stores") or {}).items():
            stores[store] = stores.get(store, {}) | rates
        base["stores"] = stores
    return NoiseConfig.model_validate(base)


# --- the transformations --------------------------------------------------------------------------

_KEYBOARD_NEIGHBOURS = {
    "a": "qswz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


def typo(name: str, rnd: random.Random) -> str:
    """One keyboard slip: a neighbouring key, a dropped, doubled or transposed letter."""
    if len(name) < 3:
        return name
    pos = rnd.randrange(1, len(name))  # the first letter is usually right
    op = rnd.randrange(4)
    ch = name[pos]
    if op == 0 and ch.lower() in _KEYBOARD_NEIGHBOURS:
        sub = rnd.choice(_KEYBOARD_NEIGHBOURS[ch.lower()])
        return name[:pos] + (sub.upper() if ch.isupper() else sub) + name[pos + 1 :]
    if op == 1:
        return name[:pos] + name[pos + 1 :]
    if op == 2:
        return name[:pos] + ch + name[pos:]
    if pos < len(name) - 1 and name[pos] != name[pos + 1]:
        return name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :]
    return name[:pos] + name[pos + 1 :]


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def nicknames_for(first: str) -> tuple[str, ...]:
    """Known short forms of a first name, sorted for determinism (Robert -> Bob, Rob, ...)."""
    found = _nicknamer().nicknames_of(first.lower())
    return tuple(sorted(n.title() for n in found if len(n) >= 2))


def nickname(first: str, rnd: random.Random) -> str | None:
    options = nicknames_for(first)
    return rnd.choice(options) if options else None


def fold_ascii(text: str) -> str:
    """What a system without accent support stores: 'Yılmaz' -> 'Yilmaz', 'Álvaro' -> 'Alvaro'."""
    text = text.replace("ı", "i").replace("ł", "l").replace("Ł", "L").replace("ø", "o")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


# What optical character recognition of a handwritten or faxed form confuses (FEBRL's OCR errors).
_OCR = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("l", "1"), ("o", "0"), ("i", "l"), ("e", "c"))


def ocr_error(text: str, rnd: random.Random) -> str:
    """One OCR confusion somewhere in the text (unchanged when none of the patterns occurs)."""
    lowered = text.lower()
    options = [(a, b) for a, b in _OCR if a in lowered]
    if not options:
        return text
    a, b = rnd.choice(options)
    at = lowered.index(a)
    return text[:at] + b + text[at + len(a) :]


def dob_typo(dob: dt.date, rnd: random.Random) -> dt.date:
    """One digit of YYYY-MM-DD keyed wrongly, kept only if it is still a date."""
    digits = list(dob.strftime("%Y%m%d"))
    for _ in range(10):
        pos = rnd.randrange(2, 8)  # the century is rarely wrong
        digits_try = digits.copy()
        digits_try[pos] = str(rnd.randrange(10))
        text = "".join(digits_try)
        try:
            changed = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            continue
        if changed != dob:
            return changed
    return dob


def partial_dob(dob: dt.date, rnd: random.Random) -> dt.date:
    return dob.replace(day=1) if rnd.random() < 0.5 else dob.replace(month=1, day=1)


def swap_day_month(dob: dt.date) -> dt.date | None:
    """The American-order slip; only possible when the day is a valid month and differs from it."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    return dob.replace(month=dob.day, day=dob.month)


@dataclass
class Identity:
    """One store's copy of a resident's identifying details."""

    first: str
    middle: str
    last: str
    sex: str
    dob: dt.date | None
    address_line: str
    postcode: str | None
    uprn: int
    nhs: int


def apply_noise(
    true: Identity,
    *,
    rates: NoiseRates,
    rnd: random.Random,
    adult: bool,
    old_address: tuple[str, str, int] | None,
    other_surname: str | None,
) -> tuple[Identity, list[str]]:
    """Return the store's version of `true` and the noise kinds applied (for the hidden truth)."""
    kinds: list[str] = []
    first, last, dob = true.first, true.last, true.dob
    address_line, postcode, uprn = true.address_line, true.postcode, true.uprn

    if rnd.random() < rates.nickname and (nick := nickname(first, rnd)) is not None:
        first = nick
        kinds.append("nickname")
    if other_surname and rnd.random() < rates.surname_change:
        last = other_surname if not adult or rnd.random() < 0.6 else f"{last}-{other_surname}"
        kinds.append("surname_change")
    if rnd.random() < rates.first_typo:
        changed = typo(first, rnd)
        if changed != first:
            first = changed
            kinds.append("first_typo")
    if rnd.random() < rates.last_typo:
        changed = typo(last, rnd)
        if changed != last:
            last = changed
            kinds.append("last_typo")
    if rnd.random() < rates.name_swap:
        first, last = last, first
        kinds.append("name_swap")
    # The harder kinds draw from the random stream only when switched on, so the default borough's
    # records stay byte-identical to what they were before these kinds existed.
    if rates.ocr and rnd.random() < rates.ocr:
        before = (first, last)
        if rnd.random() < 0.5:
            first = ocr_error(first, rnd)
        else:
            last = ocr_error(last, rnd)
        if (first, last) != before:
            kinds.append("ocr")
    if (first != fold_ascii(first) or last != fold_ascii(last)) and rnd.random() < rates.ascii_folded:
        first, last = fold_ascii(first), fold_ascii(last)
        kinds.append("ascii_folded")

    if dob is not None:
        r = rnd.random()
        if r < rates.dob_missing:
            dob = None
            kinds.append("dob_missing")
        elif r < rates.dob_missing + rates.dob_partial:
            partial = partial_dob(dob, rnd)
            if partial != dob:
                dob = partial
                kinds.append("dob_partial")
        elif r < rates.dob_missing + rates.dob_partial + rates.dob_day_month_swap:
            swapped = swap_day_month(dob)
            if swapped is not None:
                dob = swapped
                kinds.append("dob_day_month_swap")

    if dob is not None and rates.dob_typo and rnd.random() < rates.dob_typo:
        changed_dob = dob_typo(dob, rnd)
        if changed_dob != dob:
            dob = changed_dob
            kinds.append("dob_typo")

    if old_address is not None and rnd.random() < rates.old_address:
        address_line, postcode, uprn = old_address
        kinds.append("old_address")
    if rnd.random() < rates.postcode_missing:
        postcode = None
        kinds.append("postcode_missing")

    if rates.address_typo and rnd.random() < rates.address_typo:
        words = address_line.split(" ")
        long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if long_words:
            i = rnd.choice(long_words)
            words[i] = typo(words[i], rnd)
            address_line = " ".join(words)
            kinds.append("address_typo")

    noisy = Identity(first, true.middle, last, true.sex, dob, address_line, postcode, uprn, true.nhs)
    return noisy, kinds
