"""The append-only audit store, with group commit and fail-closed semantics.

`AuditStore.append(event)` returns only once the event is committed (durable). Appends from many request
threads are queued and written by one writer thread, which takes everything queued since its last
commit as one transaction (group commit): under load, many events share one fsync; no caller is
answered before its own event is durable. Within the transaction the writer holds the chain lock
(a PostgreSQL advisory lock, or SQLite's `BEGIN IMMEDIATE`), reads the head, links and hashes the batch,
and inserts it, so several gateway processes on one database keep one gap-free chain.

Every commit is also recorded in a witness outside the database (`audit.witness`): the range of
events it wrote and the hash of its last, so that someone with the audit database's credentials alone
can neither rewrite the newest events nor insert, truncate or drop them unnoticed. A commit the witness
cannot record is not confirmed: the caller is refused and nothing is released.

Signed checkpoints (`seq`, `head_hash`, `time`, Ed25519) are written every `checkpoint_every` events,
every `checkpoint_seconds` by a sealing timer (also while the gateway is idle), and on `close()`; each
is also written to the witness.

An event records the outcome that was sent. If `append` gives up waiting (the caller is answered 503),
an event still queued is committed as a refusal that was not delivered, and one the writer had already
committed is followed by an `audit.undelivered` event naming it.

An access can also be written ahead (`submit`, then `confirmed`): its event, saying who, about whom, for
which purpose, under which agreement and with which decision, is committed while the data is fetched,
and the reply waits for both. What the reply then carried (rows, fields, the status sent) follows as an
`audit.outcome` event naming it, queued with `append_later`: it rides in the next commit, or is written
on its own within `LATER_SECONDS`, so it costs no fsync of its own under load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError

from audit import schema
from audit.chain import GENESIS, event_hash, to_row
from audit.signing import CheckpointKey
from audit.witness import (
    CHECKPOINT,
    COMMIT,
    GAP,
    FileWitness,
    Witness,
    WitnessUnavailable,
    coverage,
    highest_witnessed,
    uncovered,
    writer_name,
)
from gateway.stores.postgres import normalise

CHAIN_LOCK = 727_726_1  # advisory lock id for the chain (PostgreSQL)
APPEND_TIMEOUT = 30.0
SQLITE_BUSY_SECONDS = 30  # how long an SQLite writer waits for the file's lock
IN_DOUBT_LOOKUP = 500  # event ids per look-up when settling commits whose outcome was not known
# How long an event queued with `append_later` may wait for a commit to ride in before it is written on
# its own: the window in which a crash loses an outcome (never the access it follows, which is durable).
LATER_SECONDS = 0.2
OUTCOME_ACTION = "audit.outcome"


class AuditUnavailable(RuntimeError):
    """The event could not be committed; the caller must not release any data."""


class UnwitnessedCommit(WitnessUnavailable):
    """The batch is in the database but the witness did not record it."""

    def __init__(self, message: str, written: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.written = written


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_event(**fields: Any) -> dict[str, Any]:
    """An event with the contract's fields; anything not given gets its empty value."""
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "time": utc_now(),
        "actor": "anonymous",
        "roles": [],
        "action": "",
        "resource": "",
        "subject_ids": [],
        "purpose": None,
        "agreement_id": None,
        "decision": "deny",
        "reason": "",
        "fields_released": [],
        "rows_released": 0,
        "disclosure_applied": {},
        "break_glass": False,
        "trace_id": uuid.uuid4().hex,
        "status": 0,
    }
    unknown = set(fields) - set(base)
    if unknown:
        raise ValueError(f"not audit event fields: {sorted(unknown)}")
    return {**base, **fields}


# Bounded text columns: a value longer than its column (a hostile URL, a long purpose) would make the
# insert fail on PostgreSQL and, in a group commit, fail every event in the batch with it.
COLUMN_LENGTHS = {
    c.name: getattr(c.type, "length")  # noqa: B009  (not every column type declares a length)
    for c in schema.events.columns
    if isinstance(getattr(c.type, "length", None), int) and c.name not in ("prev_hash", "hash")
}


def _fit(value: str, length: int | None) -> str:
    value = value.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    if length is not None and len(value) > length:
        return value[: length - 1] + "\u2026"
    return value


