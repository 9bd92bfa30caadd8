"""Where the pseudonymisation master key comes from: never the database.

A provider is anything with `master_key() -> bytes`. Three come with the gateway, tried in this order:
1. `GATEWAY_PSEUDONYM_KEY`: the key itself, base64, in the environment (a Kubernetes Secret);
2. `pseudonym_key_file`: a file holding the key (raw 32+ bytes or base64 text);
3. `pseudonym_key_provider = "package.module:factory"`: a plug-in, e.g. one that asks a KMS to
   unwrap a data key; the factory is called with no arguments and returns a provider.
In demo mode with none of these, a random key is created once at `<data-dir>/keys/pseudonym-master.key`
(mode 0600). Production mode refuses to run without one of the three.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.privacy.pseudonyms import MASTER_KEY_BYTES
from gateway.secret_files import create_once

ENV_VAR = "GATEWAY_PSEUDONYM_KEY"
DEV_KEY = "keys/pseudonym-master.key"


class KeyUnavailable(RuntimeError):
    """No master key could be read; nothing is pseudonymised (and so nothing is released)."""


class KeyProvider(Protocol):
    def master_key(self) -> bytes: ...


def _decode(raw: bytes, where: str) -> bytes:
    """Base64 text if it decodes to a long enough key, else the raw bytes."""
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < MASTER_KEY_BYTES:
        key = raw
    if len(key) < MASTER_KEY_BYTES:
        raise KeyUnavailable(f"the key in {where} is shorter than {MASTER_KEY_BYTES} bytes")
    return key


@dataclass(frozen=True)
class EnvKeyProvider:
    variable: str = ENV_VAR

    def master_key(self) -> bytes:
        value = os.environ.get(self.variable)
        if not value:
            raise KeyUnavailable(f"{self.variable} is not set")
        return _decode(value.encode(), self.variable)


@dataclass(frozen=True)
class FileKeyProvider:
    path: Path
    create: bool = False  # demo mode only: make a random key the first time

    def master_key(self) -> bytes:
        path = Path(self.path)
        if not path.exists() and self.create:  # another process may make it first: then theirs is used
            create_once(path, base64.b64encode(secrets.token_bytes(MASTER_KEY_BYTES)) + b"\n")
        try:
            return _decode(path.read_bytes(), str(path))
        except OSError as exc:
            raise KeyUnavailable(f"the pseudonymisation key file {path} cannot be read: {exc}") from exc


def plugin_provider(spec: str) -> KeyProvider:
    """Load `package.module:factory` and call it; the result must have `master_key()`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise KeyUnavailable(f"pseudonym_key_provider {spec!r} must look like 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise KeyUnavailable(f"pseudonym_key_provider {spec!r} cannot be loaded: {exc}") from exc
    provider = factory()
    if not callable(getattr(provider, "master_key", None)):
        raise KeyUnavailable(f"pseudonym_key_provider {spec!r} returned no master_key()")
    return provider


def choose_provider(data_dir: Path, *, key_file: Path | None, plugin: str | None, demo: bool) -> KeyProvider:
    if os.environ.get(ENV_VAR):
        return EnvKeyProvider()
    if key_file is not None:
        return FileKeyProvider(key_file)
    if plugin:
        return plugin_provider(plugin)
    if demo:
        return FileKeyProvider(Path(data_dir) / DEV_KEY, create=True)
    return MissingKeyProvider()


class MissingKeyProvider:
    """Production with no key configured: the service runs, and everything needing a key is refused."""

    def master_key(self) -> bytes:
        raise KeyUnavailable(
            f"no pseudonymisation key: set {ENV_VAR}, pseudonym_key_file or pseudonym_key_provider"
        )
