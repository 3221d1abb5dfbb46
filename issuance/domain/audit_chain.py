"""The audit trail's hash chain: the canonical text of a record and the check of a chain.

Each audit record's hash is the SHA-256 of its canonical text: its fields in a
fixed order, each written as ``<byte length>:<value>`` (``~`` for none) and
joined by ``|``, the previous record's hash among them (hex). The database
builds the same text in ``audit_canonical`` (``schema.sql``) when it inserts a
record; :func:`first_break` recomputes it here, independently, and names the
first record that does not chain. The first record's previous hash is 32 zero
bytes. ``docs/audit.md`` explains what the chain does and does not prove.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

GENESIS = bytes(32)


class ChainedRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def operator(self) -> int: ...
    @property
    def bank(self) -> str | None: ...
    @property
    def outlet(self) -> str | None: ...
    @property
    def purpose(self) -> str: ...
    @property
    def holder(self) -> int | None: ...
    @property
    def card(self) -> int | None: ...
    @property
    def action(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def prev_hash(self) -> bytes: ...
    @property
    def hash(self) -> bytes: ...


def _field(value: object) -> str:
    if value is None:
        return "~"
    text = str(value)
    return f"{len(text.encode())}:{text}"


def canonical(r: ChainedRecord) -> str:
    """The text the record's hash covers (the same as SQL ``audit_canonical``)."""
    at = r.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = (
        r.id, r.prev_hash.hex(), at, r.operator, r.bank, r.outlet, r.purpose, r.holder, r.card,
        r.action, r.detail,
    )  # fmt: skip
    return "|".join(_field(f) for f in fields)


def record_hash(r: ChainedRecord) -> bytes:
    return hashlib.sha256(canonical(r).encode()).digest()


class BreakKind(StrEnum):
    CHANGED = "changed"  # the record's fields no longer give its hash
    UNLINKED = "unlinked"  # its previous hash is not the hash of the record before it
    TRUNCATED = "truncated"  # records recorded by the chain head are missing at the end


@dataclass(frozen=True)
class ChainBreak:
    """The first record that does not chain, and why."""

    record_id: int
    kind: BreakKind
    after_id: int | None  # the last good record (None: the break is at the first)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_id: int | None
    broken: ChainBreak | None


async def first_break(
    records: AsyncIterable[ChainedRecord],
    head: tuple[int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Walk ``records`` in id order; stop at the first one that does not chain.

    ``head`` is the chain head the database keeps (last id, last hash): when
    the walk ends short of it, records were removed from the end.
    """
    prev, prev_id, checked = GENESIS, None, 0
    async for r in records:
        if r.prev_hash != prev:
            return ChainReport(checked, prev_id, ChainBreak(r.id, BreakKind.UNLINKED, prev_id))
        if record_hash(r) != r.hash:
            return ChainReport(checked, prev_id, ChainBreak(r.id, BreakKind.CHANGED, prev_id))
        prev, prev_id, checked = r.hash, r.id, checked + 1
        if progress is not None:
            progress(1)
    if head is not None and head[0] != 0 and (head[0], head[1]) != (prev_id, prev):
        return ChainReport(checked, prev_id, ChainBreak(head[0], BreakKind.TRUNCATED, prev_id))
    return ChainReport(checked, prev_id, None)
