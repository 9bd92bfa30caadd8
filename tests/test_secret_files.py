"""Demo key files made by several processes at once: every process ends up with the same key, and the
file is never seen half-written (the load benchmark's two servers raced here with O_EXCL alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.secret_files import create_once

MAKE_ALL = """
import sys
from pathlib import Path
from audit.signing import CheckpointKey
from gateway.identity.dev_issuer import load_or_create_key
from gateway.privacy.keys import FileKeyProvider
d = Path(sys.argv[1])
print(CheckpointKey.load_or_create(d / "keys" / "audit.pem").key_id,
      load_or_create_key(d).kid,
      FileKeyProvider(d / "keys" / "pseudonym.key", create=True).master_key().hex())
"""


def test_processes_starting_together_share_one_key_of_each_kind(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", MAKE_ALL, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outputs) == 1, outputs
    for f in (tmp_path / "keys").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600
    assert not [f for f in (tmp_path / "keys").iterdir() if f.name.startswith(".")], "no temporary files left"


def test_create_once_keeps_the_first(tmp_path: Path) -> None:
    target = tmp_path / "k"
    assert create_once(target, b"first") and not create_once(target, b"second")
    assert target.read_bytes() == b"first"
