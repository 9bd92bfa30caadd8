"""The baseline for benchmarks/flags.py: the same flag SQL as the gateway, with no governance at all.

No token, no caseload check, no policy decision, no protection markers, no audit event: look the
person up in the index, run every service's flag query and every partner flag's query (the flags
partners send through exchanges, which the gateway also returns) in parallel, return the raw rows.
Served by uvicorn like the gateway.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gateway.caseworker.flags import SERVICE_QUERIES
from gateway.config import _default_policies_dir
from gateway.datadir import DataDir
from gateway.departments.partners import partner_flags
from gateway.exchanges.flags import partner_raw_flags
from gateway.index.store import IndexStore
from gateway.stores.registry import StoreRegistry


def create() -> FastAPI:
    dd = DataDir(Path(os.environ["GATEWAY_DATA_DIR"]))
    stores = StoreRegistry.open(dd)
    index = IndexStore(dd.index_url())
    as_of = dt.date.fromisoformat(dd.read_manifest()["as_of"])
    app = FastAPI()
    # One pool for the process, as the gateway's casework service keeps: the bare side must not pay for
    # a pool per request that the gateway no longer pays for.
    pool = ThreadPoolExecutor(max_workers=max(4, 2 * len(stores.engines)), thread_name_prefix="flags")

    partners = partner_flags(_default_policies_dir())

    def run(service: str, ids: list[str]) -> list[Any]:
        with stores.engines[service].connect() as conn:
            return [f.__dict__ for f in SERVICE_QUERIES[service](conn, ids, as_of)]

    def from_partner(i: int, person_id: str) -> list[Any]:
        return [f.__dict__ for f in partner_raw_flags(index.engine, partners[i], [person_id], as_of)]

    @app.get("/bare/persons/{person_id}/flags")
    def flags(person_id: str) -> dict[str, Any]:
        local: dict[str, list[str]] = {}
        for source, local_id in index.records_of([person_id])[person_id]:
            local.setdefault(source, []).append(local_id)
        services = [s for s in SERVICE_QUERIES if s in local]
        asked = [pool.submit(run, s, local[s]) for s in services]
        asked += [pool.submit(from_partner, i, person_id) for i in range(len(partners))]
        results = dict(
            zip([*services, *(p.spec.service for p in partners)], (f.result() for f in asked), strict=True)
        )
        return {"person_id": person_id, "flags": results}

    return app
