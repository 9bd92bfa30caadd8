"""What caseworker views need between requests: the person index once it exists, each worker's
caseload for a few seconds, the date the stores describe, each caller's permissions for a purpose, and
one pool of threads that query the stores in parallel. Built once per process (the API's services
container) so routes stay thin and a request pays for none of it (issue 24's profile: a pool per
request and sixteen decisions per request were a third of the gateway's own time)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from gateway.caseworker.caseload import Caseload, load_caseload
from gateway.caseworker.views import Permissions, permissions
from gateway.datadir import AS_OF_TIME, DataDir
from gateway.freshness import Freshness, parse_time
from gateway.identity.principal import Principal
from gateway.index.store import IndexStore
from gateway.policy.decision import PolicyEngine
from gateway.refusal import Refused

# Caseloads change when a case is allocated or closed, not per request: each worker's is reused for
# this many seconds, so a reallocation takes effect within that time.
CASELOAD_TTL_SECONDS = 10.0


class CaseworkService:
    def __init__(
        self,
        data_dir: DataDir,
        engines: dict[str, Engine],
        index: IndexStore,
        policy: PolicyEngine,
        triage_hours: float = 72.0,
        stale_after_hours: float = 36.0,
    ) -> None:
        self.data_dir = data_dir
        self.triage_hours = triage_hours
        self.stale_after_hours = stale_after_hours
        self._linked: tuple[float, Freshness] | None = None
        self.engines = engines
        self.policy = policy
        # Flag and protection-marker queries, two per store at most, for several requests at once.
        self.pool = ThreadPoolExecutor(max_workers=max(4, 2 * len(engines)), thread_name_prefix="flags")
        self._permissions: dict[tuple[Any, ...], Permissions] = {}
        self._index = index
        self._index_built = False
        self._caseloads: dict[tuple[str | None, str | None], tuple[float, Caseload]] = {}
        self._as_of: dt.date | None = None
        self._as_of_read = False
        self._lock = threading.Lock()

    def index(self) -> IndexStore:
        """The person index, refusing (503) until `gateway link` has written one."""
        if not self._index_built:
            if not self._index.exists():
                raise Refused(
                    503, "index_unavailable", "the person index has not been built: run `gateway link`"
                )
            self._index_built = True  # an index, once written, is only ever replaced
        return self._index

    def caseload(self, principal: Principal) -> Caseload:
        key = (principal.department, principal.worker_id)
        now = time.monotonic()
        hit = self._caseloads.get(key)
        if hit and hit[0] > now:
            return hit[1]
        since = (self.now() - dt.timedelta(hours=self.triage_hours)).isoformat(timespec="seconds")
        load = load_caseload(principal, self.engines, self.index(), since)
        with self._lock:
            self._caseloads[key] = (now + CASELOAD_TTL_SECONDS, load)
        return load

    def permissions(self, principal: Principal, purpose: str) -> Permissions:
        """What the caller may see for this purpose, decided once per (caller, purpose, day, policy as
        loaded): a policy edit loads a new policy object, so it takes effect on the next request."""
        loaded = self.policy.current()
        key = (principal.cache_key, purpose, self.policy.today(), id(loaded))
        found = self._permissions.get(key)
        if found is None or found.policy is not loaded:
            found = permissions(self.policy, principal, purpose)
            found.policy = loaded
            with self._lock:
                if len(self._permissions) > 10_000:  # callers x purposes: bounded, not a leak
                    self._permissions.clear()
                self._permissions[key] = found
        elif self.policy.on_decision is not None:  # the metrics count decisions handed out, cached or not
            for decision in found.decisions:
                self.policy.on_decision(decision)
        return found

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def linked(self) -> Freshness:
        """When the person index the views join through was built (re-read every few seconds)."""
        now = time.monotonic()
        if self._linked is None or self._linked[0] <= now:
            run = self.index().last_run()
            found = Freshness(parse_time(run.get("finished_at")), self.stale_after_hours)
            self._linked = (now + CASELOAD_TTL_SECONDS, found)
        return self._linked[1]

    def now(self) -> dt.datetime:
        """The stores' "now": their extraction time on the as-of date of synthetic stores, else the
        clock (local time, as the stores record contacts)."""
        as_of = self.as_of()
        return dt.datetime.combine(as_of, AS_OF_TIME) if self._as_of is not None else dt.datetime.now()

    def as_of(self) -> dt.date:
        """The date flags are computed at: the stores' own as-of date (read once), else today."""
        if not self._as_of_read:
            try:
                self._as_of = dt.date.fromisoformat(self.data_dir.read_manifest()["as_of"])
            except (FileNotFoundError, KeyError, ValueError):
                self._as_of = None
            self._as_of_read = True
        return self._as_of or dt.date.today()
