"""Per-principal and per-role concurrency and cost limits (`policies/limits.yaml`).

Why here: every `/v1` route depends on the caller being authenticated, so the limit is taken in the
same dependency, once the principal is known and before any route does work. It runs on the event
loop (no worker thread is needed to refuse), so a flood that has filled its allowance is turned away
without taking the threads that other callers' requests need. A refusal is a `Refused(429)`
with `Retry-After`, inside the audit trail like any refusal.

Counts are per process: with several replicas each enforces its own limits.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import yaml

LIMITS_FILE = "limits.yaml"


@dataclass(frozen=True)
class Limit:
    concurrent: int
    cost_per_minute: float
    role_concurrent: int | None = None


@dataclass(frozen=True)
class TableLimits:
    """Analyst tables on threads of their own (`threads` at once per process; more wait their turn, never
    on the threads caseworker look-ups use), and the estimated cost (row-reads, see
    `gateway/aggregates/cost.py`) above which a table is refused before it runs."""

    threads: int = 2
    max_cost: int | None = 100_000_000
    # A table starts only when none of these roles' requests is in flight in this process, or after
    # `yield_seconds` of waiting (so analysts are slowed, never starved).
    yield_to: tuple[str, ...] = ("caseworker",)
    yield_seconds: float = 1.0
    # How much lower the tables' threads run than the request threads, in the operating system's
    # "nice" steps (0-19): when the machine is busy, its scheduler serves look-ups first.
    nice: int = 10


@dataclass(frozen=True)
class Limits:
    default: Limit
    roles: dict[str, Limit]
    costs: dict[str, float]
    tables: TableLimits = TableLimits()

    def for_roles(self, roles: Iterable[str]) -> tuple[str | None, Limit]:
        """The role whose limit applies, and the limit: the most generous of the caller's roles, so a
        second role never makes someone's allowance smaller."""
        held = [(r, self.roles[r]) for r in sorted(roles) if r in self.roles]
        if not held:
            return None, self.default
        return max(held, key=lambda rl: (rl[1].concurrent, rl[1].cost_per_minute))

    def cost(self, path: str) -> float:
        matches = [p for p in self.costs if path == p or path.startswith(p.rstrip("/") + "/")]
        return self.costs[max(matches, key=len)] if matches else 1.0


