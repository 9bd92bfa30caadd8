"""A partner sends a file in under an agreement: decide, validate against the published schema, match
each record to the person index, keep the file whole or not at all, and say only counts back.

The agreement (view `exchange`, dataset `exchanges.<schema>`) names who may send and why; an ended
agreement refuses the file. Matching is the linkage's own (`index/match.score_against_index`), and the
person ids it finds stay inside the gateway: the partner learns how many records matched, never whom.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from gateway.datadir import DataDir
from gateway.departments.partners import DATASET_PREFIX
from gateway.exchanges.store import ExchangeStore
from gateway.exchanges.validate import (
    ExchangeSchema,
    LineError,
    UnsupportedFile,
    kind_of,
    load_schemas,
    parse,
)
from gateway.identity.principal import Principal
from gateway.index.match import POSSIBLE, match_records
from gateway.index.store import IndexStore
from gateway.policy.decision import Decision, PolicyEngine
from gateway.refusal import Refused

VIEW = "exchange"
MAX_ROWS = 50_000


@dataclass
class Received:
    exchange_id: str
    rows: int
    matched: int
    possible: int
    person_ids: list[str]
    decision: Decision


def schema_of(agreement_datasets: dict[str, list[str]], schemas: dict[str, ExchangeSchema]) -> ExchangeSchema:
    names = [d.removeprefix(DATASET_PREFIX) for d in agreement_datasets if d.startswith(DATASET_PREFIX)]
    found = [schemas[n] for n in names if n in schemas]
    if len(found) != 1:
        raise Refused(
            422, "invalid_request", "the agreement does not name exactly one published exchange schema"
        )
    return found[0]


def receive(
    *,
    dd: DataDir,
    policy: PolicyEngine,
    index: IndexStore,
    store: ExchangeStore,
    principal: Principal,
    agreement_id: str,
    purpose: str | None,
    filename: str,
    content_type: str | None,
    data: bytes,
) -> Received:
    agreement = policy.registry.get(agreement_id)
    if agreement is None or agreement.view != VIEW:
        raise Refused(404, "not_found", f"there is no exchange agreement {agreement_id!r}")
    purpose = purpose or (sorted(agreement.purposes)[0] if len(agreement.purposes) == 1 else None)
    if purpose is None:
        raise Refused(422, "invalid_request", f"say which purpose: {', '.join(sorted(agreement.purposes))}")
    schema = schema_of(agreement.datasets, load_schemas(policy.policies_dir))
    decision = policy.decide(principal, VIEW, f"{DATASET_PREFIX}{schema.name}", purpose, agreement_id)
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason, decision)
    try:
        kind = kind_of(filename, content_type)
    except UnsupportedFile as exc:
        raise Refused(415, "unsupported_media_type", str(exc)) from exc
    records, errors = parse(schema, kind, data)
    if not errors and not records:
        errors = [LineError(0, "file", "holds no records")]
    if len(records) > MAX_ROWS:
        errors.append(
            LineError(0, "file", f"holds {len(records):,} records; send at most {MAX_ROWS:,} per file")
        )
    if errors:
        raise Refused(
            422,
            "invalid_file",
            f"the file does not follow {schema.name} {schema.version}: "
            f"{len(errors)} problem(s), nothing was kept",
            decision,
            extra={"errors": [e.as_dict() for e in errors], "schema": f"/v1/exchanges/schemas/{schema.name}"},
        )
    index.require()
    found = match_records(dd, index, [{f: r.get(c) for f, c in schema.match.items()} for r in records])
    matched = [(record, m.person_id, m.probability) for record, m in zip(records, found, strict=True)]
    possible = sum(1 for m in found if m.status == POSSIBLE)
    exchange_id = "X" + secrets.token_hex(8).upper()
    people = sorted({p for _, p, _ in matched if p})
    store.add(
        {
            "exchange_id": exchange_id,
            "agreement_id": agreement_id,
            "schema_name": schema.name,
            "schema_version": schema.version,
            "uploader": principal.sub,
            "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "filename": filename[:200],
            "rows": len(records),
            "matched": sum(1 for _, p, _ in matched if p),
            "possible": possible,
            "status": "received",
        },
        matched,
    )
    return Received(exchange_id, len(records), sum(1 for _, p, _ in matched if p), possible, people, decision)
