"""Tables of the linked analysis store, and which catalogue dataset each one serves.

Every table is keyed by an internal integer (`unit_id` for people and families, `event_id` for
events) that is assigned at each build and never leaves the gateway: no index person id, no local
record id, no name, date of birth or address is stored here. `record_key` is each record's permanent
random key (it orders which cells of a unit count when contributions are bounded); `record_keys` keeps
it stable across rebuilds.

Embedded default: `<data-dir>/analysis.duckdb`; PostgreSQL with `gateway link --analysis-url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)

from gateway.departments import analysis_fields

metadata = MetaData()
# Each record's permanent random key (0-255): it orders which of a unit's cells count when a unit
# appears in more cells of one table than its contribution bound allows.
RECORD_KEY_SPACE = 256

# Service flags carried at person level and, as "any member", at family level: as the departments
# declare them (`gateway/departments/`).
SERVICE_FLAGS = analysis_fields()


def _flags() -> list[Column]:
    return [Column(f, Boolean, nullable=False) for f in SERVICE_FLAGS]


persons = Table(
    "persons",
    metadata,
    Column("unit_id", BigInteger, primary_key=True, autoincrement=False),
    Column("record_key", SmallInteger, nullable=False),
    Column("family_unit", BigInteger, nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("sex", String(8), nullable=False),
    Column("ward", String(60), nullable=False),
    *_flags(),
    Column("housing_benefit_weekly", Float),
)

families = Table(
    "families",
    metadata,
    Column("unit_id", BigInteger, primary_key=True, autoincrement=False),
    Column("record_key", SmallInteger, nullable=False),
    Column("ward", String(60), nullable=False),
    Column("size_band", String(8), nullable=False),
    Column("members", Integer, nullable=False),
    Column("children_count", Integer, nullable=False),
    Column("lone_parent", Boolean, nullable=False),
    *_flags(),
)


def _event(name: str, *columns: Column) -> Table:
    return Table(
        name,
        metadata,
        Column("event_id", BigInteger, primary_key=True, autoincrement=False),
        Column("record_key", SmallInteger, nullable=False),
        Column("unit_id", BigInteger, nullable=False),  # the person (or household) it is about
        *columns,
    )


referrals = _event(
    "referrals",
    Column("month", String(7), nullable=False),
    Column("source", String(8), nullable=False),
    Column("ward", String(60), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("outcome", String(24), nullable=False),
)

rent_transactions = _event(
    "rent_transactions",
    Column("month", String(7), nullable=False),
    Column("type", String(10), nullable=False),
    Column("amount", Float, nullable=False),
    Column("ward", String(60), nullable=False),
    Column("arrears_band", String(20), nullable=False),
)

attendance = _event(
    "attendance",
    Column("academic_year", String(7), nullable=False),
    Column("ward", String(60), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("sex", String(8), nullable=False),
    Column("sessions_possible", Integer, nullable=False),
    Column("sessions_missed", Integer, nullable=False),
    Column("persistent_absence", Boolean, nullable=False),
)

benefit_awards = _event(
    "benefit_awards",
    Column("start_month", String(7), nullable=False),
    Column("ward", String(60), nullable=False),
    Column("current", Boolean, nullable=False),
    Column("weekly_amount", Float, nullable=False),
)

record_keys = Table(
    "record_keys",
    metadata,
    Column("kind", String(24), nullable=False),
    Column("source_key", String(80), nullable=False),
    Column("record_key", SmallInteger, nullable=False),
    PrimaryKeyConstraint("kind", "source_key"),
)

builds = Table(
    "builds",
    metadata,
    Column("build_id", Integer, primary_key=True, autoincrement=False),
    Column("built_at", String(32), nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("index_run_id", Integer),
    Column("summary", String(2000), nullable=False),
)


@dataclass(frozen=True)
class AnalysisTable:
    """A catalogue dataset's table, with what differential privacy needs to know about it.

    `unit` is the column naming whom a row is about (None: the row is the unit), so every count is of
    distinct units (people, families, households), never of rows. `max_cells_per_unit` bounds how many
    cells of one table a unit may count in (an event dataset's household appears in many months; its
    contributions beyond the bound are dropped), and `bounds` clamps each unit's contribution to a sum
    in one cell to [0, bound]: together they fix the sensitivity the noise is scaled to. `ordered` are
    the fields a range filter may use (months, years), always with bounds from the field's own values.
    """

    table: Table
    unit: str | None
    max_cells_per_unit: int = 1
    bounds: Mapping[str, float] = field(default_factory=dict)
    ordered: frozenset[str] = frozenset()

    def numeric(self, field: str) -> bool:
        column = self.table.c.get(field)
        return column is not None and isinstance(column.type, Integer | Float) and field not in INTERNAL

    def boolean(self, field: str) -> bool:
        column = self.table.c.get(field)
        return column is not None and isinstance(column.type, Boolean)

    def bound(self, field: str) -> float:
        return float(self.bounds[field])


INTERNAL = frozenset({"unit_id", "event_id", "record_key", "family_unit"})

DATASETS: dict[str, AnalysisTable] = {
    "persons": AnalysisTable(persons, None, bounds={"housing_benefit_weekly": 400.0}),
    "families": AnalysisTable(families, None, bounds={"members": 12.0, "children_count": 10.0}),
    "referrals": AnalysisTable(referrals, "unit_id", max_cells_per_unit=4, ordered=frozenset({"month"})),
    "rent_transactions": AnalysisTable(
        rent_transactions,
        "unit_id",
        max_cells_per_unit=24,
        bounds={"amount": 2500.0},
        ordered=frozenset({"month"}),
    ),
    "attendance": AnalysisTable(
        attendance,
        "unit_id",
        max_cells_per_unit=3,
        bounds={"sessions_possible": 400.0, "sessions_missed": 400.0},
        ordered=frozenset({"academic_year"}),
    ),
    "benefit_awards": AnalysisTable(
        benefit_awards,
        "unit_id",
        max_cells_per_unit=3,
        bounds={"weekly_amount": 400.0},
        ordered=frozenset({"start_month"}),
    ),
}
