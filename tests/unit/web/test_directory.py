"""The public page's estimated wait and the bureau's 70 % rule, from the service layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from issuance.services.directory import (
    BankShare,
    _wait_minutes,
    seconds_per_card,
    start_of_today,
)
from issuance.store.pages import BankRow, SiteMade

T0 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def test_time_per_card_is_measured_between_the_first_and_last_card_today() -> None:
    made = SiteMade("o", 5, T0, T0 + timedelta(minutes=8))
    assert seconds_per_card(made) == 120.0
    assert seconds_per_card(SiteMade("o", 1, T0, T0)) is None
    assert seconds_per_card(None) is None


def test_the_wait_counts_the_cards_ahead_and_this_one() -> None:
    assert _wait_minutes(0, 120.0) == 2
    assert _wait_minutes(4, 120.0) == 10
    assert _wait_minutes(3, None) is None
    assert _wait_minutes(0, 1.0) == 1  # never "0 minutes"


def test_today_starts_at_midnight_in_beijing() -> None:
    late_utc = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # 01:30 on the 5th in Beijing
    assert start_of_today(late_utc) == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def test_a_bank_below_seventy_percent_does_not_meet_the_rule() -> None:
    bank = BankRow("B", "银行", "110100000001")
    assert not BankShare(bank, 3, 2, Fraction(2, 3)).meets
    assert BankShare(bank, 10, 7, Fraction(7, 10)).meets
    assert BankShare(bank, 10, 7, Fraction(7, 10)).percent == 70.0
