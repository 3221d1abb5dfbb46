"""Sealing personal values with AES-256-GCM under wrapped data keys, and the blind index.

A sealed value is ``SK\\x01`` + the data key's id (4 bytes, big-endian) + a
12-byte random nonce + the ciphertext and its 16-byte tag. The header and a
context label (the table the value belongs to) are authenticated as
associated data, so a value cannot be moved to another column unnoticed.

Data keys are loaded and unwrapped once per process and kept in memory (the
hot path pays one AES-GCM operation per value, a few microseconds). A new
data key becomes the one that seals from its ``active_from`` on, which
``sscard keys rotate`` sets a little in the future: every running process
reloads the key table more often than that (:data:`REFRESH_SECONDS`), so no
process meets a value sealed under a key it has not loaded.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from issuance.vault.master import KEY_BYTES, MasterKey
from sscard_core.errors import VaultError
from sscard_core.queries import load_queries

Q = load_queries("issuance.vault")
Executor = asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

MAGIC = b"SK\x01"
HEADER = struct.Struct(">3sI")
NONCE_BYTES = 12
REFRESH_SECONDS = 20.0
ACTIVATION_DELAY = timedelta(seconds=60)
DATA = "data"
INDEX = "index"
PAYLOAD_FIELD = "sealed"


def is_sealed(value: bytes) -> bool:
    """True for a value in the sealed format (a photo, a JSON body or a legacy value is not)."""
    return value[:3] == MAGIC and len(value) >= HEADER.size + NONCE_BYTES + 16


def sealed_key_id(value: bytes) -> int:
    """The id of the data key that sealed ``value``."""
    return int(HEADER.unpack_from(value)[1])


def _wrap_context(key_id: int, purpose: str) -> bytes:
    return f"sscard data key {key_id} {purpose}".encode()


@dataclass(frozen=True)
class DataKey:
    id: int
    purpose: str
    active_from: datetime
    secret: bytes
    retired: bool = False


class Vault:
    """The unwrapped data keys of one process: seal, open and blind-index personal values."""

    def __init__(self, master: MasterKey, keys: list[DataKey]) -> None:
        self._master = master
        self._install(keys)

    def _install(self, keys: list[DataKey]) -> None:
        data = sorted((k for k in keys if k.purpose == DATA), key=lambda k: k.active_from)
        index = sorted((k for k in keys if k.purpose == INDEX), key=lambda k: k.active_from)
        if not data or not index:
            raise VaultError("the database holds no data keys", code="no_data_keys")
        self._aeads = {k.id: AESGCM(k.secret) for k in data}
        self._data = data
        self._starts = [k.active_from for k in data]
        self._index = index
        self._ids = {(k.id, k.retired) for k in keys}
        self._active: DataKey | None = None
        self._active_until: datetime | None = None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    async def load(cls, db: Executor, master: MasterKey) -> Vault:
        """Unwrap the database's keys, creating the first data and index keys if there are none."""
        rows = await db.fetch(Q["data_keys"])
        if not {r["purpose"] for r in rows} >= {DATA, INDEX}:
            rows = await _create_missing(db, master)
        return cls(master, _unwrapped(rows, master))

    async def refresh(self, db: Executor) -> None:
        """Load keys made since (by ``sscard keys rotate`` in another process)."""
        rows = await db.fetch(Q["data_keys"])
        if {(r["id"], r["retired_at"] is not None) for r in rows} != self._ids:
            self._install(_unwrapped(rows, self._master))

    async def add_data_key(
        self, db: Executor, delay: timedelta = ACTIVATION_DELAY, purpose: str = DATA
    ) -> DataKey:
        """A new key (``purpose`` data or index) in use from ``delay`` on; returned, and loaded."""
        key = await _insert_key(db, self._master, purpose, delay)
        rows = await db.fetch(Q["data_keys"])
        self._install(_unwrapped(rows, self._master))
        return key

    # --- sealing ---------------------------------------------------------------------------

    @property
    def active_key(self) -> DataKey:
        """The data key that seals now: the newest whose ``active_from`` has passed."""
        now = datetime.now(UTC)
        active = self._active
        if active is None or (self._active_until is not None and now >= self._active_until):
            at = max(bisect.bisect_right(self._starts, now) - 1, 0)
            active = self._active = self._data[at]
            following = at + 1
            self._active_until = self._starts[following] if following < len(self._data) else None
        return active

    @property
    def data_key_ids(self) -> list[int]:
        return [k.id for k in self._data]

    def seal(self, plain: bytes, context: bytes) -> bytes:
        key = self.active_key
        header = HEADER.pack(MAGIC, key.id)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return header + nonce + self._aeads[key.id].encrypt(nonce, plain, context + header)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if not is_sealed(sealed):
            raise VaultError("a value is not in the sealed format", code="not_sealed")
        key_id = sealed_key_id(sealed)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise VaultError(
                f"data key {key_id} is not loaded; retry", code="unknown_data_key", key_id=key_id
            )
        header = sealed[: HEADER.size]
        nonce = sealed[HEADER.size : HEADER.size + NONCE_BYTES]
        try:
            return aead.decrypt(nonce, sealed[HEADER.size + NONCE_BYTES :], context + header)
        except InvalidTag:
            raise VaultError(
                "a sealed value failed its authentication", code="sealed_value_tampered"
            ) from None

    def seal_json(self, value: Any, context: bytes) -> bytes:
        return self.seal(orjson.dumps(value), context)

    def open_json(self, sealed: bytes, context: bytes) -> Any:
        return orjson.loads(self.open(sealed, context))

    def seal_text(self, value: Any, context: bytes) -> str:
        """A JSON value sealed into JSON text (``{"sealed": base64}``), for jsonb columns."""
        blob = base64.b64encode(self.seal_json(value, context)).decode()
        return orjson.dumps({PAYLOAD_FIELD: blob}).decode()

    def open_text(self, text: str | bytes, context: bytes) -> Any:
        """The value of :meth:`seal_text` (a plain legacy JSON value is returned as it is)."""
        value = orjson.loads(text)
        if isinstance(value, dict) and set(value) == {PAYLOAD_FIELD}:
            return self.open_json(base64.b64decode(value[PAYLOAD_FIELD]), context)
        return value

    @property
    def index_key(self) -> DataKey:
        """The blind-index key that indexes now: the newest whose ``active_from`` has passed."""
        now = datetime.now(UTC)
        started = [k for k in self._index if k.active_from <= now]
        return started[-1] if started else self._index[0]

    @property
    def index_rotating(self) -> bool:
        """True while more than one blind-index key is live (a rotation is under way)."""
        return sum(not k.retired for k in self._index) > 1

    def blind_index(self, citizen_id: str) -> bytes:
        """The keyed HMAC-SHA256 of a citizen ID under the current index key: what is written."""
        return _hmac(self.index_key.secret, citizen_id)

    def blind_indexes(self, citizen_id: str) -> list[bytes]:
        """The citizen ID's index under every live index key, the current first: what a
        look-up searches (during an index rotation a holder may still be under the old one)."""
        current = self.index_key
        others = [k for k in self._index if not k.retired and k.id != current.id]
        return [_hmac(k.secret, citizen_id) for k in (current, *others)]


