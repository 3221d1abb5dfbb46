"""Fees (第五条(五)): quotes, inter-bank withdrawals, and a bank's fee schedule.

A bank without an uploaded schedule charges nothing. An upload is checked
against the six waivers before it is stored; a breach is rejected with the
clause it breaks (:class:`sscard_core.errors.FeeWaiverBreached`, 422).
Withdrawals are counted per card and calendar month; the fee of each follows
:func:`issuance.domain.fees.withdrawal_fee`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from issuance.domain import fees
from issuance.domain.cards import ensure_usable
from issuance.domain.counter_services import Service
from issuance.domain.roles import Operation
from issuance.services.common import AuditAction, Purpose, audit, check, now, scoped_card
from issuance.store import Operator, Store
from printers.documents.receipt import WaivedFee
from sscard_core.errors import FieldError

# The fee schedule item each waiver printed on the handover receipt concerns.
FEE_ITEM_OF: dict[WaivedFee, fees.FeeItem] = {
    WaivedFee.PRODUCTION: fees.FeeItem.CARD_PRODUCTION,
    WaivedFee.ACCOUNT_ANNUAL: fees.FeeItem.ANNUAL_FEE,
    WaivedFee.SMALL_ACCOUNT_MANAGEMENT: fees.FeeItem.SMALL_ACCOUNT_FEE,
    WaivedFee.INTERBANK_PAYROLL: fees.FeeItem.INTERBANK_PAYROLL,
    WaivedFee.CARD_DELIVERY: fees.FeeItem.DELIVERY,
    WaivedFee.INTERBANK_WITHDRAWAL: fees.FeeItem.INTERBANK_WITHDRAWAL,
}


async def schedule_of(store: Store, bank: str) -> fees.FeeSchedule:
    found = await store.fee_schedule(bank)
    if found is None:
        return fees.FeeSchedule(bank)
    amounts, free = found
    return fees.FeeSchedule(bank, {fees.FeeItem(k): v for k, v in amounts.items()}, free)


async def quote(
    store: Store,
    op: Operator,
    service: Service,
    *,
    bank: str | None = None,
    delivered: bool = False,
    expedited: bool = False,
) -> fees.Quote:
    """What ``service`` costs at ``bank`` (default: the operator's bank)."""
    target = bank or op.bank
    check(op, Operation.QUOTE_FEES, target)
    if target is None or not await store.bank_exists(target):
        raise FieldError("bank", "no such bank", code="unknown_bank")
    schedule = await schedule_of(store, target)
    return fees.quote(service, schedule, delivered=delivered, expedited=expedited)


async def upload_schedule(store: Store, op: Operator, schedule: fees.FeeSchedule) -> None:
    """Store the bank's schedule if it honours every waiver (FeeWaiverBreached otherwise)."""
    check(op, Operation.MANAGE_FEES, schedule.bank_code)
    fees.validate(schedule)
    amounts = {item.value: fen for item, fen in schedule.amounts.items()}
    async with store.transaction() as tx:
        if not await tx.bank_exists(schedule.bank_code):
            raise FieldError("bank", "no such bank", code="unknown_bank")
        await tx.upsert_fee_schedule(
            schedule.bank_code, amounts, schedule.free_withdrawals_per_month, op.id
        )


@dataclass(frozen=True)
class WithdrawalFee:
    card_number: str
    month: date
    withdrawals_before: int  # this month, before this one
    fee_fen: int


async def record_withdrawal(store: Store, op: Operator, number: str) -> WithdrawalFee:
    """Count one inter-bank cash withdrawal and say what it costs (the first five are free)."""
    async with store.transaction() as tx:
        card = await scoped_card(tx, op, Operation.QUOTE_FEES, number)
        ensure_usable(card.card_number, card.status)
        month = now().date().replace(day=1)
        before = await tx.add_withdrawal(card.id, month)
        schedule = await schedule_of(tx, card.bank)
        await audit(tx, op, Purpose.WITHDRAWAL, card.holder, AuditAction.CHANGE, card=card.id)
        fee = fees.withdrawal_fee(schedule, before)
        return WithdrawalFee(card.card_number, month, before, fee)
