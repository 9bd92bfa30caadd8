"""Checkpoint signatures: Ed25519 (cryptography) over `seq|head_hash|time`, key kept outside the DB."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.secret_files import create_once


def payload(seq: int, head_hash: str, time: str) -> bytes:
    return f"{seq}|{head_hash}|{time}".encode()


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class CheckpointKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return _key_id(self.public)

    def sign(self, seq: int, head_hash: str, time: str) -> str:
        return base64.b64encode(self.private.sign(payload(seq, head_hash, time))).decode()

    @classmethod
    def load(cls, path: Path) -> CheckpointKey:
        """The key from its file; production never makes one (each replica would sign with its own)."""
        path = Path(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> CheckpointKey:
        path = Path(path)
        if path.exists():
            return cls.load(path)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        if create_once(path, pem):
            return cls(key)
        return cls.load(path)  # another process made it first: sign with the same key


def public_pem(public: Ed25519PublicKey) -> str:
    """The public half, to keep after a rotation (`audit_retired_keys`) or to hand to an auditor."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def verify_signature(public: Ed25519PublicKey, seq: int, head_hash: str, time: str, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature), payload(seq, head_hash, time))
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id_of(public: Ed25519PublicKey) -> str:
    return _key_id(public)
