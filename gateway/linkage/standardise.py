"""Standardise identity fields before linkage.

Departmental systems disagree on case, accents, punctuation and formats long before they disagree on
who someone is. Linkage compares standardised values so that the model's m/u parameters measure real
disagreement ("Jon" vs "John"), not formatting ("O'NEILL" vs "O Neill"). Every function here is pure and
total: bad input yields None (a missing value the model knows how to weigh), never an exception.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from typing import Any

import pyarrow as pa
from nicknames import NickNamer
from stdnum.gb import nhs

# Letters a plain NFKD decomposition does not fold (they are letters of their own, not accented forms).
_EXTRA_FOLDS = str.maketrans(
    {"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "œ": "oe"}
)
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_MAX_ROOTS = 12


def fold(text: str) -> str:
    """ASCII-fold: many council systems cannot store 'Yılmaz' and hold 'Yilmaz' instead."""
    text = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return text.encode("ascii", "ignore").decode()


def clean_name(value: object) -> str | None:
    """Lower-case ASCII letters only: 'O'Neill-Smith ' -> 'oneillsmith'; empty -> None."""
    if not isinstance(value, str):
        return None
    letters = re.sub(r"[^a-z]", "", fold(value).lower())
    return letters or None


def first_token(value: object) -> str | None:
    """The first given name: forms put 'Mary Ann' in one box, other systems keep only 'Mary'."""
    if not isinstance(value, str):
        return None
    for token in re.split(r"[\s\-]+", value.strip()):
        cleaned = clean_name(token)
        if cleaned:
            return cleaned
    return None


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def name_roots(first: str | None) -> tuple[str, ...]:
    """The name plus every formal name it may be short for ('bill' -> bill, william, ...).

    Two forenames 'agree by nickname' when their root sets intersect, so 'Bill' and 'Will' match via
    'william' and 'Bob'/'Robert' match directly. Sorted for deterministic output; capped because a few
    short forms ('al', 'chris') are nicknames of dozens of names and would match too much.
    """
    if not first:
        return ()
    roots = {first, *_nicknamer().canonicals_of(first)}
    roots = {clean_name(r) or "" for r in roots} - {""}
    return tuple(sorted(roots)) if len(roots) <= _MAX_ROOTS else (first,)


def postcode(value: object) -> str | None:
    """Canonical UK postcode 'NB1 4SF' (upper case, one space before the inward code).

    Other countries' codes (a partner's Australian '4223', say) are kept compacted and upper-cased so
    they still compare exactly; anything shorter than 3 or longer than 10 characters is not a postcode.
    """
    if not isinstance(value, str):
        return None
    compact = re.sub(r"[^A-Z0-9]", "", value.upper())
    match = _POSTCODE.match(compact)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    return compact if 3 <= len(compact) <= 10 else None


def date_of_birth(value: object) -> dt.date | None:
    """A date from a date, datetime or ISO string; impossible or future-looking input -> None."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{8}", text):  # YYYYMMDD, as many extracts write it
                value = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            else:
                value = dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    if not isinstance(value, dt.date) or value.year < 1880 or value.year > 2100:
        return None
    return value


def sex(value: object) -> str | None:
    """'M' or 'F'; anything else (unknown, not stated, free text) is missing for linkage."""
    if not isinstance(value, str):
        return None
    v = value.strip().upper()[:1]
    return v if v in {"M", "F"} else None


def nhs_number(value: object) -> str | None:
    """Ten digits with a valid mod-11 check digit; a number that fails the check is not evidence."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits if len(digits) == 10 and nhs.is_valid(digits) else None


def uprn(value: object) -> str | None:
    """A UPRN as its digits (1 to 12 of them, no leading zeros), else None."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value)).lstrip("0")
    return digits if 0 < len(digits) <= 12 else None


def address_line(value: object) -> str | None:
    """Lower-case ASCII words, punctuation gone, 'flat 9 glover court hayes mews'."""
    if not isinstance(value, str):
        return None
    words = re.sub(r"[^a-z0-9]+", " ", fold(value).lower()).split()
    return " ".join(words) or None


def address_key(line: object, code: object) -> str | None:
    """One string naming a dwelling when there is no UPRN: the cleaned first line plus the postcode."""
    cleaned, pc = address_line(line), postcode(code)
    return f"{cleaned}|{pc}" if cleaned and pc else None


def address_numbers(line: object) -> str | None:
    """The numbers in an address line ('flat 9, 4 hayes mews' -> '9 4'): a house or flat number keyed
    wrongly changes the dwelling, a misspelt street name does not."""
    cleaned = address_line(line)
    numbers = re.findall(r"\d+", cleaned or "")
    return " ".join(numbers) or None


def street(line: object) -> str | None:
    """The words of an address line without its numbers ('flat 9 glover court' -> 'flat glover court')."""
    cleaned = address_line(line)
    words = [w for w in (cleaned or "").split() if not any(c.isdigit() for c in w)]
    return " ".join(words) or None


def standardise_record(source: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """One store record in the shape the linkage model reads (see gateway.linkage.model)."""
    first = first_token(row.get("first_name"))
    dob = date_of_birth(row.get("dob"))
    street_text = street(row.get("address_line"))
    return {
        "unique_id": f"{source}:{row['local_id']}",
        "source": source,
        "local_id": str(row["local_id"]),
        "first_name": first,
        "first_name_roots": list(name_roots(first)),
        "last_name": clean_name(row.get("last_name")),
        # The surname read as a forename, for a forename keyed into the surname box ('Cooke Howie').
        "last_name_roots": list(name_roots(first_token(row.get("last_name")))),
        "dob": dob.isoformat() if dob else None,
        "dob_year": dob.year if dob else None,
        "dob_month": dob.month if dob else None,
        "dob_day": dob.day if dob else None,
        "sex": sex(row.get("sex")),
        "postcode": postcode(row.get("postcode")),
        "address_key": address_key(row.get("address_line"), row.get("postcode")),
        "address_numbers": address_numbers(row.get("address_line")),
        "street": street_text,
        "street_words": sorted(set((street_text or "").split())),
        "locality": address_line(row.get("locality")),
        "uprn": uprn(row.get("uprn")),
        "nhs_number": nhs_number(row.get("nhs_number")),
    }


# The standardised record as a typed Arrow schema, so both engines see the same column types even when a
# column is entirely empty in one store (type inference would otherwise fail or disagree).
RECORD_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("source", pa.string()),
        ("local_id", pa.string()),
        ("first_name", pa.string()),
        ("first_name_roots", pa.list_(pa.string())),
        ("last_name", pa.string()),
        ("last_name_roots", pa.list_(pa.string())),
        ("dob", pa.string()),
        ("dob_year", pa.int32()),
        ("dob_month", pa.int32()),
        ("dob_day", pa.int32()),
        ("sex", pa.string()),
        ("postcode", pa.string()),
        ("address_key", pa.string()),
        ("address_numbers", pa.string()),
        ("street", pa.string()),
        ("street_words", pa.list_(pa.string())),
        ("locality", pa.string()),
        ("uprn", pa.string()),
        ("nhs_number", pa.string()),
    ]
)


def to_arrow(records: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=RECORD_SCHEMA)
