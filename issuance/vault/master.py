"""The master key: it wraps and unwraps data keys, and never sits in the database.

:class:`MasterKey` is the interface a KMS or an HSM implements (wrap and
unwrap a 32-byte data key); :class:`FileMasterKey` is the embedded default, a
random AES-256 key read from ``SSCARD_MASTER_KEY`` (base64) or from the file
``SSCARD_MASTER_KEY_FILE`` (default ``<data dir>/master.key``, created on first
start with mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sscard_core.errors import VaultError

KEY_BYTES = 32
NONCE_BYTES = 12
ENV_KEY = "SSCARD_MASTER_KEY"
ENV_KEY_FILE = "SSCARD_MASTER_KEY_FILE"
DEFAULT_FILE = "master.key"


class MasterKey(Protocol):
    """Wraps data keys. ``key_id`` names the key in the ``data_keys`` rows it wrapped."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, dek: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class FileMasterKey:
    """An AES-256 master key held in this process (from a key file or the environment)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise VaultError(f"a master key is {KEY_BYTES} bytes", code="bad_master_key")
        self._aead = AESGCM(key)
        self._id = "file:" + hashlib.sha256(b"sscard master key id\0" + key).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, dek: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, dek, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag:
            raise VaultError(
                "the master key does not open this data key", code="master_key_mismatch"
            ) from None


def _from_text(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VaultError(f"{where}: not base64", code="bad_master_key") from None
    if len(key) != KEY_BYTES:
        raise VaultError(f"{where}: a master key is {KEY_BYTES} bytes", code="bad_master_key")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultError(
            f"{path}: the master key file must be readable by its owner only (chmod 600)",
            code="master_key_exposed", path=str(path),
        )  # fmt: skip
    return _from_text(path.read_text(encoding="ascii"), str(path))


def load_master_key(data_dir: Path, environ: Mapping[str, str] | None = None) -> FileMasterKey:
    """The master key named by the environment; the default key file is created if missing."""
    env = os.environ if environ is None else environ
    if text := env.get(ENV_KEY):
        return FileMasterKey(_from_text(text, ENV_KEY))
    named = env.get(ENV_KEY_FILE)
    path = Path(named).expanduser() if named else data_dir / DEFAULT_FILE
    if not path.exists():
        if named:
            raise VaultError(f"{path}: no such master key file", code="master_key_missing")
        _create(path)
    return FileMasterKey(_read(path))
