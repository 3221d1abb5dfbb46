"""Fees and the six waivers of 第五条(五).

A cooperative bank must not charge a social security card holder for:

1. 工本费 making the card (first card, reissue or replacement);
2. 年费 the financial account's annual fee;
3. 小额账户管理费 the small-balance account management fee;
4. 跨行代发手续费 the holder's fee for payroll paid in from another bank;
5. 发卡快递费 delivering the card;
6. the first five inter-bank cash withdrawals (跨行取现) per card per calendar
   month; a bank may waive more.

A :class:`FeeSchedule` is one bank's amounts in fen (integers, never floats)
and its number of free withdrawals per month. :func:`validate` checks it
against the waiver table :data:`WAIVERS` and raises
:class:`sscard_core.errors.FeeWaiverBreached` naming the clause broken
(``第五条(五)第N项``). Items outside the waivers (expedited production, the
paid withdrawals) may carry a price.

:func:`quote` lists what a counter service costs, item by item, each flagged
waived or not, so the holder sees the waivers explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from issuance.domain.counter_services import Service
from sscard_core.errors import FeeWaiverBreached, FieldError

MIN_FREE_WITHDRAWALS = 5
CLAUSE = "第五条(五)"


class FeeItem(StrEnum):
    CARD_PRODUCTION = "card_production"  # 工本费
    ANNUAL_FEE = "annual_fee"  # 年费
    SMALL_ACCOUNT_FEE = "small_account_fee"  # 小额账户管理费
    INTERBANK_PAYROLL = "interbank_payroll"  # 跨行代发手续费
    DELIVERY = "delivery"  # 发卡快递费
    INTERBANK_WITHDRAWAL = "interbank_withdrawal"  # 跨行取现手续费, per withdrawal
    EXPEDITED_PRODUCTION = "expedited_production"  # 加急制卡

    @property
    def label_zh(self) -> str:
        return ITEM_LABELS[self]


ITEM_LABELS: dict[FeeItem, str] = {
    FeeItem.CARD_PRODUCTION: "工本费",
    FeeItem.ANNUAL_FEE: "年费",
    FeeItem.SMALL_ACCOUNT_FEE: "小额账户管理费",
    FeeItem.INTERBANK_PAYROLL: "跨行代发手续费",
    FeeItem.DELIVERY: "发卡快递费",
    FeeItem.INTERBANK_WITHDRAWAL: "跨行取现手续费",
    FeeItem.EXPEDITED_PRODUCTION: "加急制卡费",
}


@dataclass(frozen=True)
class Waiver:
    item: FeeItem
    number: int  # the N of 第五条(五)第N项

    @property
    def clause(self) -> str:
        return clause(self.number)


def clause(number: int) -> str:
    return f"{CLAUSE}第{number}项"


# Items 1-5 may never be charged; item 6 is the monthly free-withdrawal floor.
WAIVERS: tuple[Waiver, ...] = (
    Waiver(FeeItem.CARD_PRODUCTION, 1),
    Waiver(FeeItem.ANNUAL_FEE, 2),
    Waiver(FeeItem.SMALL_ACCOUNT_FEE, 3),
    Waiver(FeeItem.INTERBANK_PAYROLL, 4),
    Waiver(FeeItem.DELIVERY, 5),
)
WITHDRAWAL_CLAUSE = 6
WAIVED_ITEMS = frozenset(w.item for w in WAIVERS)


@dataclass(frozen=True)
class FeeSchedule:
    """One bank's prices in fen; items not listed cost nothing."""

    bank_code: str
    amounts: Mapping[FeeItem, int] = field(default_factory=dict)
    free_withdrawals_per_month: int = MIN_FREE_WITHDRAWALS

    def __post_init__(self) -> None:
        negative = sorted(item.value for item, fen in self.amounts.items() if fen < 0)
        if negative:
            raise FieldError("amounts", f"negative amounts for {negative}", code="negative_fee")
        if self.free_withdrawals_per_month < 0:
            raise FieldError("free_withdrawals_per_month", "must not be negative")
        object.__setattr__(self, "amounts", MappingProxyType(dict(self.amounts)))

    def __hash__(self) -> int:
        amounts = frozenset(self.amounts.items())
        return hash((self.bank_code, amounts, self.free_withdrawals_per_month))

    def amount(self, item: FeeItem) -> int:
        return self.amounts.get(item, 0)


