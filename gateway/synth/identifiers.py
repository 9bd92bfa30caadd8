"""Synthetic identifiers that can never be a real person's.

* NHS numbers come only from 900 000 0000-999 999 9999, the range the NHS never issues to patients
  (the same "synthetic region" the `nhs-number` package generates from), with a valid modulus-11
  check digit. Generation is vectorised; `python-stdnum` (`stdnum.gb.nhs`) is the validator.
* Unique Pupil Numbers use `stdnum.gb.upn` for the check letter, with a real English LA number so
  that they validate, and a made-up establishment number.
* Phone numbers come from Ofcom's ranges reserved for drama (07700 900xxx, 020 7946 0xxx).
"""

from __future__ import annotations

import numpy as np
from stdnum.gb import upn as stdnum_upn

NHS_SYNTHETIC_LOW = 900_000_000  # first nine digits of 900 000 0000
NHS_WEIGHTS = np.arange(10, 1, -1)  # 10..2 for the first nine digits


def nhs_check_digits(bases: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit for nine-digit bases; -1 where none exists (remainder gives 10)."""
    digits = (bases[:, None] // (10 ** np.arange(8, -1, -1))) % 10
    total = (digits * NHS_WEIGHTS).sum(axis=1)
    check = 11 - total % 11
    check = np.where(check == 11, 0, check)
    return np.where(check == 10, -1, check)


def synthetic_nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct valid NHS numbers from the never-issued range, as int64, in draw order."""
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        want = int((n - out.size) * 1.15) + 16
        bases = rng.integers(NHS_SYNTHETIC_LOW, 1_000_000_000, size=want, dtype=np.int64)
        checks = nhs_check_digits(bases)
        numbers = bases[checks >= 0] * 10 + checks[checks >= 0]
        merged = np.concatenate([out, numbers])
        _, first = np.unique(merged, return_index=True)
        out = merged[np.sort(first)]
    return out[:n]


def format_nhs(number: int, style: int = 0) -> str:
    """NHS numbers are written '943 476 5919' on letters and run together in systems."""
    s = f"{number:010d}"
    if style == 1:
        return f"{s[:3]} {s[3:6]} {s[6:]}"
    if style == 2:
        return f"{s[:3]}-{s[3:6]}-{s[6:]}"
    return s


# A real LA number so the UPN validates (Southwark, an inner-London authority); the establishment
# numbers are made up, so the UPN still identifies no one.
UPN_LA_NUMBER = 210


def make_upn(establishment: int, year_allocated: int, serial: int) -> str:
    if not (0 <= establishment < 10_000 and 0 <= serial < 1_000):
        raise ValueError("a UPN holds a 4-digit establishment and a 3-digit serial")
    body = f"{UPN_LA_NUMBER:03d}{establishment:04d}{year_allocated % 100:02d}{serial:03d}"
    return stdnum_upn.calc_check_digit(body) + body


MOBILE, LANDLINE = 0, 1


def phone_number(kind: int, n: int) -> str:
    """A mobile (07700 900xxx) or London landline (020 7946 0xxx) from Ofcom's drama ranges."""
    return (f"07700 900{n % 1000:03d}") if kind == MOBILE else f"020 7946 0{n % 1000:03d}"