def storable(event: dict[str, Any]) -> dict[str, Any]:
    """The event as it can be stored everywhere: each text field within its column, no NUL characters,
    in strings nested in lists and objects too. `append` applies it to every event before the writer
    hashes it, so the chain covers exactly what is kept."""

    def clean(value: Any, length: int | None = None) -> Any:
        if isinstance(value, str):
            return _fit(value, length)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {_fit(str(k), None): clean(v) for k, v in value.items()}
        return storable_value(value)

    return {k: clean(v, COLUMN_LENGTHS.get(k)) for k, v in event.items()}


UNDELIVERED_REASON = (
    "not delivered: the audit store did not confirm this event in time, so the caller was refused "
    "(503) and nothing was released"
)


def undelivered(event_: Mapping[str, Any]) -> dict[str, Any]:
    """The event as it must be kept when its request was refused for want of an audit commit: the same
    who, what and about whom, but the outcome that was actually sent."""
    return {
        **event_,
        "decision": "deny",
        "status": 503,
        "reason": UNDELIVERED_REASON,
        "fields_released": [],
        "rows_released": 0,
        "disclosure_applied": {
            k: v for k, v in dict(event_.get("disclosure_applied") or {}).items() if k == "request"
        },
    }


EVENT_RESOURCE = "audit-event:"  # the resource of an event about another event: this prefix, then its id


