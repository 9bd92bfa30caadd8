"""The bodies of `POST /v1/extracts` and `POST /v1/reidentifications`, and how extract filters match.

Filters take the same forms as aggregate filters (a value, a list, a range) and are applied to the
values as held, before anything is generalised.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.aggregates.request import Filter, Name, Range

Project = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{1,63}$")]
AgreementId = Annotated[str, StringConstraints(pattern=r"^AGR-[A-Z0-9-]{1,60}$")]
MIN_REASON = 20


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Name
    project: Project = Field(description="pseudonyms are the same within a project, unlinkable across")
    agreement: AgreementId
    dataset: Name
    fields: list[Name] = Field(min_length=1, max_length=40)
    filters: dict[Name, Filter] = Field(default_factory=dict)
    sensitive: list[Name] = Field(
        default_factory=list,
        max_length=40,
        description="requested fields to hold l-diverse besides the agreement's sensitive fields",
    )


class Approval(BaseModel):
    """An approver's decision, naming each warning of the request they have read (`warnings[].code`)."""

    model_config = ConfigDict(extra="forbid")

    acknowledge: list[Literal["protected_people"]] = Field(default_factory=list, max_length=5)


class Rejection(BaseModel):
    """An approver's refusal, with the reason the requester is shown (and the audit log keeps)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=10, max_length=500, strip_whitespace=True)] = Field(
        description="why the request is refused, in words the requester can act on (at least three words)"
    )


class ReidentificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: Project
    pseudonym: Annotated[str, StringConstraints(min_length=4, max_length=200)]
    reason: Annotated[str, StringConstraints(min_length=MIN_REASON, max_length=2000, strip_whitespace=True)]


# What a filter's text values may look like, by the field's generalisation ladder (the catalogue's
# `hierarchies`). Filters are matched in Python against the held values, never spliced into SQL; these
# shapes exist so that a value no field can hold is refused with a reason instead of silently matching
# nothing (and an injection probe is a 422, not a quietly empty extract).
LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 .,&()/-]|(?<=[A-Za-z])'(?=[A-Za-z])){0,99}$")
DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?(?: ?[0-9](?:[A-Z]{2})?)?$")
SHAPES = {"date_of_birth": DATE, "event_date": DATE, "postcode": POSTCODE}


def filter_problem(ladder: str | None, wanted: Any) -> str | None:
    """Why a filter value cannot be one this field holds, or None if it can."""
    if isinstance(wanted, Range):
        values = list(wanted.bounds().values())
    elif isinstance(wanted, list):
        values = wanted
    else:
        values = [wanted]
    shape = SHAPES.get(ladder or "", LABEL)
    for value in values:
        if isinstance(value, str) and not shape.match(value):
            kind = {DATE: "a date (YYYY, YYYY-MM or YYYY-MM-DD)", POSTCODE: "a postcode or its start"}.get(
                shape, "a label (letters, digits, spaces and . , & ( ) / -)"
            )
            return f"{value[:40]!r} is not {kind}"
    return None


def _comparable(value: Any, bound: Any) -> tuple[Any, Any]:
    """A date compared at the bound's own granularity: `lte 2014` keeps all of 2014."""
    if isinstance(value, dt.date):
        return value.isoformat()[: len(str(bound))], str(bound)
    return value, bound


def matches(value: Any, wanted: Any) -> bool:
    """Does a held value pass one filter? Types must agree; a mismatch matches nothing."""
    if isinstance(wanted, Range):
        for op, bound in wanted.bounds().items():
            v, b = _comparable(value, bound)
            try:
                ok = {"gte": v >= b, "gt": v > b, "lte": v <= b, "lt": v < b}[op]
            except TypeError:
                return False
            if not ok:
                return False
        return value is not None
    if isinstance(wanted, list):
        return any(matches(value, w) for w in wanted)
    if isinstance(value, dt.date):
        return value.isoformat()[: len(str(wanted))] == str(wanted)
    return value == wanted


# How fine a filter value may be, by the level a field is released at: a filter finer than the release
# selects people the recipient cannot tell apart in the file, so two such extracts differ by people
# nobody could otherwise single out (two date-of-birth cut-offs a day apart isolate one child).
DATE_PARTS = {"date": 3, "month": 2, "year": 1, "quarter": 1, "5_years": 1, "10_years": 1}
POSTCODE_PARTS = {"postcode": "postcode", "sector": "sector", "district": "district", "area": "area"}


def _postcode_level(value: str) -> str:
    outward, _, inward = value.upper().partition(" ")
    if inward:
        return "postcode" if len(inward) == 3 else "sector"
    return "area" if outward.isalpha() else "district"


def granularity_problem(ladder: str | None, level: str, wanted: Any) -> str | None:
    """Why a filter is finer than the level its field is released at, or None."""
    values = (
        list(wanted.bounds().values())
        if isinstance(wanted, Range)
        else wanted
        if isinstance(wanted, list)
        else [wanted]
    )
    for value in (v for v in values if isinstance(v, str)):
        if ladder in ("date_of_birth", "event_date"):
            if level not in DATE_PARTS:  # released as an age band or a life stage: no date filters
                return f"it is released as {level.replace('_', ' ')}, so it cannot be filtered by date"
            parts = len(value.split("-"))
            if parts > DATE_PARTS[level]:
                shape = {1: "a year (YYYY)", 2: "a year or a month (YYYY-MM)"}.get(
                    DATE_PARTS[level], "a date"
                )
                return f"{value!r} is finer than the {level} it is released at: filter by {shape}"
        elif ladder == "postcode":
            order = ("postcode", "sector", "district", "area")
            if order.index(_postcode_level(value)) < order.index(level):
                return f"{value!r} is finer than the postcode {level} it is released at"
    return None
