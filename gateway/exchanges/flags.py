"""Flags from what partners sent in (declared in `gateway/departments/partners.py`): the partner store is
the gateway's own exchange records, so its "local id" is the index person the match found. Only records
matched to a person (never a possible match) become flags: "police notification: domestic abuse since
2026-11-28"."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import Engine, select

from gateway.departments.flags import RawFlag, latest
from gateway.departments.partners import PartnerFlag
from gateway.exchanges.store import exchange_records, exchanges


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def partner_raw_flags(
    engine: Engine, partner: PartnerFlag, person_ids: Iterable[str], as_of: dt.date
) -> list[RawFlag]:
    """The latest flag per person from this partner's matched records dated within `keep_days` of
    `as_of` (a record dated after `as_of` is not yet known on that day)."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    q = (
        select(exchange_records.c.person_id, exchange_records.c.record_json)
        .join(exchanges, exchanges.c.exchange_id == exchange_records.c.exchange_id)
        .where(
            exchanges.c.schema_name == partner.schema,
            exchanges.c.status == "received",
            exchange_records.c.person_id.in_(ids),
        )
    )
    oldest = as_of - dt.timedelta(days=partner.keep_days)
    raw = []
    with engine.connect() as conn:
        for person_id, text in conn.execute(q):
            record = json.loads(text)
            since = _date(record.get(partner.since_field))
            if since is None or not oldest <= since <= as_of:
                continue
            value = record.get(partner.value_field)
            raw.append(RawFlag(partner.spec.service, partner.spec.flag, person_id, value, since))
    return latest(raw)
