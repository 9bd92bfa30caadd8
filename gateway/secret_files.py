"""Key files made on first use in demo mode, safely when several processes start at once: the file is
written in full under a temporary name and linked into place only if no other process got there
first, so a reader never sees a half-written key and every process ends up with the same one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, data: bytes) -> bool:
    """Write `data` to `path` (mode 0600) unless it exists; True if this call created it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic, and fails if another process made the file first
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)