def _hmac(key: bytes, citizen_id: str) -> bytes:
    return hmac.new(key, citizen_id.upper().encode(), hashlib.sha256).digest()


class SealedPayloadCodec:
    """The card-job queue's payload codec (``cardqueue.PayloadCodec``): payloads sealed."""

    CONTEXT = b"card_jobs.payload"

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def dumps(self, payload: dict[str, Any]) -> str:
        return self._vault.seal_text(payload, self.CONTEXT)

    def loads(self, text: str | bytes) -> dict[str, Any]:
        value = self._vault.open_text(text, self.CONTEXT)
        if not isinstance(value, dict):
            raise VaultError("a job payload is not an object", code="bad_payload")
        return value


def _unwrapped(rows: list[asyncpg.Record], master: MasterKey) -> list[DataKey]:
    keys = []
    for r in rows:
        if r["master_key"] != master.key_id:
            raise VaultError(
                f"data key {r['id']} was wrapped by master key {r['master_key']}, "
                f"not by the configured {master.key_id}",
                code="master_key_mismatch", key_id=r["id"],
            )  # fmt: skip
        secret = master.unwrap(bytes(r["wrapped"]), _wrap_context(r["id"], r["purpose"]))
        keys.append(
            DataKey(r["id"], r["purpose"], r["active_from"], secret, r["retired_at"] is not None)
        )
    return keys


async def _insert_key(db: Executor, master: MasterKey, purpose: str, delay: timedelta) -> DataKey:
    key_id = int(await db.fetchval(Q["next_data_key_id"]))
    secret = secrets.token_bytes(KEY_BYTES)
    wrapped = master.wrap(secret, _wrap_context(key_id, purpose))
    active_from = await db.fetchval(
        Q["insert_data_key"], key_id, purpose, wrapped, master.key_id, delay
    )
    return DataKey(key_id, purpose, active_from, secret)


async def _create_missing(db: Executor, master: MasterKey) -> list[asyncpg.Record]:
    async def create(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        async with conn.transaction():
            await conn.execute(Q["lock_data_keys"])
            have = {r["purpose"] for r in await conn.fetch(Q["data_keys"])}
            for purpose in (DATA, INDEX):
                if purpose not in have:
                    await _insert_key(conn, master, purpose, timedelta(0))

    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            await create(conn)
    else:
        await create(db)
    return list(await db.fetch(Q["data_keys"]))
