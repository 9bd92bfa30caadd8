"""What a department declares, once: its store's tables and identity query, who lives or is family
with whom, its flags and the query that computes them, where its records say a person must not be
located, its casework allocations, the free text and names its records hold, and how its synthetic
records are made. Everything else (stores, the person index, caseworker views, the analysis store,
extracts, the catalogue, the seed job) reads these declarations through the registry
(`gateway.departments`), so a new department is one module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import MetaData, Select, Table

from gateway.departments.flags import FlagQuery, FlagSpec
from gateway.synth.departments.common import StoreBuilder

Tables = Mapping[str, Table]


@dataclass(frozen=True)
class Casework:
    """Where a casework department allocates people to its workers and records their families.

    `allocations(tables, worker_id)` selects the local ids of the people open to that worker;
    `person` is (table, id, forename, surname, date of birth), `family` is (table, member id,
    relationship) of the service's own records, shown to its caseworkers.
    """

    allocations: Callable[[Tables, str], Select]
    person: tuple[str, str, str, str, str]
    family: tuple[str, str, str] | None = None  # None: the service records no family relationships
    # Front-door screening: `triage(tables, worker_id, since)` selects the local ids of people with an
    # open contact the worker screens, received since an ISO time (the window is a setting). Such a
    # person and their family are open to the worker until the contact is decided or the window ends.
    triage: Callable[[Tables, str, str], Select] | None = None


@dataclass(frozen=True)
class NoteTable:
    """A free-text table an extract may carry, scrubbed first."""

    table: str
    person: str
    date: str
    type: str | None
    text: str


@dataclass(frozen=True)
class Department:
    name: str  # the store's name in stores.json and the catalogue's dataset prefix
    label: str  # how people call the service
    schema: Callable[[], MetaData]  # a fresh MetaData of the store's tables
    person_table: tuple[str, str]  # (table, id column) holding its person records
    # The store's identity rows in the standard shape (`gateway.stores.identity.STANDARD_COLUMNS`).
    identity: Callable[[Tables], Select]
    # Memberships of families and households it records: (local id, group id, relationship, kind).
    relations: Callable[[Tables], list[Select]] | None = None
    # Whose address to believe when a person's records disagree: lowest first.
    address_rank: int = 99
    flags: tuple[FlagSpec, ...] = ()
    flag_query: FlagQuery | None = None
    # (table, person id column, marker column): a "Y" there means the person must not be located.
    protection_marker: tuple[str, str, str] | None = None
    # Analysis-store fields this department's facts reader sets directly (not through a flag query).
    analysis_fields: tuple[str, ...] = ()
    casework: Casework | None = None
    notes: tuple[NoteTable, ...] = ()
    staff_names: tuple[tuple[str, str], ...] = ()  # (table, column) of staff who write its notes
    organisations: tuple[tuple[str, str], ...] = ()  # (table, column) of places its notes may name
    # Catalogue entries (the shape of `policies/catalogue.yaml`'s datasets) for a department the
    # reviewed file does not list yet; the file wins where both name a dataset.
    catalogue: tuple[Mapping[str, Any], ...] = ()
    synthesise: Callable[[StoreBuilder], None] | None = None  # fills its synthetic store

    def tables(self) -> Tables:
        return shared_tables(self.schema)


@cache
def shared_tables(schema: Callable[[], MetaData]) -> Tables:
    """One shared, read-only set of table objects per store, for the service's queries.

    Reusing the same Table objects lets SQLAlchemy's compiled-statement cache hit on every request;
    a fresh MetaData per query would recompile each statement (several milliseconds per flag request).
    """
    return schema().tables
