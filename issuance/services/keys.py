"""Re-sealing personal data: ``sscard keys rotate`` and ``sscard keys encrypt-existing``.

The walk goes through every table that holds sealed values, a batch of rows at
a time (each batch its own short transaction, so the service keeps running),
and seals again every value that is plain (written before migration 0007) or
sealed under a data key other than the active one. Holders get their blind
index as they are sealed. Values the retention rules erased stay erased.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import orjson

from issuance.domain.roles import Operation
from issuance.services.common import AuditAction, Purpose, audit, check
from issuance.store import Operator, Store
from issuance.store.store import (
    ADDRESS_CONTEXT,
    ANSWER_CONTEXT,
    CARD_DATA_CONTEXT,
    PHOTO_CONTEXT,
    SEALED_TEXT,
    TOTP_CONTEXT,
    VISIT_CONTEXT,
    open_bytes,
    person,
    seal_address,
    seal_in_text,
    seal_person,
)
from issuance.vault import Vault, is_sealed, sealed_key_id
from issuance.vault.vault import (
    ACTIVATION_DELAY,
    DATA,
    INDEX,
    PAYLOAD_FIELD,
    SealedPayloadCodec,
)
from sscard_core.errors import ConflictError, NotFound
from sscard_core.queries import load_queries

K = load_queries("issuance.store", "keys.sql")
BATCH_ROWS = 500
Progress = Callable[["Table", int], None]


class Table(StrEnum):
    """The kinds of sealed value, in the order the walk takes them."""

    HOLDERS = "holders"
    PHOTOS = "photos"
    CARDS = "cards"
    JOBS = "jobs"
    HISTORY = "history"
    VISITS = "visits"
    ANSWERS = "answers"
    TOTP = "totp"  # operators' TOTP secrets


@dataclass(frozen=True)
class Resealed:
    """Per table: rows looked at, and values sealed again."""

    seen: dict[Table, int]
    resealed: dict[Table, int]


def _current(vault: Vault, sealed: bytes | None) -> bool:
    return sealed is not None and is_sealed(sealed) and sealed_key_id(sealed) == vault.active_key.id


def _holder(vault: Vault, row: asyncpg.Record) -> tuple[Any, ...] | None:
    if row["anonymised_at"] is not None and row["sealed"] is None:
        return None
    sealed, address = row["sealed"], row["sealed_address"]
    if _current(vault, sealed) and _current(vault, address) and not vault.index_rotating:
        return None
    citizen_id, name, phone = person(vault, row)
    index = row["citizen_id_index"]
    settled = index is not None and bytes(index) == vault.blind_index(citizen_id)
    if _current(vault, sealed) and _current(vault, address) and settled:
        return None
    if address is None:
        text = row["address"] or ""
    else:
        text = vault.open(bytes(address), ADDRESS_CONTEXT).decode()
    return (
        row["id"], vault.blind_index(citizen_id), seal_person(vault, citizen_id, name, phone),
        seal_address(vault, text),
    )  # fmt: skip


def _photo(vault: Vault, row: asyncpg.Record) -> tuple[Any, ...] | None:
    value = bytes(row["value"])
    if not value or _current(vault, value):
        return None
    return row["id"], vault.seal(open_bytes(vault, value, PHOTO_CONTEXT), PHOTO_CONTEXT)


def _json(context: bytes) -> Callable[[Vault, asyncpg.Record], tuple[Any, ...] | None]:
    def reseal(vault: Vault, row: asyncpg.Record) -> tuple[Any, ...] | None:
        value = orjson.loads(row["value"])
        if isinstance(value, dict) and set(value) == {PAYLOAD_FIELD}:
            if _current(vault, base64.b64decode(value[PAYLOAD_FIELD])):
                return None
        elif value == {}:
            return None  # erased by the retention rules
        return row["id"], vault.seal_text(vault.open_text(row["value"], context), context)

    return reseal


def _in_text(context: bytes) -> Callable[[Vault, asyncpg.Record], tuple[Any, ...] | None]:
    def reseal(vault: Vault, row: asyncpg.Record) -> tuple[Any, ...] | None:
        value: str = row["value"]
        if not value:
            return None
        if value.startswith(SEALED_TEXT):
            sealed = base64.b64decode(value[len(SEALED_TEXT) :])
            if _current(vault, sealed):
                return None
            value = vault.open(sealed, context).decode()
        return row["id"], seal_in_text(vault, value, context)

    return reseal


def _answer(vault: Vault, row: asyncpg.Record) -> tuple[Any, ...] | None:
    value = bytes(row["value"])
    if _current(vault, value):
        return None
    sealed = vault.seal(open_bytes(vault, value, ANSWER_CONTEXT), ANSWER_CONTEXT)
    return row["operator"], row["key"], sealed


RESEAL: dict[Table, Callable[[Vault, asyncpg.Record], tuple[Any, ...] | None]] = {
    Table.HOLDERS: _holder,
    Table.PHOTOS: _photo,
    Table.CARDS: _json(CARD_DATA_CONTEXT),
    Table.JOBS: _json(SealedPayloadCodec.CONTEXT),
    Table.HISTORY: _json(SealedPayloadCodec.CONTEXT),
    Table.VISITS: _in_text(VISIT_CONTEXT),
    Table.ANSWERS: _answer,
    Table.TOTP: _in_text(TOTP_CONTEXT),
}


async def total_rows(store: Store) -> dict[Table, int]:
    """How many rows the walk will look at, per table (for a progress bar)."""
    async with store.connected() as db:
        conn = db.connection
        return {t: int(await conn.fetchval(K[f"count_{t.value}"])) for t in Table}


async def _batch(
    store: Store, table: Table, after: tuple[Any, ...], rows: int
) -> tuple[list[asyncpg.Record], int]:
    """One batch: its rows (to advance the keyset) and how many values were sealed again."""
    async with store.transaction() as tx:
        conn = tx.connection
        found = await conn.fetch(K[f"{table.value}_after"], *after, rows)
        changed = [c for r in found if (c := RESEAL[table](tx.vault, r)) is not None]
        if changed:
            await conn.execute(K[f"reseal_{table.value}"], *map(list, zip(*changed, strict=True)))
    return found, len(changed)


async def reseal_all(
    store: Store, *, rows: int = BATCH_ROWS, progress: Progress | None = None
) -> Resealed:
    """Seal again, under the active key, every value that is plain or under an older key."""
    seen: dict[Table, int] = dict.fromkeys(Table, 0)
    resealed: dict[Table, int] = dict.fromkeys(Table, 0)
    for table in Table:
        after: tuple[Any, ...] = (0, "") if table is Table.ANSWERS else (0,)
        while True:
            found, changed = await _batch(store, table, after, rows)
            if not found:
                break
            last = found[-1]
            after = (last["operator"], last["key"]) if table is Table.ANSWERS else (last["id"],)
            seen[table] += len(found)
            resealed[table] += changed
            if progress is not None:
                progress(table, len(found))
    return Resealed(seen, resealed)


async def new_data_key(
    store: Store, delay: timedelta = ACTIVATION_DELAY, *, blind_index: bool = False
) -> tuple[int, datetime]:
    """A new data key (or blind-index key), in use from ``delay`` on (running services load
    it before then)."""
    purpose = INDEX if blind_index else DATA
    async with store.connected() as db:
        key = await store.vault.add_data_key(db.connection, delay, purpose)
    return key.id, key.active_from


async def wait_until(at: datetime, tick: Callable[[float], None] | None = None) -> None:
    """Sleep until ``at``, calling ``tick`` with the seconds left about once a second."""
    while (left := (at - datetime.now(UTC)).total_seconds()) > 0:
        if tick is not None:
            tick(left)
        await asyncio.sleep(min(1.0, left))


async def retire_older_keys(store: Store, key_id: int) -> list[int]:
    """Mark the keys of ``key_id``'s purpose older than it retired (a data key is kept, to
    open old backups; a retired index key is no longer searched); the vault reloads."""
    async with store.connected() as db:
        rows = await db.connection.fetch(K["retire_data_keys"], key_id)
        await store.vault.refresh(db.connection)
    return [int(r["id"]) for r in rows]


async def plain_holders(store: Store) -> int:
    """Holders written before 0007 and not sealed yet (the service refuses to start on them)."""
    async with store.connected() as db:
        return int(await db.connection.fetchval(K["count_plain_holders"]))


@dataclass(frozen=True)
class KeyState:
    """One data key: what it is for, when it sealed, and how many values name it."""

    id: int
    purpose: str
    active_from: datetime
    retired_at: datetime | None
    destroyed_at: datetime | None
    values: int


async def key_table(store: Store) -> list[KeyState]:
    """Every data key (destroyed ones too) with the number of sealed values under it."""
    async with store.connected() as db:
        conn = db.connection
        counts = {int(r["key_id"]): int(r["n"]) for r in await conn.fetch(K["values_per_key"])}
        rows = await conn.fetch(K["key_table"])
    return [
        KeyState(r["id"], r["purpose"], r["active_from"], r["retired_at"], r["destroyed_at"],
                 counts.get(r["id"], 0))
        for r in rows
    ]  # fmt: skip


async def destroy_key(store: Store, key_id: int) -> datetime:
    """Destroy a retired data key no value names any more (its wrapped secret is deleted).

    404 ``unknown_data_key``; 409 ``key_not_retired`` (the active key, a key not retired yet,
    or the blind-index key), ``key_destroyed`` or ``key_in_use`` (with the count).
    """
    async with store.transaction() as tx:
        conn = tx.connection
        row = await conn.fetchrow(K["lock_key"], key_id)
        if row is None:
            raise NotFound(f"no data key {key_id}", code="unknown_data_key", resource="data_key")
        if row["destroyed_at"] is not None:
            raise ConflictError(f"data key {key_id} is destroyed already", code="key_destroyed")
        if row["purpose"] == INDEX:
            raise ConflictError(
                f"key {key_id} is a blind-index key; they are kept", code="index_key_kept"
            )
        if row["retired_at"] is None:
            raise ConflictError(
                f"data key {key_id} is not retired: rotate first", code="key_not_retired"
            )
        counts = {int(r["key_id"]): int(r["n"]) for r in await conn.fetch(K["values_per_key"])}
        if used := counts.get(key_id, 0):
            raise ConflictError(
                f"{used} value(s) are still sealed under data key {key_id}: "
                "run `sscard keys encrypt-existing` first", code="key_in_use", values=used,
            )  # fmt: skip
        destroyed: datetime = await conn.fetchval(K["destroy_key"], key_id)
    return destroyed


class RotationState(StrEnum):
    WAITING = "waiting"  # for every running service to load the new key
    WALKING = "walking"  # sealing again, batch by batch
    DONE = "done"
    FAILED = "failed"


class Rotation:
    """One rotation run by the service (``POST /v1/keys/rotate``), and its progress."""

    def __init__(self, key_id: int, active_from: datetime, total: int) -> None:
        self.key_id = key_id
        self.active_from = active_from
        self.total = total
        self.done = 0
        self.resealed = 0
        self.retired: list[int] = []
        self.state = RotationState.WAITING
        self.error = ""

    def view(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id, "active_from": self.active_from, "state": self.state.value,
            "rows_done": self.done, "rows_total": max(self.total, self.done),
            "resealed": self.resealed, "retired": self.retired, "error": self.error,
        }  # fmt: skip

    def _advance(self, _table: Table, rows: int) -> None:
        self.done += rows

    async def run(self, store: Store, rows: int = BATCH_ROWS) -> None:
        """Wait for the key's activation, seal everything again under it, retire older keys."""
        try:
            await wait_until(self.active_from)
            self.state = RotationState.WALKING
            done = await reseal_all(store, rows=rows, progress=self._advance)
            self.resealed = sum(done.resealed.values())
            self.retired = await retire_older_keys(store, self.key_id)
            self.state = RotationState.DONE
        except Exception as exc:
            self.error = str(exc)
            self.state = RotationState.FAILED

    @property
    def running(self) -> bool:
        return self.state in (RotationState.WAITING, RotationState.WALKING)


async def _audited(store: Store, op: Operator, action: AuditAction, detail: str) -> None:
    async with store.transaction() as tx:
        await audit(tx, op, Purpose.KEYS, None, action, detail=detail)


async def start_rotation(
    store: Store, op: Operator, delay: timedelta, *, blind_index: bool = False
) -> Rotation:
    """A new data (or blind-index) key in use from ``delay`` on, and its rotation, not yet
    run; audited."""
    check(op, Operation.MANAGE_KEYS, None)
    key_id, at = await new_data_key(store, delay, blind_index=blind_index)
    totals = await total_rows(store)
    kind = "blind-index" if blind_index else "data"
    await _audited(store, op, AuditAction.ROTATE_KEYS, f"{kind} key {key_id}")
    return Rotation(key_id, at, sum(totals.values()))


async def read_keys(store: Store, op: Operator) -> list[KeyState]:
    check(op, Operation.MANAGE_KEYS, None)
    return await key_table(store)


async def destroy_key_by(store: Store, op: Operator, key_id: int) -> datetime:
    check(op, Operation.MANAGE_KEYS, None)
    at = await destroy_key(store, key_id)
    await _audited(store, op, AuditAction.DESTROY_KEY, f"data key {key_id}")
    return at
