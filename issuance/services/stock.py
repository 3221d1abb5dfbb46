"""Blank card bodies under dual control, and each outlet's daily reconciliation.

Receiving a numbered lot at an outlet, transferring bodies to another outlet
of the bank and destroying bodies (spoiled or damaged ones withdrawn from
stock) are each asked for by one operator and confirmed by a second, different
one (409 ``same_operator`` otherwise; the table's check refuses it too). Both
are supervisors (at one of the outlets concerned) or administrators of the
bank. Confirming writes the moves in the same transaction; a transfer or a
destruction may not take more bodies than the outlet holds (409
``insufficient_stock``).

The agent's reports add one move per body: ``fed`` when a card job's
heartbeat announces the FED step, ``printed`` when the job completes,
``spoiled`` when a failure spoiled the body (once per attempt each).

A day's reconciliation (Beijing time) computes opening + received (with
transfers in, less transfers out) - issued (printed) - spoiled - destroyed =
expected closing, compares it with the count a supervisor gives, and lists
every difference as an exception: the count differs, or bodies were fed that
were neither printed nor spoiled. The outlet's supervisors, the bank's
administrators and the bureau's auditors see the stock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from issuance.domain.roles import ALL_BANKS, Role
from issuance.store import (
    Operator,
    OutletRecord,
    ReconciliationRecord,
    StockRequestRecord,
    Store,
)
from sscard_core.errors import ConflictError, FieldError, Forbidden, NotFound

BEIJING = timezone(timedelta(hours=8))
KEEPERS = frozenset({Role.SUPERVISOR, Role.BANK_ADMIN})


class RequestKind(StrEnum):
    RECEIPT = "receipt"
    TRANSFER = "transfer"
    DESTRUCTION = "destruction"


class Decision(StrEnum):
    CONFIRM = "confirmed"
    CANCEL = "cancelled"


# what confirming a request writes: (outlet field, move kind) pairs
MOVES: dict[RequestKind, tuple[tuple[str, str], ...]] = {
    RequestKind.RECEIPT: (("outlet", "received"),),
    RequestKind.TRANSFER: (("outlet", "transferred_out"), ("to_outlet", "transferred_in")),
    RequestKind.DESTRUCTION: (("outlet", "destroyed"),),
}
TAKES_STOCK = frozenset({RequestKind.TRANSFER, RequestKind.DESTRUCTION})


@dataclass(frozen=True)
class StockRequest:
    kind: RequestKind
    outlet: str
    lot: str
    quantity: int
    to_outlet: str | None = None
    note: str = ""


@dataclass(frozen=True)
class OutletStock:
    outlet: str
    balance: int
    pending: tuple[StockRequestRecord, ...]
    reconciliations: tuple[ReconciliationRecord, ...]


async def _outlet(tx: Store, code: str) -> OutletRecord:
    found = await tx.outlet(code)
    if found is None:
        raise NotFound(f"no outlet {code}", resource="outlet")
    return found


def _keeper(op: Operator, bank: str, outlets: tuple[str | None, ...]) -> None:
    """A supervisor at one of ``outlets``, or an administrator, of ``bank``."""
    if op.role not in KEEPERS:
        raise Forbidden(f"a {op.role} may not handle card stock", role=op.role.value)
    if op.bank != bank:
        raise Forbidden("not an outlet of this bank")
    if op.role is Role.SUPERVISOR and op.outlet not in outlets:
        raise Forbidden(
            "a supervisor handles the stock of their own outlet", code="not_your_outlet"
        )


async def request(store: Store, op: Operator, r: StockRequest) -> StockRequestRecord:
    """Ask for a receipt, transfer or destruction; a second operator confirms it."""
    if (r.kind is RequestKind.TRANSFER) != (r.to_outlet is not None):
        raise FieldError(
            "to_outlet", "a transfer, and only a transfer, names the outlet it goes to"
        )
    async with store.transaction() as tx:
        outlet = await _outlet(tx, r.outlet)
        if r.to_outlet is not None:
            if r.to_outlet == r.outlet:
                raise FieldError("to_outlet", "is the outlet the bodies leave")
            if (await _outlet(tx, r.to_outlet)).bank != outlet.bank:
                raise FieldError("to_outlet", "is not an outlet of the same bank")
        _keeper(op, outlet.bank, (r.outlet, r.to_outlet))
        made = await tx.insert_stock_request(
            kind=r.kind.value, bank=outlet.bank, outlet=r.outlet, to_outlet=r.to_outlet,
            lot=r.lot, quantity=r.quantity, note=r.note, operator=op.id,
        )  # fmt: skip
        found = await tx.stock_request(made)
    assert found is not None
    return found


async def decide(
    store: Store, op: Operator, request_id: int, decision: Decision
) -> StockRequestRecord:
    """Confirm (a different operator: the moves are written) or cancel a pending request."""
    async with store.transaction() as tx:
        r = await tx.stock_request(request_id, lock=True)
        if r is None or (op.role not in ALL_BANKS and op.bank != r.bank):
            raise NotFound(f"no stock request {request_id}", resource="stock_request")
        _keeper(op, r.bank, (r.outlet, r.to_outlet))
        if r.state != "pending":
            raise ConflictError(f"the request is {r.state} already", code="request_decided")
        if decision is Decision.CONFIRM:
            await _confirm(tx, op, r)
        await tx.decide_stock_request(r.id, decision.value, op.id)
        found = await tx.stock_request(r.id)
    assert found is not None
    return found


async def _confirm(tx: Store, op: Operator, r: StockRequestRecord) -> None:
    if op.id == r.requested_by:
        raise ConflictError(
            "a second, different operator confirms a stock change", code="same_operator"
        )
    kind = RequestKind(r.kind)
    if kind in TAKES_STOCK:
        await tx.lock_outlet_stock(r.outlet)
        held = await tx.stock_balance(r.outlet)
        if held < r.quantity:
            raise ConflictError(
                f"outlet {r.outlet} holds {held} bodies, not {r.quantity}",
                code="insufficient_stock", held=held,
            )  # fmt: skip
    for field, move in MOVES[kind]:
        outlet = r.outlet if field == "outlet" else r.to_outlet
        assert outlet is not None
        await tx.insert_stock_move(outlet, move, r.quantity, r.id)


def _reader(op: Operator, outlet: OutletRecord) -> None:
    if op.role in ALL_BANKS:
        return
    if op.bank != outlet.bank or op.role not in KEEPERS:
        raise Forbidden(f"a {op.role} may not see this outlet's stock", role=op.role.value)
    if op.role is Role.SUPERVISOR and op.outlet != outlet.code:
        raise Forbidden("a supervisor sees the stock of their own outlet", code="not_your_outlet")


async def outlet_stock(store: Store, op: Operator, code: str) -> OutletStock:
    async with store.connected() as s:
        outlet = await _outlet(s, code)
        _reader(op, outlet)
        return OutletStock(
            code, await s.stock_balance(code), tuple(await s.pending_stock_requests(code)),
            tuple(await s.reconciliations(code)),
        )  # fmt: skip


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), BEIJING)
    return start, start + timedelta(days=1)


def exceptions_of(expected: int, counted: int, moves: dict[str, int]) -> list[dict[str, Any]]:
    """Every difference a supervisor must look into (empty: the day reconciles)."""
    found: list[dict[str, Any]] = []
    if counted != expected:
        found.append({"kind": "count_difference", "expected": expected, "counted": counted,
                      "difference": counted - expected})  # fmt: skip
    fed, printed, spoiled = (moves.get(k, 0) for k in ("fed", "printed", "spoiled"))
    if fed != printed + spoiled:
        found.append({"kind": "unaccounted_feeds", "fed": fed, "printed": printed,
                      "spoiled": spoiled, "difference": fed - printed - spoiled})  # fmt: skip
    return found


async def reconcile(
    store: Store, op: Operator, code: str, day: date, counted: int
) -> ReconciliationRecord:
    """Close an outlet's day against the supervisor's count (409 if it was closed already)."""
    if counted < 0:
        raise FieldError("counted", "must be 0 or more")
    start, end = day_bounds(day)
    if start > datetime.now(BEIJING):
        raise FieldError("day", "has not begun")
    async with store.transaction() as tx:
        outlet = await _outlet(tx, code)
        _keeper(op, outlet.bank, (code,))
        await tx.lock_outlet_stock(code)
        opening = await tx.stock_balance(code, start)
        m = await tx.stock_day(code, start, end)
        received = m.get("received", 0) + m.get("transferred_in", 0) - m.get("transferred_out", 0)
        issued, spoiled, destroyed = m.get("printed", 0), m.get("spoiled", 0), m.get("destroyed", 0)
        expected = opening + received - issued - spoiled - destroyed
        record = ReconciliationRecord(
            code, day, opening, received, issued, spoiled, destroyed, expected, counted,
            m.get("fed", 0), exceptions_of(expected, counted, m), op.id,
        )  # fmt: skip
        if not await tx.insert_reconciliation(record):
            raise ConflictError(f"{code} was reconciled for {day} already", code="reconciled")
        return record
