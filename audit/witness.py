"""The witness: a record of the audit chain kept where the audit database's credentials cannot reach.

Hash chaining and signed checkpoints protect history against someone who edits rows, but not against
someone who can write the audit database and then rewrite the newest, not yet signed, events with
recomputed hashes, or who deletes the anchor of the signatures. So every commit is also written to a
witness outside the database:

- ``commit`` records, one per group commit: the range of events it wrote (``first``..``last``) and the
  hash of its last event. The hash chain means that a matching hash at ``last`` pins every event up to
  it, and the ranges mean that an event inserted between two commits (by someone with database access)
  lies in no commit's range.
- ``checkpoint`` records: the signed checkpoints (older lines have no ``kind``; they are checkpoints).
- ``gap`` records: events a starting gateway found in the database but in no commit record (a crash
  between the database commit and the witness write, or events inserted while it was down). They are
  named in every verification so that an IG officer reviews them; they are never silently adopted.

The file witness is an append-only JSON-lines file (or a directory of them, one per process, as the
Helm chart lays out). Commit records are appended without fsync (they survive a killed process; a lost
power supply can cost the last few, which verification then reports); checkpoints are fsynced.
Deployments that want the witness beyond the gateway host's reach too mount it from storage with
object lock or an append-only attribute (see docs/audit.md, "Who holds what").
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

COMMIT, CHECKPOINT, GAP = "commit", "checkpoint", "gap"


class WitnessUnavailable(RuntimeError):
    """The witness could not record a commit: the events are not released (fail closed)."""


class Witness(Protocol):
    def prepare(self) -> None: ...

    def record(self, entry: Mapping[str, Any], *, durable: bool = False) -> None: ...

    def read(self) -> list[dict[str, Any]]: ...

    def exists(self) -> bool: ...

    def describe(self) -> str: ...


def kind_of(entry: Mapping[str, Any]) -> str:
    return str(entry.get("kind", CHECKPOINT))


def writer_name() -> str:
    """Who wrote a record: host and process, so several replicas' records can be told apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class FileWitness:
    """Appends to `path` (a process's own file); reads `path`, or every ``*.jsonl`` in `read_path` when
    that is a directory (verification reads all processes' files)."""

    path: Path
    read_path: Path | None = None

    def prepare(self) -> None:
        """Make the witness's directory, once, when the store opens. Never at write time: a witness
        whose storage has gone (unmounted, removed) must fail, not be recreated somewhere else."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def record(self, entry: Mapping[str, Any], *, durable: bool = False) -> None:
        line = (json.dumps(dict(entry), sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                if os.write(fd, line) != len(line):
                    raise OSError("short write")
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WitnessUnavailable(f"the audit witness {self.path} cannot be written: {exc}") from exc

    def _files(self) -> list[Path]:
        where = Path(self.read_path or self.path)
        if where.is_dir():
            return sorted(where.glob("*.jsonl"))
        return [where] if where.exists() else []

    def read(self) -> list[dict[str, Any]]:
        entries = []
        for f in self._files():
            for line in f.read_text().splitlines():
                if line.strip():
                    entries.append(json.loads(line))
        return entries

    def exists(self) -> bool:
        return any(f.stat().st_size > 0 for f in self._files())

    def describe(self) -> str:
        return str(self.read_path or self.path)


def coverage(entries: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """The merged ranges of events that commit and gap records account for, in order."""
    spans = sorted((int(e["first"]), int(e["last"])) for e in entries if kind_of(e) in (COMMIT, GAP))
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def uncovered(spans: list[tuple[int, int]], head: int) -> list[tuple[int, int]]:
    """The ranges of 1..head that no span covers."""
    holes, expected = [], 1
    for first, last in spans:
        if first > head:
            break
        if first > expected:
            holes.append((expected, first - 1))
        expected = max(expected, last + 1)
    if expected <= head:
        holes.append((expected, head))
    return holes


def highest_witnessed(entries: Iterable[Mapping[str, Any]]) -> int:
    return max((int(e["last"]) for e in entries if kind_of(e) in (COMMIT, GAP)), default=0)
