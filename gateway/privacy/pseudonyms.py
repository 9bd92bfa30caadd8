"""Project pseudonyms: the same person gets the same pseudonym within a project and unlinkable ones
across projects; only a holder of the master key can derive a project's key.

Keys: HKDF-SHA256 (cryptography) derives each project's key from one master key, with the project
name, the project's key version and the pseudonym kind as HKDF `info`. The master key never enters
the database; it comes from a key provider (a key file, an environment variable, or a KMS through
the plug-in point in `gateway.privacy.keys`).

Two kinds:
- one-way (`h<version>_<32 hex>`): HMAC-SHA256 of the person id, truncated to 128 bits. Nobody can
  reverse it, the gateway included, short of re-deriving it from the id.
- reversible (`r<version>_<base32>`): deterministic authenticated encryption (AES-SIV, RFC 5297) of the
  person id, with the project name as associated data, so a pseudonym moved to another project does not
  decrypt. Used only where the agreement allows re-identification, and reversed only through the
  two-approver workflow.

A project's key version goes up when it is rotated; the version is part of every pseudonym, so old
pseudonyms are recognisably old and can still be mapped (for the project's own holders) to new ones.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

Mode = Literal["one_way", "reversible"]
ONE_WAY: Mode = "one_way"
REVERSIBLE: Mode = "reversible"
MASTER_KEY_BYTES = 32
_HMAC_BYTES = 16  # 128 bits: collision-free for any population a council holds
_INFO = b"gateway/pseudonyms/v1"
_PATTERN = re.compile(r"^(?P<kind>[hr])(?P<version>[1-9][0-9]{0,5})_(?P<body>[a-z0-9]{16,200})$")


class PseudonymError(ValueError):
    """The pseudonym is malformed, of another project, or one-way."""


def derive_key(master: bytes, project: str, version: int, kind: Mode) -> bytes:
    """A project's key for one kind of pseudonym; the master key is the only secret."""
    if len(master) < MASTER_KEY_BYTES:
        raise ValueError(f"the master key must be at least {MASTER_KEY_BYTES} bytes")
    length = 64 if kind == REVERSIBLE else 32  # AES-256-SIV takes two 256-bit keys
    info = b"|".join((_INFO, project.encode(), str(version).encode(), kind.encode()))
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


@dataclass(frozen=True)
class ProjectKey:
    """One project's pseudonymiser at one key version."""

    project: str
    version: int
    mode: Mode
    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, master: bytes, project: str, version: int, mode: Mode) -> ProjectKey:
        return cls(project, version, mode, derive_key(master, project, version, mode))

    @property
    def prefix(self) -> str:
        return f"{'r' if self.mode == REVERSIBLE else 'h'}{self.version}_"

    def pseudonym(self, person_id: str) -> str:
        return self.many([person_id])[0]

    def many(self, ids: Iterable[str]) -> list[str]:
        """Pseudonyms for many ids; the loop is kept tight because extracts run it a million times."""
        prefix = self.prefix
        if self.mode == ONE_WAY:
            key, digest, size = self.key, hmac.digest, _HMAC_BYTES
            return [prefix + digest(key, i.encode(), "sha256")[:size].hex() for i in ids]
        siv, ad = AESSIV(self.key), [self.project.encode()]
        return [prefix + _b32(siv.encrypt(i.encode(), ad)) for i in ids]

    def reverse(self, pseudonym: str) -> str:
        """The person id behind a reversible pseudonym of this project and key version."""
        m = _PATTERN.match(pseudonym)
        if m is None:
            raise PseudonymError("this is not a gateway pseudonym")
        if m["kind"] == "h" or self.mode == ONE_WAY:
            raise PseudonymError("one-way pseudonyms cannot be reversed")
        if int(m["version"]) != self.version:
            raise PseudonymError(f"the pseudonym is of key version {m['version']}, not {self.version}")
        try:
            return AESSIV(self.key).decrypt(_unb32(m["body"]), [self.project.encode()]).decode()
        except (InvalidTag, ValueError) as exc:
            raise PseudonymError(f"the pseudonym does not belong to project {self.project!r}") from exc


def parse(pseudonym: str) -> tuple[Mode, int]:
    """(kind, key version) of a well-formed pseudonym; raises PseudonymError otherwise."""
    m = _PATTERN.match(pseudonym)
    if m is None:
        raise PseudonymError("this is not a gateway pseudonym")
    return (REVERSIBLE if m["kind"] == "r" else ONE_WAY), int(m["version"])
