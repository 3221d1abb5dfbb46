"""The six fee waivers of 第五条(五), withdrawals and quotes."""

from __future__ import annotations

import pytest

from issuance.domain.counter_services import Service
from issuance.domain.fees import (
    FeeItem,
    FeeSchedule,
    breaches,
    quote,
    validate,
    withdrawal_fee,
)
from sscard_core.errors import FeeWaiverBreached, FieldError

WITHDRAWAL_FEN = 200  # 2 yuan for each charged inter-bank withdrawal
HONEST = FeeSchedule(
    "B01",
    {FeeItem.INTERBANK_WITHDRAWAL: WITHDRAWAL_FEN, FeeItem.EXPEDITED_PRODUCTION: 2000},
)


@pytest.mark.parametrize(
    ("item", "clause"),
    [
        (FeeItem.CARD_PRODUCTION, "第五条(五)第1项"),
        (FeeItem.ANNUAL_FEE, "第五条(五)第2项"),
        (FeeItem.SMALL_ACCOUNT_FEE, "第五条(五)第3项"),
        (FeeItem.INTERBANK_PAYROLL, "第五条(五)第4项"),
        (FeeItem.DELIVERY, "第五条(五)第5项"),
    ],
)
def test_each_waived_item_breach_names_its_clause(item: FeeItem, clause: str) -> None:
    schedule = FeeSchedule("B02", {item: 1})
    with pytest.raises(FeeWaiverBreached) as info:
        validate(schedule)
    assert info.value.fields["clause"] == clause
    assert info.value.fields["item"] == item.value
    assert clause in info.value.message
    assert info.value.to_dict()["code"] == "fee_waiver_breached"


@pytest.mark.parametrize("free", [0, 4])
def test_fewer_than_five_free_withdrawals_breaches_item_6(free: int) -> None:
    with pytest.raises(FeeWaiverBreached) as info:
        validate(FeeSchedule("B03", free_withdrawals_per_month=free))
    assert info.value.fields["clause"] == "第五条(五)第6项"


def test_all_breaches_are_listed_in_clause_order() -> None:
    schedule = FeeSchedule(
        "B04",
        {FeeItem.DELIVERY: 1500, FeeItem.ANNUAL_FEE: 1000},
        free_withdrawals_per_month=3,
    )
    assert [b.clause for b in breaches(schedule)] == [
        "第五条(五)第2项",
        "第五条(五)第5项",
        "第五条(五)第6项",
    ]
    with pytest.raises(FeeWaiverBreached) as info:
        validate(schedule)
    assert info.value.fields["clause"] == "第五条(五)第2项"


def test_an_honest_schedule_passes() -> None:
    assert validate(HONEST) is HONEST
    assert breaches(HONEST) == ()


def test_five_free_then_the_sixth_is_charged() -> None:
    fees = [withdrawal_fee(HONEST, made) for made in range(8)]
    assert fees == [0, 0, 0, 0, 0, WITHDRAWAL_FEN, WITHDRAWAL_FEN, WITHDRAWAL_FEN]


def test_a_bank_giving_eight_free() -> None:
    generous = FeeSchedule(
        "B05", {FeeItem.INTERBANK_WITHDRAWAL: WITHDRAWAL_FEN}, free_withdrawals_per_month=8
    )
    validate(generous)
    assert [withdrawal_fee(generous, made) for made in range(10)] == [0] * 8 + [WITHDRAWAL_FEN] * 2


def test_withdrawal_count_is_not_negative() -> None:
    with pytest.raises(FieldError):
        withdrawal_fee(HONEST, -1)


def test_amounts_are_not_negative() -> None:
    with pytest.raises(FieldError):
        FeeSchedule("B06", {FeeItem.EXPEDITED_PRODUCTION: -1})


def test_schedule_amounts_cannot_be_changed_afterwards() -> None:
    amounts = {FeeItem.EXPEDITED_PRODUCTION: 100}
    schedule = FeeSchedule("B07", amounts)
    amounts[FeeItem.CARD_PRODUCTION] = 500
    assert schedule.amount(FeeItem.CARD_PRODUCTION) == 0
    with pytest.raises(TypeError):
        schedule.amounts[FeeItem.CARD_PRODUCTION] = 500  # type: ignore[index]


def test_quote_for_a_first_card_lists_the_waivers() -> None:
    result = quote(Service.APPLY, HONEST, delivered=True)
    assert [(line.item, line.waived) for line in result.lines] == [
        (FeeItem.CARD_PRODUCTION, True),
        (FeeItem.ANNUAL_FEE, True),
        (FeeItem.SMALL_ACCOUNT_FEE, True),
        (FeeItem.DELIVERY, True),
    ]
    assert result.total_fen == 0


def test_quote_charges_only_what_is_not_waived() -> None:
    result = quote(Service.REISSUE, HONEST, expedited=True)
    assert [(line.item, line.amount_fen, line.waived) for line in result.lines] == [
        (FeeItem.CARD_PRODUCTION, 0, True),
        (FeeItem.EXPEDITED_PRODUCTION, 2000, False),
    ]
    assert result.total_fen == 2000


def test_services_without_a_card_cost_nothing() -> None:
    result = quote(Service.PIN_RESET, HONEST, delivered=True, expedited=True)
    assert result.lines == ()
    assert result.total_fen == 0


def test_no_quote_from_a_breaching_schedule() -> None:
    with pytest.raises(FeeWaiverBreached):
        quote(Service.APPLY, FeeSchedule("B08", {FeeItem.CARD_PRODUCTION: 1000}))


def test_labels() -> None:
    assert FeeItem.CARD_PRODUCTION.label_zh == "工本费"
    assert FeeItem.DELIVERY.label_zh == "发卡快递费"


def test_equal_schedules_hash_alike() -> None:
    a = FeeSchedule("B09", {FeeItem.EXPEDITED_PRODUCTION: 100})
    b = FeeSchedule("B09", {FeeItem.EXPEDITED_PRODUCTION: 100})
    assert a == b
    assert len({a, b}) == 1
