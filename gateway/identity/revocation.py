"""Signed-out sessions stay signed out: a bearer token is self-contained, so signing out only deletes
the browser's cookie unless the server remembers the token as revoked. The gateway database holds the
SHA-256 of each revoked token until it would have expired, and every replica checks it.

Each process remembers what it has seen revoked, and for `recheck_seconds` that a token was not: a
sign-out on this replica takes effect at once, on another within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Revocations:
    def __init__(self, engine: Engine, recheck_seconds: float = 5.0) -> None:
        self.engine = engine
        self.recheck_seconds = recheck_seconds
        self._revoked: set[str] = set()
        self._not_revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, token: str, expires: dt.datetime) -> None:
        digest = token_hash(token)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now))
            try:
                conn.execute(
                    insert(revoked_tokens).values(token_hash=digest, revoked_at=now, expires_at=expires)
                )
            except IntegrityError:
                pass  # signed out twice
        with self._lock:
            self._revoked.add(digest)
            self._not_revoked.pop(digest, None)

    def known_state(self, token: str) -> bool | None:
        """Whether the token is revoked, if this process knows without asking the database (it saw the
        token revoked, or checked it within `recheck_seconds`); None when only the database can say."""
        digest = token_hash(token)
        with self._lock:
            if digest in self._revoked:
                return True
            checked = self._not_revoked.get(digest)
            if checked is not None and time.monotonic() - checked < self.recheck_seconds:
                return False
        return None

    def is_revoked(self, token: str) -> bool:
        digest = token_hash(token)
        now = time.monotonic()
        with self._lock:
            if digest in self._revoked:
                return True
            checked = self._not_revoked.get(digest)
            if checked is not None and now - checked < self.recheck_seconds:
                return False
        with self.engine.connect() as conn:
            found = conn.execute(
                select(revoked_tokens.c.token_hash).where(revoked_tokens.c.token_hash == digest)
            ).first()
        with self._lock:
            if found:
                self._revoked.add(digest)
            else:
                if len(self._not_revoked) > 100_000:
                    self._not_revoked.clear()
                self._not_revoked[digest] = now
        return found is not None
