"""Compile a validated aggregate request into the SQL the engine executes.

The statement returns the **finest cells only** (one row per combination of the group fields that
holds any unit), each with the number of distinct units in it and, for sums and means, the sum of the
units' clamped contributions. Margins are not computed by the database: they are sums of the noisy
finest cells (`gateway.privacy.release`), so a table adds up and its noise is paid for once.

What bounds a unit's influence, which the noise is scaled to:

- a row is first summed per (unit, cell), so a person with five referrals in one month counts once;
- a unit counts in at most `max_cells_per_unit` cells (the rest of its cells, in a fixed pseudo-random
  order by its records' keys, are dropped). Ranking a unit's cells is a third of an event table's cost,
  so it is left out when the table has no more cells a unit could reach than the bound
  (`cells_within_reach`): then no unit can exceed it and the ranking would drop nothing;
- its contribution to a sum in one cell is clamped to [0, bound].

Every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select

from gateway.analysis.schema import AnalysisTable

DIM = "d{}"


class FilterTypeError(ValueError):
    """A filter value does not fit its field's type."""


def _check(spec: AnalysisTable, field: str, value: Any) -> None:
    if spec.boolean(field):
        ok, kind = isinstance(value, bool), "true or false"
    else:
        ok, kind = isinstance(value, str), "one of its values as text"
    if not ok:
        raise FilterTypeError(f"filter {field!r} takes {kind}")


def where_clauses(spec: AnalysisTable, filters: dict[str, dict[str, Any]]) -> list[ColumnElement[bool]]:
    """Normalised filters (see request.normalise_filter) as bound-parameter conditions."""
    t = spec.table
    out: list[ColumnElement[bool]] = []
    for field, f in filters.items():
        column = t.c[field]
        if "in" in f:
            for v in f["in"]:
                _check(spec, field, v)
            values = f["in"]
            out.append(column == values[0] if len(values) == 1 else column.in_(values))
        else:
            for op, v in f["range"].items():
                _check(spec, field, v)
                out.append({"gte": column >= v, "gt": column > v, "lte": column <= v, "lt": column < v}[op])
    return out


def _clamped(value: Any, bound: float) -> Any:
    return func.least(func.greatest(func.coalesce(value, 0.0), literal(0.0)), literal(bound))


def cells_within_reach(
    spec: AnalysisTable,
    group_by: list[str],
    categories: Sequence[Sequence[Any]],
    filters: dict[str, dict[str, Any]],
) -> int:
    """How many cells of this table one unit could possibly count in: per grouped field, the values of
    its (whole-dataset) domain a list filter leaves, plus one for NULL where the column allows it; a
    range filter is not narrowed (an upper bound is all this needs). A pure function of public facts."""
    reach = 1
    for name, values in zip(group_by, categories, strict=True):
        allowed = filters.get(name, {}).get("in")
        n = len(set(values) & set(allowed)) if allowed is not None else len(values)
        reach *= n + (1 if spec.table.c[name].nullable else 0)
    return reach


def compile_aggregate(
    spec: AnalysisTable,
    group_by: list[str],
    filters: dict[str, dict[str, Any]],
    measure: str,
    field: str | None,
    reach: int | None = None,
) -> Select:
    """`reach`: `cells_within_reach` for this request; None ranks every unit's cells (always safe)."""
    t = spec.table
    conditions = where_clauses(spec, filters)
    magnitude = measure != "count"
    if magnitude:  # a sum or mean is over the units that have the amount
        assert field is not None
        conditions.append(t.c[field].is_not(None))
    dims = [t.c[g].label(DIM.format(i)) for i, g in enumerate(group_by)]
    if spec.unit is None:  # each row is one unit (a person, a family): one GROUP BY, nothing to bound
        direct: list[Any] = [*dims, func.count().label("units")]
        if magnitude:
            assert field is not None
            direct.append(func.sum(_clamped(t.c[field], spec.bound(field))).label("total"))
        q = select(*direct).where(and_(True, *conditions))
        return q.group_by(*dims) if dims else q
    unit = t.c[spec.unit]
    amount = [func.sum(t.c[field]).label("s")] if magnitude and field is not None else []
    rank_cells = reach is None or reach > spec.max_cells_per_unit
    key = [func.sum(t.c.record_key).label("k")] if rank_cells else []
    per_unit = (
        select(*dims, unit.label("unit"), *key, *amount)
        .where(and_(True, *conditions))
        .group_by(*dims, unit)
        .subquery("per_unit")
    )
    dim_cols = [per_unit.c[DIM.format(i)] for i in range(len(group_by))]
    if rank_cells:
        rank = func.row_number().over(
            partition_by=per_unit.c.unit, order_by=[per_unit.c.k, *dim_cols, per_unit.c.unit]
        )
        ranked = select(per_unit, rank.label("r")).subquery("ranked")
        source, kept = ranked, ranked.c.r <= spec.max_cells_per_unit
        dim_cols = [ranked.c[DIM.format(i)] for i in range(len(group_by))]
    else:
        source, kept = per_unit, None
    columns: list[Any] = [
        *(c.label(DIM.format(i)) for i, c in enumerate(dim_cols)),
        func.count().label("units"),
    ]
    if magnitude:
        assert field is not None
        columns.append(func.sum(_clamped(source.c.s, spec.bound(field))).label("total"))
    q = select(*columns).select_from(source)
    if kept is not None:
        q = q.where(kept)
    if dim_cols:
        q = q.group_by(*dim_cols)
    return q


def compile_domain(spec: AnalysisTable, field: str) -> Select:
    """Every value a field takes in the whole dataset (not the filtered part): the table's categories.
    The domain is treated as public (ward names, bands, months, yes/no), so a table's shape never
    depends on the people a filter selects."""
    column = spec.table.c[field]
    return select(column).where(column.is_not(None)).distinct()
