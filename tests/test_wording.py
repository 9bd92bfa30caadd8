"""Pages say dates, codes and counts in words (`gateway/web/wording.py`)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from gateway.web.wording import count, day, when, words

LONDON = ZoneInfo("Europe/London")


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_a_utc_timestamp_reads_as_the_same_minute_in_uk_time(moment: dt.datetime) -> None:
    stamp = moment.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    shown = when(stamp)
    assert not any(c in shown.split(" ", 1)[1] for c in "TZ")  # no ISO separators after the weekday
    parsed = dt.datetime.strptime(shown.split(" ", 1)[1], "%d %b %Y, %H:%M")
    expected = moment.replace(tzinfo=dt.UTC).astimezone(LONDON).replace(second=0, microsecond=0, tzinfo=None)
    assert parsed == expected


def test_days_codes_and_counts_read_as_words() -> None:
    assert day("2026-12-02") == "Wed 2 Dec 2026" and day(None) == ""
    assert when("2026-06-06T20:00:00.000000Z") == "Sat 6 Jun 2026, 21:00"  # British Summer Time
    assert words("in_force") == "in force" and words("known_to_csc") == "known to children's social care"
    assert words("rent_arrears") == "rent arrears"
    assert (count(1, "person", "people"), count(3, "person", "people"), count(2, "family", "families")) == (
        "1 person",
        "3 people",
        "2 families",
    )
