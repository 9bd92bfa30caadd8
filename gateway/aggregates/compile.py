"""Compile a validated aggregate request into one SQL statement the engine executes.

`GROUP BY CUBE(...)` returns every cell and every margin in one pass; `grouping()` marks the margins.
Per cell the statement also returns what disclosure control needs: the number of contributing units,
the sum of the records' keys (cell-key perturbation) and, for sums and means, the largest two
contributions (dominance). Event tables are first summed per unit (person or household), so
thresholds and dominance count people, not rows. Every value is a bound parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, func, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from gateway.analysis.schema import AnalysisTable

DIM = "d{}"
GROUPING = "g{}"


class FilterTypeError(ValueError):
    """A filter value does not fit its field's type."""


def _check(spec: AnalysisTable, field: str, value: Any) -> None:
    if spec.boolean(field):
        ok = isinstance(value, bool)
        kind = "true or false"
    elif spec.numeric(field):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        kind = "a number"
    else:
        ok = isinstance(value, str)
        kind = "text"
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
            if spec.boolean(field):
                raise FilterTypeError(f"filter {field!r} is true or false; a range does not apply")
            for op, v in f["range"].items():
                _check(spec, field, v)
                out.append({"gte": column >= v, "gt": column > v, "lte": column <= v, "lt": column < v}[op])
    return out


def _top_two(value: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.array_agg(aggregate_order_by(value, value.desc()), type_=ARRAY(Float))[1:2]
    return func.max(value, 2)  # DuckDB: the two largest values, as a list


def compile_aggregate(
    spec: AnalysisTable,
    group_by: list[str],
    filters: dict[str, dict[str, Any]],
    measure: str,
    field: str | None,
    dialect: str,
) -> Select:
    t = spec.table
    conditions = where_clauses(spec, filters)
    magnitude = measure != "count"
    if magnitude:
        conditions.append(t.c[field].is_not(None))
    dims = [t.c[g] for g in group_by]

    if spec.unit is None:  # each row is one unit (a person, a family)
        source, dim_cols = t, dims
        count = func.count()
        units = func.count()
        total = func.sum(t.c[field]) if magnitude else None
        top = _top_two(t.c[field], dialect) if magnitude else None
        keys = func.sum(t.c.record_key)
        where = and_(*conditions) if conditions else None
    else:  # events: first per unit, then per cell
        inner_cols = [*[d.label(DIM.format(i)) for i, d in enumerate(dims)], t.c[spec.unit].label("unit")]
        inner = (
            select(
                *inner_cols,
                func.count().label("n"),
                func.sum(t.c.record_key).label("k"),
                *([func.sum(t.c[field]).label("s")] if magnitude else []),
            )
            .where(*conditions)
            .group_by(*inner_cols)
            .subquery("per_unit")
        )
        source = inner
        dim_cols = [inner.c[DIM.format(i)] for i in range(len(dims))]
        count = func.sum(inner.c.n)
        units = func.count()
        total = func.sum(inner.c.s) if magnitude else None
        top = _top_two(inner.c.s, dialect) if magnitude else None
        keys = func.sum(inner.c.k)
        where = None

    columns = [c.label(DIM.format(i)) for i, c in enumerate(dim_cols)]
    columns += [func.grouping(c).label(GROUPING.format(i)) for i, c in enumerate(dim_cols)]
    columns += [count.label("count"), units.label("units"), keys.label("key_sum")]
    if magnitude:
        columns += [total.label("total"), top.label("top")]
    q = select(*columns).select_from(source)
    if where is not None:
        q = q.where(where)
    if dim_cols:
        q = q.group_by(func.cube(*dim_cols))
    return q
