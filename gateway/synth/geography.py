"""The borough's geography: wards, small areas, streets, postcodes and properties.

The borough ("Northbridge") is fictional on purpose. Its postcode area `NB` does not exist in the UK,
and the ward and small-area codes sit in ranges ONS has not issued (`E05 9xxxxx`, `E01 9xxxxx`), so no
synthetic address can collide with a real one, while every value keeps the real format.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from gateway.synth.names import ESTATE_BLOCK_SUFFIXES, UK_STREET_SUFFIXES, name_pools

WARDS: tuple[str, ...] = (
    "Abbey Fields",
    "Brookmill",
    "Canal Side",
    "Dockhead",
    "Elmgrove",
    "Fairwater",
    "Gasworks",
    "Highbridge",
    "Ironside",
    "Juniper Vale",
    "Kingsmead",
    "Lockside",
    "Marlow Park",
    "Northgate",
    "Old Quay",
    "Priory",
    "Queens Hill",
    "Riverside",
    "St Aidan's",
    "Tannery",
)

PROPERTIES_PER_POSTCODE = 15  # ONS: a unit postcode covers about 15 delivery points
HOUSEHOLDS_PER_SMALL_AREA = 650  # an LSOA has 400-1,200 households, about 1,500 people
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in inward codes


@dataclass
class Geography:
    """Column arrays, one element per property."""

    uprn: np.ndarray  # int64, 12 digits
    address_line: list[str]
    street: list[str]
    postcode: list[str]
    small_area: list[str]
    ward: np.ndarray  # index into WARDS
    is_flat: np.ndarray  # bool

    @property
    def size(self) -> int:
        return int(self.uprn.size)


def ward_code(ward_index: int) -> str:
    return f"E05{900001 + ward_index:06d}"


def build_geography(n_properties: int, rnd: random.Random) -> Geography:
    """Lay out properties street by street; neighbours are adjacent indices (for same-name pairs)."""
    surnames = name_pools()[0].surnames  # British surnames make plausible street names
    used_streets: set[str] = set()
    address_line: list[str] = []
    street_of: list[str] = []
    postcode: list[str] = []
    small_area: list[str] = []
    ward = np.empty(n_properties, dtype=np.int16)
    is_flat = np.zeros(n_properties, dtype=bool)

    i = 0
    unit_serial = 0
    while i < n_properties:
        base = rnd.choice(surnames)
        street = f"{base} {rnd.choice(UK_STREET_SUFFIXES)}"
        if street in used_streets:
            continue
        used_streets.add(street)
        w = rnd.randrange(len(WARDS))
        district = f"NB{w // 2 + 1}"
        sector = rnd.randrange(1, 10)
        length = rnd.randint(30, 120)
        block_left = 0
        block_name = ""
        number = 1
        flat = 0
        for _ in range(min(length, n_properties - i)):
            if block_left == 0 and rnd.random() < 0.06:
                block_left = rnd.randint(12, 60)  # an estate block of flats
                block_name = f"{rnd.choice(surnames)} {rnd.choice(ESTATE_BLOCK_SUFFIXES)}"
                flat = 0
                number += 2
            if block_left > 0:
                flat += 1
                block_left -= 1
                line = f"Flat {flat}, {block_name}, {street}"
                is_flat[i] = True
            elif rnd.random() < 0.25:
                flat = flat + 1 if flat else 1  # a converted house: Flat A / Flat B
                line = f"Flat {'ABCD'[min(flat, 4) - 1]}, {number} {street}"
                is_flat[i] = True
                if flat >= 2 or rnd.random() < 0.5:
                    number += 1
                    flat = 0
            else:
                line = f"{number} {street}"
                number += 1
            if i % PROPERTIES_PER_POSTCODE == 0:
                unit_serial += 1
                letters = POSTCODE_UNIT_LETTERS
                unit = letters[unit_serial % 20] + letters[(unit_serial // 20) % 20]
                current_postcode = f"{district} {sector}{unit}"
            address_line.append(line)
            street_of.append(street)
            postcode.append(current_postcode)
            ward[i] = w
            i += 1

    # Small areas: consecutive runs of properties, as output areas follow streets.
    per_area = int(HOUSEHOLDS_PER_SMALL_AREA * 1.1)
    small_area = [f"E01{900001 + k // per_area:06d}" for k in range(n_properties)]
    uprn = 100_090_000_001 + np.arange(n_properties, dtype=np.int64) * 7
    return Geography(uprn, address_line, street_of, postcode, small_area, ward, is_flat)
