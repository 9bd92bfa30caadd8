"""The departments, each declared once in its own module: its label, its flags and the query that
computes them, its protection marker, the analysis fields it feeds. Caseworker views, the analysis
store, extracts and the web pages read them from here.

To add a department or a flag, see `docs/extending.md`: one module here (registered below), its store
schema and identity query, and the agreement lines that share it. `tests/test_departments.py` checks
that the registry agrees with the catalogue and the analysis store.
"""

from __future__ import annotations

from gateway.departments import (
    adult_social_care,
    benefits,
    childrens_social_care,
    community_safety,
    early_help,
    education,
    housing,
)
from gateway.departments.flags import Department, FlagQuery, FlagSpec, RawFlag

# The order is the order services are listed in caseworker views.
DEPARTMENTS: tuple[Department, ...] = (
    childrens_social_care.DEPARTMENT,
    housing.DEPARTMENT,
    education.DEPARTMENT,
    community_safety.DEPARTMENT,
    adult_social_care.DEPARTMENT,
    benefits.DEPARTMENT,
    early_help.DEPARTMENT,
)


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


__all__ = ["DEPARTMENTS", "Department", "FlagQuery", "FlagSpec", "RawFlag", "analysis_fields", "flags"]
