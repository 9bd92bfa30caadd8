"""The append-only audit store, with group commit and fail-closed semantics.

`AuditStore.append(event)` returns only once the event is committed (durable). Appends from many request
threads are queued and written by one writer thread, which takes everything queued since its last
commit as one transaction (group commit): under load, many events share one fsync; no caller is
answered before its own event is durable. Within the transaction the writer holds the chain lock
(a PostgreSQL advisory lock, or SQLite's `BEGIN IMMEDIATE`), reads the head, links and hashes the batch,
and inserts it, so several gateway processes on one database keep one gap-free chain.

Signed checkpoints (`seq`, `head_hash`, `time`, Ed25519) are written every `checkpoint_every` events,
every `checkpoint_seconds`, and on `close()`; each is also appended to an anchor file outside the
database so that deleting checkpoint rows is itself detectable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
from gateway.stores.postgres import normalise

CHAIN_LOCK = 727_726_1  # advisory lock id for the chain (PostgreSQL)
APPEND_TIMEOUT = 30.0


class AuditUnavailable(RuntimeError):
    """The event could not be committed; the caller must not release any data."""


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
    c.name: c.type.length
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
        return value

    return {k: clean(v, COLUMN_LENGTHS.get(k)) for k, v in event.items()}


def audit_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})

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
    ) -> None:
        self.url = url
        self.key = key
        self.anchor_file = anchor_file
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.max_batch = max_batch
        self.engine = audit_engine(url)
        self._queue: queue.Queue[tuple[dict[str, Any], Future] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_checkpoint_at = time.monotonic()
        # Public halves of earlier checkpoint keys: their checkpoints still verify after a rotation.
        self.retired_keys: tuple[Ed25519PublicKey, ...] = ()
        self.batches = 0  # transactions committed, for the benchmark's group-commit figure
        # Told (seconds, events, ok) after each commit attempt: the service's metrics hook in here.
        self.on_commit: Callable[[float, int, bool], None] | None = None

    def queue_depth(self) -> int:
        """Events waiting for the writer: a growing number means the audit store cannot keep up."""
        return self._queue.qsize()

    # --- set-up ----------------------------------------------------------------------------------
    def create(self) -> None:
        """Bring the audit schema to head (creating the PostgreSQL database if missing)."""
        from gateway.migrations import runner as migrations  # alembic is loaded only when needed

        migrations.upgrade(self.url, "audit")

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
        self._ensure_writer()
        future: Future = Future()
        self._queue.put((storable(dict(event_)), future))
        try:
            return future.result(timeout=timeout)
        except AuditUnavailable:
            raise
        except Exception as exc:
            raise AuditUnavailable(
                f"the audit store did not confirm the event: {type(exc).__name__}"
            ) from exc

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._start_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._write(batch)

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
        except Exception as exc:
            self._observe(time.perf_counter() - started, len(batch), False)
            error = AuditUnavailable(f"the audit store could not commit: {type(exc).__name__}")
            for _, future in batch:
                future.set_exception(error)
            return
        self._observe(time.perf_counter() - started, len(batch), True)
        for (_, future), ev in zip(batch, written, strict=True):
            future.set_result(ev)

    def _observe(self, seconds: float, events: int, ok: bool) -> None:
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
        if checkpoint:
            self._anchor(checkpoint)
        return written

    # --- checkpoints -----------------------------------------------------------------------------
    def _last_checkpoint_seq(self, conn: Connection) -> int:
        return int(conn.execute(select(func.coalesce(func.max(schema.checkpoints.c.seq), 0))).scalar_one())

    def _checkpoint_due(self, conn: Connection, seq: int) -> bool:
        if seq - self._last_checkpoint_seq(conn) >= self.checkpoint_every:
            return True
        return time.monotonic() - self._last_checkpoint_at >= self.checkpoint_seconds

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
        return row

    def _anchor(self, checkpoint: Mapping[str, Any]) -> None:
        if self.anchor_file is None:
            return
        self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(dict(checkpoint), sort_keys=True) + "\n").encode()
        fd = os.open(self.anchor_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

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
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=10)
        try:
            self.checkpoint()
        except Exception:  # a closing store that cannot reach its database has nothing left to seal
            pass
        self.engine.dispose()
