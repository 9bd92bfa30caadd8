"""The departments, each declared once in its own module (`model.Department`): its store's tables and
identity query, its flags and the query that computes them, its protection marker, the analysis
fields it feeds, its casework, its free text, its synthetic records. Stores, the person index,
caseworker views, the analysis store, extracts, the catalogue and the seed job read them from here.

A department outside this package joins the registry without an edit here: name it in the
`GATEWAY_DEPARTMENTS` environment variable (`module:attribute`, comma-separated) or publish it under
the `gateway.departments` entry-point group of an installed package. `docs/extending.md` walks
through it; `tests/test_departments.py` checks the registry agrees with the catalogue and the
analysis store, and adds a toy department end to end.

The store shapes follow public schemas rather than invented ones (`docs/synthetic-data.md`): the
Standard Safeguarding Dataset for children's social care and early help, the Family Context common
data model's per-service fields for the others, school-census and SALT codes, and the DWP Single
Housing Benefit Extract's claim / person / award split for benefits.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from sqlalchemy import MetaData

from gateway.departments import (
    adult_social_care,
    benefits,
    childrens_social_care,
    community_safety,
    early_help,
    education,
    housing,
)
from gateway.departments.flags import FlagQuery, FlagSpec, RawFlag
from gateway.departments.model import Department, Tables

PLUGINS_VARIABLE = "GATEWAY_DEPARTMENTS"
ENTRY_POINT_GROUP = "gateway.departments"

BUILT_IN: tuple[Department, ...] = (
    childrens_social_care.DEPARTMENT,
    housing.DEPARTMENT,
    education.DEPARTMENT,
    community_safety.DEPARTMENT,
    adult_social_care.DEPARTMENT,
    benefits.DEPARTMENT,
    early_help.DEPARTMENT,
)


def _load(reference: str) -> Department:
    module, _, attribute = reference.strip().partition(":")
    department = getattr(import_module(module), attribute or "DEPARTMENT")
    if not isinstance(department, Department):
        raise TypeError(f"{reference} is not a gateway.departments.model.Department")
    return department


def plugins() -> tuple[Department, ...]:
    """Departments declared outside the gateway: installed packages' entry points, then the variable."""
    found = [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
    found += [_load(r) for r in os.environ.get(PLUGINS_VARIABLE, "").split(",") if r.strip()]
    return tuple(found)


def _registry() -> tuple[Department, ...]:
    departments = BUILT_IN + plugins()
    names = [d.name for d in departments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"departments declared twice: {', '.join(twice)}")
    return departments


# The order is the order services are listed in caseworker views.
DEPARTMENTS: tuple[Department, ...] = _registry()
STORE_NAMES: tuple[str, ...] = tuple(d.name for d in DEPARTMENTS)


def department(store: str) -> Department:
    for d in DEPARTMENTS:
        if d.name == store:
            return d
    raise ValueError(f"unknown store {store!r}; known: {', '.join(STORE_NAMES)}")


def store_metadata(store: str) -> MetaData:
    """A fresh MetaData for one store (fresh so that engines never share table objects)."""
    return department(store).schema()


@cache
def store_tables(store: str) -> Tables:
    """The shared table objects of one store, for the service's queries (see `model.shared_tables`)."""
    return department(store).tables()


def flags(departments: tuple[Department, ...] = DEPARTMENTS) -> tuple[FlagSpec, ...]:
    return tuple(f for d in departments for f in d.flags)


def flag_queries(departments: tuple[Department, ...] = DEPARTMENTS) -> dict[str, FlagQuery]:
    return {d.name: d.flag_query for d in departments if d.flag_query is not None}


def protection_markers(departments: tuple[Department, ...] = DEPARTMENTS) -> dict[str, tuple[str, str, str]]:
    return {d.name: d.protection_marker for d in departments if d.protection_marker is not None}


def analysis_fields(departments: tuple[Department, ...] = DEPARTMENTS) -> tuple[str, ...]:
    """The analysis store's person-level flag columns, in department order, each once."""
    fields = [a for d in departments for a in d.analysis_fields]
    fields += [f.analysis_field for f in flags(departments) if f.analysis_field]
    return tuple(dict.fromkeys(fields))


def labels(departments: tuple[Department, ...] = DEPARTMENTS) -> dict[str, str]:
    return {d.name: d.label for d in departments}


__all__ = [
    "DEPARTMENTS",
    "STORE_NAMES",
    "Department",
    "FlagQuery",
    "FlagSpec",
    "RawFlag",
    "analysis_fields",
    "department",
    "flags",
    "store_metadata",
    "store_tables",
]