def _following(committed: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """An event about one already committed: the same who, about whom, purpose, agreement and trace,
    naming it as its resource."""
    return new_event(
        actor=committed.get("actor", "anonymous"),
        roles=list(committed.get("roles", [])),
        resource=f"{EVENT_RESOURCE}{committed.get('id')}",
        subject_ids=list(committed.get("subject_ids", [])),
        purpose=committed.get("purpose"),
        agreement_id=committed.get("agreement_id"),
        trace_id=str(committed.get("trace_id") or uuid.uuid4().hex),
        **fields,
    )


def undelivered_notice(committed: Mapping[str, Any]) -> dict[str, Any]:
    """A later event for one the writer committed after its caller had been refused."""
    return _following(
        committed,
        action="audit.undelivered",
        decision="deny",
        reason=(
            f"event {committed.get('seq')} was committed after its request had been refused (503) "
            "because the audit store was too slow to confirm it: nothing was released"
        ),
        status=503,
    )


def outcome_notice(access: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    """The event that follows an access written ahead of its fetch: what the reply actually carried
    (`sent`, the event as it would have been written after the route), naming the access it completes.
    Who, about whom, purpose, agreement and break-glass are the access event's, already durable."""
    return _following(
        access,
        action=OUTCOME_ACTION,
        decision=sent.get("decision", "deny"),
        reason=str(sent.get("reason", "")),
        fields_released=list(sent.get("fields_released", [])),
        rows_released=int(sent.get("rows_released", 0)),
        disclosure_applied=dict(sent.get("disclosure_applied") or {}),
        status=int(sent.get("status", 0)),
    )


class _Later(Future):
    """The future of an event queued with `append_later`: nobody waits on it, and the writer may hold it
    for a commit to ride in."""


_FLUSH: dict[str, Any] = {}  # the queue item `flush` waits on: written nowhere, answered after its batch


def storable_value(value: Any) -> Any:
    """NaN and infinities are not JSON: a refused request that carried one must not make the audit
    event unreadable (the review pages would fail for everyone), so they are kept as text."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    return value


def audit_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" below issues the BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, across processes

        return engine
    # Fail fast: a request waits on its audit event, so an unreachable server must not hold it for minutes.
    return create_engine(
        normalise(parsed),
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": 5},
    )


class AuditStore:
    def __init__(
        self,
        url: str,
        key: CheckpointKey,
        *,
        anchor_file: Path | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 300.0,
        max_batch: int = 1000,
        witness: Witness | None = None,
        seal_on_timer: bool = True,
    ) -> None:
        self.url = url
        self.key = key
        self.anchor_file = anchor_file
        # The anchor file is the witness unless another is given; without either, nothing outside the
        # database vouches for the log (only tests of the chain alone run that way).
        self.witness: Witness | None = witness or (FileWitness(Path(anchor_file)) if anchor_file else None)
        if self.witness is not None:
            try:
                self.witness.prepare()
            except OSError:
                pass  # a reader (verify) of a witness it cannot create; writes will say what is wrong
        self.seal_on_timer = seal_on_timer
        self._sealer: threading.Thread | None = None
        self._closing = threading.Event()
        self._reconciled = False
        # Events committed while the witness could not be written: the next witness record covers them.
        self._unwitnessed_from: int | None = None
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.max_batch = max_batch
        self.engine = audit_engine(url)
        self._queue: queue.Queue[tuple[dict[str, Any], Future] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_checkpoint_at = time.monotonic()
        # The newest checkpoint's seq this process knows of: a lower bound (other processes seal too),
        # re-read from the database only when it says a checkpoint may be due, not on every commit.
        self._checkpoint_seq_seen = 0
        # Public halves of earlier checkpoint keys: their checkpoints still verify after a rotation.
        self.retired_keys: tuple[Ed25519PublicKey, ...] = ()
        self.batches = 0  # transactions committed, for the benchmark's group-commit figure
        # Told (seconds, events, ok) after each commit attempt: the service's metrics hook in here.
        self.on_commit: Callable[[float, int, bool], None] | None = None
        self._last_failure_at: float | None = None  # monotonic time of the newest failed commit
        # Events of batches whose commit raised (a connection lost at COMMIT): the database may hold them
        # although their callers were refused. Looked up before the next commit (`_settle_in_doubt`).
        self._in_doubt: list[dict[str, Any]] = []
        self._later_in_doubt: set[str] = set()  # ids of those queued with `append_later`
        self.later_seconds = LATER_SECONDS

    def queue_depth(self) -> int:
        """Events waiting for the writer: a growing number means the audit store cannot keep up."""
        return self._queue.qsize()

    # --- set-up ----------------------------------------------------------------------------------
    def create(self) -> None:
        """Bring the audit schema to head (creating the PostgreSQL database if missing)."""
        from gateway.migrations import runner as migrations  # alembic is loaded only when needed

        migrations.upgrade(self.url, "audit")

    def can_commit(self, within: float = 30.0) -> bool:
        """Whether an event would commit now: the database answers and no commit (database or
        witness) has failed in the last `within` seconds. A database that answers reads but cannot
        write (disk full, locked) shows up as a failed commit, so readiness turns with it; after
        `within` quiet seconds the gateway is offered traffic again and the next commit decides."""
        failed = self._last_failure_at
        if failed is not None and time.monotonic() - failed < within:
            return False
        return self.can_take_the_chain_lock()

    def can_take_the_chain_lock(self, wait: float = 1.0) -> bool:
        """Whether the writer could take the chain's write lock now (waiting at most `wait` seconds,
        since the writer itself holds it for milliseconds per commit): a locked audit database is not
        ready, before any request has had to wait for it. Nothing is written."""
        try:
            if self.engine.dialect.name == "sqlite":
                raw = self.engine.raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                try:
                    driver.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                    driver.execute("BEGIN IMMEDIATE")
                    driver.execute("ROLLBACK")
                finally:
                    driver.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")  # the writer's
                    raw.close()
                return True
            with self.engine.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
            return True
        except Exception:
            return False

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # --- appending -------------------------------------------------------------------------------
    def append(self, event_: Mapping[str, Any], timeout: float = APPEND_TIMEOUT) -> dict[str, Any]:
        """Commit one event (durably) and return it with seq, prev_hash and hash; raise if impossible."""
        future = self.submit(event_)
        try:
            return future.result(timeout=timeout)
        except AuditUnavailable:
            raise
        except Exception as exc:
            raise self._unconfirmed(future, exc) from exc

    async def append_async(
        self, event_: Mapping[str, Any], timeout: float = APPEND_TIMEOUT
    ) -> dict[str, Any]:
        """`append` for a coroutine: it waits on the event loop for the writer's commit, so a request
        holds no worker thread while its event is written (one thread hop fewer per request)."""
        return await self.confirmed(self.submit(event_), timeout)

    def submit(self, event_: Mapping[str, Any]) -> Future:
        """Queue an event for the writer and return at once; `confirmed` (or the future) says when it is
        durable. A caller that submits before fetching overlaps the commit with its own work."""
        self._ensure_writer()
        future: Future = Future()
        self._queue.put((storable(dict(event_)), future))
        return future

    async def confirmed(self, future: Future, timeout: float = APPEND_TIMEOUT) -> dict[str, Any]:
        """The committed event of a `submit`, awaited on the event loop; `AuditUnavailable` if it cannot
        be confirmed within `timeout` (then it is given up, as `append` does)."""
        try:
            # Shielded: a timeout here must not cancel the commit; `_unconfirmed` decides what happens.
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except AuditUnavailable:
            raise
        except Exception as exc:
            raise self._unconfirmed(future, exc) from exc

    def append_later(self, event_: Mapping[str, Any]) -> None:
        """Queue an event nobody waits for: it is committed with the next batch, or on its own within
        `later_seconds` (`LATER_SECONDS` unless set). For what follows a durable event (an outcome),
        never for an access itself."""
        self._ensure_writer()
        self._queue.put((storable(dict(event_)), _Later()))

    def flush(self, timeout: float = APPEND_TIMEOUT) -> None:
        """Wait until everything queued so far, `append_later` events included, has been written."""
        marker: Future = Future()
        self._ensure_writer()
        self._queue.put((_FLUSH, marker))
        marker.result(timeout=timeout)

    def _unconfirmed(self, future: Future, exc: Exception) -> AuditUnavailable:
        """What a caller whose event was not confirmed is told (and a timed-out event given up)."""
        if isinstance(exc, TimeoutError):
            self._give_up(future)
            return AuditUnavailable("the audit store did not confirm the event in time")
        return AuditUnavailable(f"the audit store did not confirm the event: {type(exc).__name__}")

    def _give_up(self, future: Future) -> None:
        """The caller is about to be refused: the log must not later say its request was answered. A
        queued event is cancelled (the writer keeps it as undelivered); one being written now gets a
        notice after it, if it commits."""
        if future.cancel():
            return

        def notice(done: Future) -> None:
            if not done.cancelled() and done.exception() is None:
                self._queue.put((storable(undelivered_notice(done.result())), Future()))

        future.add_done_callback(notice)

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._start_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._writer.start()
            if self.seal_on_timer and (self._sealer is None or not self._sealer.is_alive()):
                self._sealer = threading.Thread(
                    target=self._seal_periodically, name="audit-sealer", daemon=True
                )
                self._sealer.start()

    def _seal_periodically(self) -> None:
        """Seal every `checkpoint_seconds` even when no event arrives, so an idle gateway does not leave
        its last events unsigned (verification fails on a tail unsealed for longer than that)."""
        while not self._closing.wait(self.checkpoint_seconds):
            try:
                self.checkpoint()
            except Exception:  # the database is away: the next tick tries again, verify reports the age
                pass

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._settle_before_closing()
                return
            batch = self._gather([item])
            events = [self._taken(i) for i in batch if i[0] is not _FLUSH]
            if events:
                self._write(events)
            for event_, future in batch:
                if event_ is _FLUSH:
                    future.set_result(None)

    def _gather(self, batch: list[tuple[dict[str, Any], Future]]) -> list[tuple[dict[str, Any], Future]]:
        """Everything queued behind the first item, up to `max_batch`. A batch of `append_later` events
        alone waits up to `LATER_SECONDS` for an event someone waits on, and rides in its commit."""
        deadline: float | None = None
        while len(batch) < self.max_batch:
            try:
                if deadline is None:
                    nxt = self._queue.get_nowait()
                else:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if deadline is not None or self._closing.is_set():
                    break
                if not all(isinstance(f, _Later) for _, f in batch):
                    break
                deadline = time.monotonic() + self.later_seconds
                continue
            if nxt is None:
                self._queue.put(None)
                break
            batch.append(nxt)
            if not isinstance(nxt[1], _Later):
                deadline = None  # someone waits: take what is queued now and commit
        return batch

    @staticmethod
    def _taken(item: tuple[dict[str, Any], Future]) -> tuple[dict[str, Any], Future]:
        """An event whose caller already gave up is kept, as a refusal that was not delivered."""
        event_, future = item
        if future.set_running_or_notify_cancel():
            return item
        return storable(undelivered(event_)), Future()

    def _write(self, batch: list[tuple[dict[str, Any], Future]]) -> None:
        started = time.perf_counter()
        try:
            written = self._commit([e for e, _ in batch])
        except (DataError, IntegrityError) as exc:
            self._observe(time.perf_counter() - started, len(batch), False)
            if len(batch) == 1:
                batch[0][1].set_exception(
                    AuditUnavailable(f"the audit store refused the event: {type(exc).__name__}")
                )
                return
            for item in batch:  # one event the database refuses must not fail the others with it
                self._write([item])
            return
        except UnwitnessedCommit as exc:
            # In the database but not witnessed: not confirmed, so every caller is refused, and the log
            # says so in a notice per event (committed with the next batch that can be).
            self._observe(time.perf_counter() - started, len(batch), False)
            error = AuditUnavailable(f"the audit witness could not record the commit: {exc}")
            for (_, future), ev in zip(batch, exc.written, strict=True):
                future.set_exception(error)
                if ev.get("action") != "audit.undelivered" and not isinstance(future, _Later):
                    self._queue.put((storable(undelivered_notice(ev)), Future()))
            return
        except Exception as exc:
            self._observe(time.perf_counter() - started, len(batch), False)
            error = AuditUnavailable(f"the audit store could not commit: {type(exc).__name__}")
            self._in_doubt.extend(e for e, _ in batch)
            self._later_in_doubt.update(e["id"] for e, f in batch if isinstance(f, _Later))
            for _, future in batch:
                future.set_exception(error)
            return
        self._observe(time.perf_counter() - started, len(batch), True)
        for (_, future), ev in zip(batch, written, strict=True):
            future.set_result(ev)

    def _observe(self, seconds: float, events: int, ok: bool) -> None:
        self._last_failure_at = None if ok else time.monotonic()
        if self.on_commit is not None:
            try:
                self.on_commit(seconds, events, ok)
            except Exception:  # a metrics fault must never fail an audit commit
                pass

    def _lock(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})

    def _head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(schema.events.c.seq, schema.events.c.hash).order_by(schema.events.c.seq.desc()).limit(1)
        ).first()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def _commit(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._reconciled:
            self.reconcile_witness()
        if self._in_doubt:
            for item in self._settle_in_doubt():
                self._queue.put(item)
        written: list[dict[str, Any]] = []
        checkpoint = None
        with self.engine.begin() as conn:
            self._lock(conn)
            seq, prev = self._head(conn)
            for ev in batch:
                seq += 1
                ev = {**ev, "seq": seq, "prev_hash": prev}
                ev["hash"] = event_hash(ev)
                prev = ev["hash"]
                written.append(ev)
            conn.execute(insert(schema.events), [to_row(ev) for ev in written])
            if self._checkpoint_due(conn, seq):
                checkpoint = self._write_checkpoint(conn, seq, prev)
        self.batches += 1
        first = written[0]["seq"] if self._unwitnessed_from is None else self._unwitnessed_from
        try:
            self._witness_record(
                {"kind": COMMIT, "first": first, "last": seq, "head": prev, "time": utc_now()}
            )
            if checkpoint:
                self._anchor(checkpoint)
        except WitnessUnavailable as exc:
            self._unwitnessed_from = first
            raise UnwitnessedCommit(str(exc), written) from exc
        self._unwitnessed_from = None
        return written

    def _settle_in_doubt(self) -> list[tuple[dict[str, Any], Future]]:
        """Events whose commit raised but which the database holds after all (the commit went through
        and its acknowledgement was lost): their callers were refused, so each is witnessed now, and
        the `audit.undelivered` notices returned are to be committed after them, as for an event
        committed after its caller gave up. Those not in the database were never committed; of those,
        `append_later` events (nobody was refused for them) are returned to be queued again."""
        by_id = {e["id"]: e for e in self._in_doubt}
        ids = list(by_id)
        found: list[Any] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), IN_DOUBT_LOOKUP):  # a long outage leaves many: bounded IN lists
                found += conn.execute(
                    select(schema.events.c.id, schema.events.c.seq, schema.events.c.hash).where(
                        schema.events.c.id.in_(ids[i : i + IN_DOUBT_LOOKUP])
                    )
                ).all()
        found.sort(key=lambda row: row.seq)
        runs: list[list[Any]] = []  # contiguous seqs, one witness record each
        for row in found:
            if runs and runs[-1][-1].seq == row.seq - 1:
                runs[-1].append(row)
            else:
                runs.append([row])
        for run in runs:
            self._witness_record(
                {
                    "kind": COMMIT,
                    "first": run[0].seq,
                    "last": run[-1].seq,
                    "head": run[-1].hash,
                    "time": utc_now(),
                }
            )
        later, self._in_doubt, self._later_in_doubt = self._later_in_doubt, [], set()
        committed = {row.id for row in found}
        return [
            (storable(undelivered_notice({**by_id[row.id], "seq": row.seq})), Future())
            for row in found
            if row.id not in later
        ] + [(by_id[i], _Later()) for i in ids if i in later and i not in committed]

    def _settle_before_closing(self) -> None:
        """On close, in the writer's thread: settle what is in doubt now rather than leave it to a next
        start. If the database is still away, verification will name the events."""
        if not self._in_doubt:
            return
        try:
            items = self._settle_in_doubt()
        except Exception:
            return
        if items:
            self._write(items)

    def _witness_record(self, entry: dict[str, Any], durable: bool = False) -> None:
        if self.witness is not None:
            self.witness.record({**entry, "writer": writer_name()}, durable=durable)

    def reconcile_witness(self) -> dict[str, Any] | None:
        """On the first commit of a process: events at the head of the log that no witness record
        accounts for (a crash between a commit and its witness record, or rows inserted while no
        gateway ran) are recorded as a gap, which every verification names for review. Only the tail
        is: an unaccounted event between witnessed ones stays a verification failure."""
        self._reconciled = True
        if self.witness is None:
            return None
        entries = self.witness.read()
        with self.engine.connect() as conn:
            head, _ = self._head(conn)
        witnessed = highest_witnessed(entries)
        holes = [h for h in uncovered(coverage(entries), head) if h[0] > witnessed]
        if not holes:
            return None
        gap = {"kind": GAP, "first": holes[0][0], "last": head, "time": utc_now()}
        self._witness_record(gap, durable=True)
        return gap

    # --- checkpoints -----------------------------------------------------------------------------
    def _last_checkpoint_seq(self, conn: Connection) -> int:
        return int(conn.execute(select(func.coalesce(func.max(schema.checkpoints.c.seq), 0))).scalar_one())

    def _checkpoint_due(self, conn: Connection, seq: int) -> bool:
        if time.monotonic() - self._last_checkpoint_at >= self.checkpoint_seconds:
            return True
        if seq - self._checkpoint_seq_seen < self.checkpoint_every:
            return False
        self._checkpoint_seq_seen = self._last_checkpoint_seq(conn)  # another writer may have sealed
        return seq - self._checkpoint_seq_seen >= self.checkpoint_every

    def _write_checkpoint(self, conn: Connection, seq: int, head_hash: str) -> dict[str, Any]:
        stamp = utc_now()
        row = {
            "seq": seq,
            "head_hash": head_hash,
            "time": stamp,
            "key_id": self.key.key_id,
            "signature": self.key.sign(seq, head_hash, stamp),
        }
        conn.execute(insert(schema.checkpoints).values(**row))
        self._last_checkpoint_at = time.monotonic()
        self._checkpoint_seq_seen = seq
        return row

    def _anchor(self, checkpoint: Mapping[str, Any]) -> None:
        self._witness_record({**checkpoint, "kind": CHECKPOINT}, durable=True)

    def checkpoint(self) -> dict[str, Any] | None:
        """Seal the current head now (also done on close) unless it is sealed already."""
        with self.engine.begin() as conn:
            self._lock(conn)
            seq, head = self._head(conn)
            if seq == 0 or seq <= self._last_checkpoint_seq(conn):
                return None
            row = self._write_checkpoint(conn, seq, head)
        self._anchor(row)
        return row

    def close(self) -> None:
        self._closing.set()
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=10)
        try:
            self.checkpoint()
        except Exception:  # a closing store that cannot reach its database has nothing left to seal
            pass
        self.engine.dispose()
