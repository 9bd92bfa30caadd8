"""How pages say things to people: dates in words and local time, codes as words, counts with the right
noun. Registered as Jinja filters, so templates never show an ISO timestamp or a snake_case name."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/London")
# Codes whose plain reading is not their letters.
WORDS = {
    "in_force": "in force",
    "known_to_csc": "known to children's social care",
    "cp_plan": "child protection plan",
    "sen": "special educational needs",
    "asc_client": "adult social care client",
    "childrens_social_care": "children's social care",
    "triage": "open contact at the front door",
}


def when(value: Any, with_time: bool = True) -> str:
    """ "Wed 2 Dec 2026, 07:15" in UK time, from an ISO string or a datetime (UTC when naive)."""
    if not value:
        return ""
    moment = value if isinstance(value, dt.datetime) else None
    if moment is None:
        text = str(value).replace("Z", "+00:00")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return day(dt.date.fromisoformat(text[:10]))
            except ValueError:
                return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(LOCAL)
    return f"{day(local.date())}, {local:%H:%M}" if with_time else day(local.date())


def day(value: Any) -> str:
    """ "Wed 2 Dec 2026" from a date or an ISO date string."""
    if not value:
        return ""
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return f"{value:%a} {value.day} {value:%b %Y}"


def words(code: Any) -> str:
    """A code as words: `in_force` -> "in force", `known_to_csc` -> "known to children's social care"."""
    text = str(code or "")
    return WORDS.get(text, text.replace("_", " "))


def count(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 person", "3 people"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


FILTERS = {"when": when, "day": day, "words": words, "count": count}
