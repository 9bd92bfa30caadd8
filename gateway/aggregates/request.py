"""The body of `POST /v1/aggregates`, validated before anything touches a database.

Field names must look like identifiers (so no SQL can hide in one) and are then checked against the
catalogue and the agreement; values only ever reach SQL as bound parameters. Filters are normalised so
that equivalent ways of writing one (a value, a one-item list) are one query, answered once.

The query language is bounded so that it can be protected: filters and groupings use categories (text
values, yes/no), never numbers, so no arbitrary numeric range can isolate one person's amount; a range
is only for ordered categories (months, years) and its bounds are values of the field; a list filter
has at most `MAX_LIST` values. Numeric fields are measures only (a sum or a mean of them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_DIMENSIONS = 4
MAX_LIST = 12
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=100)]
Scalar = bool | Text


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gte: Text | None = None
    gt: Text | None = None
    lte: Text | None = None
    lt: Text | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if all(v is None for v in (self.gte, self.gt, self.lte, self.lt)):
            raise ValueError("a range needs at least one of gte, gt, lte, lt")
        return self

    def bounds(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


Filter = Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=MAX_LIST)] | Range


class AggregateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Name
    dataset: Name
    measure: Literal["count", "sum", "mean"] | dict[Literal["sum", "mean"], Name] = "count"
    field: Name | None = Field(default=None, description="the numeric field a sum or mean is taken of")
    group_by: list[Name] = Field(default_factory=list)
    filters: dict[Name, Filter] = Field(default_factory=dict)
    agreement: Annotated[str, StringConstraints(pattern=r"^AGR-[A-Z0-9-]{1,60}$")] | None = None
    project: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")] | None = Field(
        default=None,
        description="the project the table is for (its privacy budget); default: the purpose",
    )

    @model_validator(mode="after")
    def _shape(self) -> AggregateRequest:
        if isinstance(self.measure, dict):
            ((op, name),) = self.measure.items() if len(self.measure) == 1 else ((None, None),)
            if op is None:
                raise ValueError("measure must name one function: {'sum': field} or {'mean': field}")
            if self.field is not None and self.field != name:
                raise ValueError("measure and field name different fields")
            self.measure, self.field = op, name
        if self.measure == "count" and self.field is not None:
            raise ValueError("a count takes no field")
        if self.measure != "count" and self.field is None:
            raise ValueError(f"a {self.measure} needs `field`: the numeric field to {self.measure}")
        if len(self.group_by) > MAX_DIMENSIONS:
            raise ValueError(f"at most {MAX_DIMENSIONS} group_by fields")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("a group_by field is listed twice")
        return self

    @property
    def operation(self) -> Literal["count", "sum", "mean"]:
        """The measure as validation left it (the `{"sum": field}` form becomes "sum")."""
        assert isinstance(self.measure, str)
        return self.measure

    def fields_used(self) -> list[str]:
        used = list(self.group_by) + [f for f in self.filters if f not in self.group_by]
        if self.field and self.field not in used:
            used.append(self.field)
        return used

    def normalised(self) -> dict[str, Any]:
        """The request in canonical form: what is audited, and what equivalent requests share."""
        return {
            "purpose": self.purpose,
            "dataset": self.dataset,
            "measure": self.measure,
            "field": self.field,
            "group_by": list(self.group_by),
            "filters": {k: normalise_filter(v) for k, v in sorted(self.filters.items())},
            "agreement": self.agreement,
            "project": self.budget_project(),
        }

    def budget_project(self) -> str:
        return self.project or self.purpose.replace("_", "-")


def normalise_filter(value: Any) -> dict[str, Any]:
    """{"in": [sorted distinct values]} for a value or list, {"range": {...}} for a range."""
    if isinstance(value, Range):
        return {"range": value.bounds()}
    values = value if isinstance(value, list) else [value]
    distinct = {(type(v).__name__, v): v for v in values}
    return {"in": [distinct[k] for k in sorted(distinct, key=lambda k: (k[0], str(k[1])))]}
