"""Reading the audit trail: search, CSV export and the check of its hash chain.

The bureau's auditors search every bank's records; a bank's administrators
and supervisors (``AUDIT_READ``) only the records of their bank's operators.
A search names the holder by citizen ID, the card by number and the operator
by name; one that names someone unknown (or out of scope) finds nothing,
exactly as one that names someone without records. Pages are keyset pages:
``after`` is the last id of the previous page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from issuance.domain.audit_chain import ChainReport, first_break
from issuance.domain.identity import CitizenId
from issuance.domain.numbers import validate_card_number
from issuance.domain.roles import ALL_BANKS, Operation
from issuance.services.common import check
from issuance.store import AuditFilter, AuditRow, Operator, Store
from sscard_core.errors import FieldError

MAX_PAGE = 500
CSV_COLUMNS = (
    "id", "at", "operator", "operator_name", "bank", "outlet", "purpose", "action", "holder",
    "card", "card_number", "detail", "prev_hash", "hash",
)  # fmt: skip


@dataclass(frozen=True)
class AuditQuery:
    """A search as the caller gives it (every field optional)."""

    citizen_id: str | None = None
    card_number: str | None = None
    operator: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    next_after: int | None  # None: this was the last page


NOTHING = -1  # an id no row has: a search naming someone unknown finds nothing


def _aware(field: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise FieldError(field, "must carry a time zone (e.g. 2026-01-31T08:00:00+08:00)")
    return value


def scope(op: Operator) -> str | None:
    """The bank whose records ``op`` may read (None: every bank); Forbidden without AUDIT_READ."""
    check(op, Operation.AUDIT_READ, None)
    return None if op.role in ALL_BANKS else op.bank


async def _filter(store: Store, q: AuditQuery, bank: str | None) -> AuditFilter:
    """The store's filter for ``q``, within ``bank`` (None: every bank)."""
    f = AuditFilter(
        bank=bank, since=_aware("since", q.since),
        until=_aware("until", q.until), action=q.action,
    )  # fmt: skip
    if q.citizen_id is not None:
        holder = await store.holder_by_citizen_id(CitizenId.parse(q.citizen_id).value, lock=False)
        f = replace(f, holder=NOTHING if holder is None else holder.id)
    if q.card_number is not None:
        card = await store.card_by_number(validate_card_number(q.card_number), lock=False)
        f = replace(f, card=NOTHING if card is None else card.id)
    if q.operator is not None:
        who = await store.credentials(q.operator)
        f = replace(f, operator=NOTHING if who is None else who.operator.id)
    return f


async def search(
    store: Store, q: AuditQuery, *, bank: str | None, after: int = 0, limit: int = 100
) -> AuditPage:
    """One page of the records matching ``q`` within ``bank`` (see :func:`scope`), oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise FieldError("limit", f"must be 1 to {MAX_PAGE}")
    async with store.connected() as s:
        rows = await s.search_audit(await _filter(s, q, bank), after=after, limit=limit)
    last = rows[-1].id if len(rows) == limit else None
    return AuditPage(tuple(rows), last)


def csv_line(values: tuple[object, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def csv_values(r: AuditRow) -> tuple[object, ...]:
    return (
        r.id, r.at.astimezone(UTC).isoformat(), r.operator, r.operator_name, r.bank or "",
        r.outlet or "", r.purpose, r.action, "" if r.holder is None else r.holder,
        "" if r.card is None else r.card, r.card_number or "", r.detail, r.prev_hash.hex(),
        r.hash.hex(),
    )  # fmt: skip


async def export_csv(store: Store, q: AuditQuery, *, bank: str | None) -> AsyncIterator[str]:
    """The matching records as CSV lines (header first), read a thousand at a time.

    The filters are resolved before the first line, so a refusal is an ordinary
    error response rather than a broken stream.
    """
    f = await _filter(store, q, bank)

    async def lines() -> AsyncIterator[str]:
        yield csv_line(CSV_COLUMNS)
        async for row in store.audit_rows(f):
            yield csv_line(csv_values(row))

    return lines()


async def verify(store: Store, progress: Callable[[int, int], None] | None = None) -> ChainReport:
    """Walk the whole chain in one consistent snapshot; the first record that does not chain.

    ``progress(done, total)`` is called as records are checked.
    """
    async with store.connected() as s:
        conn = s.connection
        await s.chain_pending_audit()  # every record committed before the walk is in the chain
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            total = await s.audit_chain_size()
            head = await s.audit_chain_head()
            done = 0

            def step(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None and (done % 1000 == 0 or done == total):
                    progress(done, total)

            return await first_break(s.audit_chain(), head, step)