def _limit(raw: dict[str, Any], where: str) -> Limit:
    unknown = set(raw) - {"concurrent", "cost_per_minute", "role_concurrent"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    limit = Limit(
        int(raw["concurrent"]),
        float(raw["cost_per_minute"]),
        int(raw["role_concurrent"]) if raw.get("role_concurrent") is not None else None,
    )
    if limit.concurrent < 1 or limit.cost_per_minute <= 0 or (limit.role_concurrent or 1) < 1:
        raise ValueError(f"{where}: limits must be positive")
    return limit


def load_limits(policies_dir: Path, limits_file: Path | None = None) -> Limits:
    path = Path(limits_file) if limits_file else Path(policies_dir) / LIMITS_FILE
    if not path.is_file():  # no file: generous defaults, never unlimited
        return Limits(Limit(16, 1200.0), {}, {})
    raw = yaml.safe_load(path.read_text()) or {}
    return Limits(
        _limit(raw.get("default") or {"concurrent": 16, "cost_per_minute": 1200}, f"{path}: default"),
        {role: _limit(v, f"{path}: roles.{role}") for role, v in (raw.get("roles") or {}).items()},
        {str(p): float(c) for p, c in (raw.get("costs") or {}).items()},
        _tables(raw.get("tables") or {}, f"{path}: tables"),
    )


def _tables(raw: dict[str, Any], where: str) -> TableLimits:
    unknown = set(raw) - {"threads", "max_cost", "yield_to", "yield_seconds", "nice"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    default = TableLimits()
    max_cost = raw.get("max_cost", default.max_cost)
    tables = TableLimits(
        int(raw.get("threads", default.threads)),
        int(max_cost) if max_cost is not None else None,
        tuple(str(r) for r in raw.get("yield_to", default.yield_to)),
        float(raw.get("yield_seconds", default.yield_seconds)),
        int(raw.get("nice", default.nice)),
    )
    if not 0 <= tables.nice <= 19:
        raise ValueError(f"{where}: nice must be 0 to 19 (steps of lower CPU priority)")
    if (
        tables.threads < 1
        or (tables.max_cost is not None and tables.max_cost < 1)
        or tables.yield_seconds < 0
    ):
        raise ValueError(f"{where}: limits must be positive")
    return tables


def lower_priority(steps: int) -> None:
    """Run the calling thread `steps` nice-steps below the rest of the process (Linux schedules
    threads one by one, so this thread alone yields the CPU to request threads and other processes).
    Raising a thread's niceness needs no privilege; where it is not supported, nothing changes."""
    if steps <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:
        pass


class OverLimit(Exception):
    """A limit is reached: which one, and in how many seconds to try again."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Limiter:
    limits: Limits
    clock: Any = time.monotonic
    _in_flight: dict[str, int] = field(default_factory=dict)
    _role_in_flight: dict[str, int] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, who: str, roles: Iterable[str], path: str) -> tuple[str, str | None]:
        """Take one in-flight slot for `who` (and their role) and pay the request's cost, or raise
        `OverLimit` saying which limit and when to retry. Returns the lease to `release`."""
        role, limit = self.limits.for_roles(roles)
        cost = self.limits.cost(path)
        with self._lock:
            if self._in_flight.get(who, 0) >= limit.concurrent:
                raise OverLimit(
                    f"{who} already has {limit.concurrent} requests in progress (the limit for "
                    f"{role or 'any caller'}); wait for one to finish",
                    1,
                )
            if role and limit.role_concurrent and self._role_in_flight.get(role, 0) >= limit.role_concurrent:
                raise OverLimit(
                    f"all {role}s together already have {limit.role_concurrent} requests in progress, "
                    "the most the gateway runs at once for that role; try again shortly",
                    1,
                )
            now = self.clock()
            bucket = self._buckets.get(who) or _Bucket(limit.cost_per_minute, now)
            rate = limit.cost_per_minute / 60.0
            bucket.tokens = min(limit.cost_per_minute, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            self._buckets[who] = bucket
            if bucket.tokens < cost:
                wait = math.ceil((cost - bucket.tokens) / rate)
                raise OverLimit(
                    f"{who} has used this minute's allowance ({limit.cost_per_minute:g} units; this "
                    f"request costs {cost:g}); try again in {wait} s",
                    wait,
                )
            bucket.tokens -= cost
            self._in_flight[who] = self._in_flight.get(who, 0) + 1
            if role:
                self._role_in_flight[role] = self._role_in_flight.get(role, 0) + 1
        return who, role

    def release(self, lease: tuple[str, str | None]) -> None:
        who, role = lease
        with self._lock:
            self._in_flight[who] = max(0, self._in_flight.get(who, 0) - 1)
            if role:
                self._role_in_flight[role] = max(0, self._role_in_flight.get(role, 0) - 1)

    def role_in_flight(self, roles: Iterable[str]) -> int:
        """Requests in flight under these roles' limits (in this process)."""
        with self._lock:
            return sum(self._role_in_flight.get(r, 0) for r in roles)

    async def yield_to(self, roles: Iterable[str], seconds: float) -> float:
        """Wait until no request of these roles is in flight, or `seconds` have passed; how long it
        waited. Analyst tables call this before they start, so caseworkers go first on a busy machine."""
        wanted = tuple(roles)
        started = anyio.current_time()
        while self.role_in_flight(wanted) and anyio.current_time() - started < seconds:
            await anyio.sleep(0.005)
        return anyio.current_time() - started

    def in_flight(self, who: str) -> int:
        with self._lock:
            return self._in_flight.get(who, 0)