@dataclass(frozen=True)
class Breach:
    clause: str
    item: FeeItem
    message: str


def breaches(schedule: FeeSchedule) -> tuple[Breach, ...]:
    """Every waiver the schedule breaks, in clause order."""
    found = [
        Breach(
            w.clause, w.item, f"{w.item.label_zh} must be waived, not {schedule.amount(w.item)} fen"
        )
        for w in WAIVERS
        if schedule.amount(w.item) != 0
    ]
    if schedule.free_withdrawals_per_month < MIN_FREE_WITHDRAWALS:
        found.append(
            Breach(
                clause(WITHDRAWAL_CLAUSE),
                FeeItem.INTERBANK_WITHDRAWAL,
                f"at least {MIN_FREE_WITHDRAWALS} inter-bank withdrawals a month must be free, "
                f"not {schedule.free_withdrawals_per_month}",
            )
        )
    return tuple(found)


def validate(schedule: FeeSchedule) -> FeeSchedule:
    """The schedule if it honours every waiver; FeeWaiverBreached naming the first clause broken."""
    found = breaches(schedule)
    if found:
        first = found[0]
        raise FeeWaiverBreached(
            f"{first.clause}: {first.message}",
            clause=first.clause,
            item=first.item.value,
            clauses=[b.clause for b in found],
            bank_code=schedule.bank_code,
        )
    return schedule


def withdrawal_fee(schedule: FeeSchedule, withdrawals_this_month: int) -> int:
    """Fee in fen for the next inter-bank withdrawal, given how many the card made this month.

    With five free, the sixth withdrawal of a month (``withdrawals_this_month``
    == 5) is the first that may be charged.
    """
    if withdrawals_this_month < 0:
        raise FieldError("withdrawals_this_month", "must not be negative")
    if withdrawals_this_month < schedule.free_withdrawals_per_month:
        return 0
    return schedule.amount(FeeItem.INTERBANK_WITHDRAWAL)


SERVICE_ITEMS: dict[Service, tuple[FeeItem, ...]] = {
    Service.APPLY: (FeeItem.CARD_PRODUCTION, FeeItem.ANNUAL_FEE, FeeItem.SMALL_ACCOUNT_FEE),
    Service.REISSUE: (FeeItem.CARD_PRODUCTION,),
    Service.REPLACE: (FeeItem.CARD_PRODUCTION,),
    Service.CHANGE_BANK: (FeeItem.CARD_PRODUCTION, FeeItem.ANNUAL_FEE, FeeItem.SMALL_ACCOUNT_FEE),
}


@dataclass(frozen=True)
class QuoteLine:
    item: FeeItem
    amount_fen: int  # what the holder pays: 0 when waived
    waived: bool


@dataclass(frozen=True)
class Quote:
    service: Service
    lines: tuple[QuoteLine, ...]

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)


def quote(
    service: Service, schedule: FeeSchedule, *, delivered: bool = False, expedited: bool = False
) -> Quote:
    """What ``service`` costs at this bank, item by item (the schedule is validated first)."""
    validate(schedule)
    items = list(SERVICE_ITEMS.get(service, ()))
    makes_card = FeeItem.CARD_PRODUCTION in items
    if makes_card and delivered:
        items.append(FeeItem.DELIVERY)
    if makes_card and expedited:
        items.append(FeeItem.EXPEDITED_PRODUCTION)
    return Quote(service, tuple(_line(item, schedule) for item in items))


def _line(item: FeeItem, schedule: FeeSchedule) -> QuoteLine:
    waived = item in WAIVED_ITEMS
    return QuoteLine(item, 0 if waived else schedule.amount(item), waived)
