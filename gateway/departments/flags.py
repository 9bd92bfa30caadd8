"""What a department declares about its flags: (each with the catalogue dataset and fields it is derived
from, the contact shown with it, and the analysis-store field it becomes), the query that computes
them (`gateway.departments.model.Department` holds them with the rest).

A flag is a derived fact about a person from another service, never its records. It is released only
when the caller's decision for its dataset permits its fields (so which flags a role sees comes from
the agreements), and its contact only when the contact dataset is permitted too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, true


@dataclass(frozen=True)
class FlagSpec:
    service: str
    flag: str
    dataset: str
    fields: tuple[str, ...]
    contact_dataset: str | None = None
    contact_fields: tuple[str, ...] = ()
    analysis_field: str | None = None  # the person-level column of the analysis store it sets


@dataclass(frozen=True)
class RawFlag:
    """A computed flag before governance: `value`, `since` and `detail` are released per the decision."""

    service: str
    flag: str
    local_id: str
    value: Any
    since: dt.date | None
    contact: dict[str, str | None] | None = None


# Every candidate flag of one service for a set of that store's local ids (None: the whole store, as the
# analysis store reads it), in a few indexed queries.
FlagQuery = Callable[[Connection, list[str] | None, dt.date], list[RawFlag]]


def among(column: ColumnElement, ids: list[str] | None) -> ColumnElement[bool]:
    """`column IN ids`, or every record when `ids` is None (the analysis store reads whole services)."""
    return true() if ids is None else column.in_(ids)


def contact_columns(staff: Table, prefix: str) -> list[ColumnElement]:
    """The four columns a contact is read from, in `contact_of`'s order: name, role, team, phone."""
    return [staff.c[f"{prefix}_{part}"] for part in ("name", "role", "team", "phone")]


def contact_of(name: Any, role: Any, team: Any, phone: Any) -> dict[str, str | None] | None:
    if not any((name, role, team, phone)):
        return None
    return {"name": name, "role": role, "team": team, "phone": phone}


def latest(flags: Iterable[RawFlag]) -> list[RawFlag]:
    """One flag per (record, flag): the most recent."""
    best: dict[tuple[str, str], RawFlag] = {}
    for f in flags:
        key = (f.local_id, f.flag)
        if key not in best or (f.since or dt.date.min) > (best[key].since or dt.date.min):
            best[key] = f
    return list(best.values())
