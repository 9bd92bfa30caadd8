"""The hash chain: canonical encoding of an event and its SHA-256 link to the one before.

`hash = SHA-256(prev_hash || canonical(event without hash))`. The canonical form is JSON with sorted
keys, no whitespace and ASCII escapes, over exactly the fields in `CHAINED_FIELDS`, so the same event
always hashes the same way whatever database or driver stored it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
JSON_FIELDS = ("roles", "subject_ids", "fields_released", "disclosure_applied")
CHAINED_FIELDS = (
    "seq",
    "id",
    "time",
    "actor",
    "roles",
    "action",
    "resource",
    "subject_ids",
    "purpose",
    "agreement_id",
    "decision",
    "reason",
    "fields_released",
    "rows_released",
    "disclosure_applied",
    "break_glass",
    "trace_id",
    "status",
    "prev_hash",
)


def canonical(event: Mapping[str, Any]) -> bytes:
    body = {k: event.get(k) for k in CHAINED_FIELDS}
    body["break_glass"] = bool(body["break_glass"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_hash(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(event["prev_hash"].encode() + canonical(event)).hexdigest()


def to_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as stored: list/dict fields as canonical JSON text."""
    row = dict(event)
    for k in JSON_FIELDS:
        row[k] = json.dumps(row[k], sort_keys=True, separators=(",", ":"))
    return row


def from_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    event = dict(row)
    for k in JSON_FIELDS:
        event[k] = json.loads(event[k])
    event["break_glass"] = bool(event["break_glass"])
    return event
