"""How old the gateway's derived data is: the person index (who is who across the stores, from the last
`gateway link`) and the analysis store (from the last `gateway refresh`). Flags are read live from the
stores but joined through the index; tables come from the analysis store. Each view and table says when
its data was built, and flags it stale once older than `stale_after_hours` (the nightly job has not
run): a caseworker or analyst should know a relinked family may look different tomorrow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Freshness:
    built_at: dt.datetime | None  # when the data was built (UTC); None: not known
    stale_after_hours: float

    def stale(self, now: dt.datetime | None = None) -> bool:
        if self.built_at is None:
            return True
        now = now or dt.datetime.now(dt.UTC)
        return now - self.built_at > dt.timedelta(hours=self.stale_after_hours)

    def as_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {
            "built_at": self.built_at.isoformat(timespec="seconds") if self.built_at else None,
            "stale": self.stale(now),
            "stale_after_hours": self.stale_after_hours,
        }


def parse_time(value: Any) -> dt.datetime | None:
    """A stored build time (a datetime, or ISO text) as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else None
    if moment is None:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
