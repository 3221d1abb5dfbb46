"""Banks and outlets: working days, onboarding, filings, the 70% rule, evaluation, exit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

import pytest

from issuance.domain.banks import (
    Bank,
    BankAction,
    BankStatus,
    CalendarUnknown,
    EvaluationRules,
    ExitGround,
    FilingKind,
    Onboarding,
    OnboardingStage,
    Outlet,
    OutletFiling,
    OutletState,
    Party,
    ServiceRecord,
    add_months,
    add_working_days,
    apply_filing,
    apply_filings,
    change_status,
    decide_exit,
    evaluate,
    evaluation_window,
    failed_two_consecutive_years,
    instant_ratio,
    is_working_day,
    meets_instant_ratio,
)
from issuance.domain.identity import BeijingDistrict
from sscard_core.errors import ConflictError, FieldError, NotFound, TransitionForbidden

G = OnboardingStage


def test_working_days_cross_national_day_2025() -> None:
    # 1-8 Oct 2025 are holidays; Sunday 28 Sep and Saturday 11 Oct are working days (调休)
    assert is_working_day(date(2025, 9, 28))
    assert not is_working_day(date(2025, 10, 6))
    assert is_working_day(date(2025, 10, 11))
    # from Fri 26 Sep: 28, 29, 30 Sep, then 9, 10, 11, 13, 14, 15, 16 Oct
    assert add_working_days(date(2025, 9, 26), 10) == date(2025, 10, 16)


def test_working_days_cross_spring_festival_2025() -> None:
    # 28 Jan-4 Feb 2025 are holidays; Sunday 26 Jan and Saturday 8 Feb are working days
    assert is_working_day(date(2025, 1, 26))
    assert not is_working_day(date(2025, 1, 29))
    assert is_working_day(date(2025, 2, 8))
    # from Fri 24 Jan: 26, 27 Jan, then 5, 6, 7, 8, 10, 11, 12, 13 Feb
    assert add_working_days(date(2025, 1, 24), 10) == date(2025, 2, 13)


def test_working_days_without_holidays() -> None:
    assert add_working_days(date(2024, 1, 10), 10) == date(2024, 1, 24)  # Wednesday → Wednesday
    assert add_working_days(date(2024, 1, 13), 10) == date(2024, 1, 26)  # Saturday → Friday
    assert add_working_days(date(2024, 1, 13), 0) == date(2024, 1, 13)


def test_a_year_the_calendar_does_not_know_is_an_error() -> None:
    with pytest.raises(CalendarUnknown) as caught:
        add_working_days(date(2099, 12, 20), 10)
    assert caught.value.code == "calendar_unknown"
    assert "2099" in caught.value.message


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 15), 6, date(2024, 7, 15)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2024, 12, 1), 1, date(2025, 1, 1)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def onboarded(*stages: OnboardingStage, start: date = date(2024, 1, 10)) -> Onboarding:
    onboarding = Onboarding.apply(start)
    for i, stage in enumerate(stages, start=1):
        onboarding = onboarding.advance(stage, start + timedelta(days=30 * i))
    return onboarding


def test_onboarding_runs_in_order_to_publication() -> None:
    published = onboarded(
        G.UNDER_REVIEW, G.APPROVED, G.SYSTEM_INTEGRATION, G.ACCEPTANCE, G.AGREEMENT_SIGNED,
        G.PUBLISHED,
    )  # fmt: skip
    assert published.stage is G.PUBLISHED
    assert not Bank("B01", "某银行", published).may_issue
    full = published.advance(G.ACTIVE, date(2030, 1, 1))
    assert Bank("B01", "某银行", full).may_issue
    assert not Bank("B01", "某银行", full, BankStatus.SUSPENDED).may_issue
    assert not Bank("B01", "某银行", onboarded(G.APPROVED)).may_issue


@pytest.mark.parametrize(
    ("stages", "skip_to"),
    [((), G.ACCEPTANCE), ((G.APPROVED,), G.PUBLISHED), ((G.REJECTED,), G.APPROVED), ((), G.ACTIVE)],
)
def test_onboarding_steps_cannot_be_skipped(
    stages: tuple[OnboardingStage, ...], skip_to: OnboardingStage
) -> None:
    with pytest.raises(TransitionForbidden):
        onboarded(*stages).advance(skip_to, date(2030, 1, 1))


def test_onboarding_step_cannot_predate_the_previous() -> None:
    with pytest.raises(FieldError):
        Onboarding.apply(date(2024, 5, 1)).advance(G.APPROVED, date(2024, 4, 30))


def test_deadlines_and_who_owes_them() -> None:
    applied = Onboarding.apply(date(2024, 1, 10))
    assert applied.due() == date(2024, 1, 24)
    assert applied.overdue(date(2024, 1, 24)) is None
    assert applied.overdue(date(2024, 1, 25)) is Party.BUREAU
    reviewing = applied.advance(G.UNDER_REVIEW, date(2024, 1, 12))
    assert reviewing.due() == date(2024, 1, 24)  # still counted from the application
    approved = reviewing.advance(G.APPROVED, date(2024, 1, 20))
    assert approved.due() == date(2024, 7, 20)
    assert approved.overdue(date(2024, 7, 21)) is Party.BANK
    working = approved.advance(G.SYSTEM_INTEGRATION, date(2024, 2, 1))
    assert working.due() == date(2024, 7, 20)  # six months from approval
    integrated = working.advance(G.ACCEPTANCE, date(2024, 6, 28))  # a Friday
    assert integrated.due() == date(2024, 7, 12)
    signed = integrated.advance(G.AGREEMENT_SIGNED, date(2024, 7, 20))
    assert signed.due() is None
    assert signed.overdue(date(2030, 1, 1)) is None


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (BankStatus.ACTIVE, BankAction.SUSPEND, BankStatus.SUSPENDED),
        (BankStatus.SUSPENDED, BankAction.RESUME, BankStatus.ACTIVE),
        (BankStatus.SUSPENDED, BankAction.EXIT, BankStatus.EXITED),
        (BankStatus.ACTIVE, BankAction.RESUME, None),
        (BankStatus.EXITED, BankAction.RESUME, None),
        (BankStatus.EXITED, BankAction.EXIT, None),
    ],
)
def test_bank_status(status: BankStatus, action: BankAction, expected: BankStatus | None) -> None:
    bank = Bank("B01", "某银行", Onboarding.apply(date(2024, 1, 1)), status)
    if expected is None:
        with pytest.raises(TransitionForbidden):
            change_status(bank, action)
    else:
        assert change_status(bank, action).status is expected


def outlet(code: str, instant: bool, bank: str = "B01", **changes: object) -> Outlet:
    made = Outlet(
        code=code,
        bank_code=bank,
        name=f"{code}网点",
        district=BeijingDistrict.HAIDIAN,
        address="海淀区中关村大街1号",
        can_issue_instantly=instant,
        has_security_terminal=instant,
        psam_serial=f"PSAM{code}" if instant else None,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def outlets(instant: int, total: int) -> list[Outlet]:
    return [outlet(f"O{i:02d}", i < instant) for i in range(total)]


def test_seven_of_ten_meets_the_70_percent_rule() -> None:
    assert instant_ratio(outlets(7, 10)) == Fraction(7, 10)
    assert meets_instant_ratio(outlets(7, 10))


def test_six_of_ten_does_not() -> None:
    assert not meets_instant_ratio(outlets(6, 10))


def test_closed_outlets_do_not_count() -> None:
    mix = outlets(6, 10)  # O00-O05 instant, O06-O09 not
    after = [replace(o, state=OutletState.CLOSED) if o.code in {"O08", "O09"} else o for o in mix]
    assert instant_ratio(after) == Fraction(6, 8)
    assert meets_instant_ratio(after)


def test_no_open_outlets_means_no_compliance() -> None:
    assert instant_ratio([]) == 0
    assert not meets_instant_ratio([])


def test_ratio_is_per_bank() -> None:
    with pytest.raises(FieldError):
        instant_ratio([outlet("O1", True), outlet("O2", True, bank="B02")])


def test_instant_issue_needs_terminal_and_psam() -> None:
    with pytest.raises(FieldError):
        outlet("O1", True, psam_serial=None)
    with pytest.raises(FieldError):
        outlet("O1", True, has_security_terminal=False)


def test_filings_build_the_register() -> None:
    first = outlet("O1", False)
    moved = replace(first, address="海淀区学院路2号")
    register = apply_filings(
        [
            OutletFiling(FilingKind.CLOSE, moved, date(2024, 6, 1)),
            OutletFiling(FilingKind.ADD, first, date(2024, 1, 1)),
            OutletFiling(FilingKind.CHANGE, moved, date(2024, 3, 1)),
        ]
    )
    assert register["O1"].address == "海淀区学院路2号"
    assert register["O1"].state is OutletState.CLOSED


def test_filing_errors() -> None:
    first = outlet("O1", True)
    register = apply_filing({}, OutletFiling(FilingKind.ADD, first, date(2024, 1, 1)))
    with pytest.raises(ConflictError):
        apply_filing(register, OutletFiling(FilingKind.ADD, first, date(2024, 2, 1)))
    with pytest.raises(NotFound):
        apply_filing(
            register, OutletFiling(FilingKind.CHANGE, outlet("O9", True), date(2024, 2, 1))
        )
    with pytest.raises(ConflictError):
        apply_filing(
            register, OutletFiling(FilingKind.CHANGE, outlet("O1", True, "B02"), date(2024, 2, 1))
        )
    with pytest.raises(FieldError):
        sneaky = replace(first, state=OutletState.CLOSED)
        apply_filing(register, OutletFiling(FilingKind.CHANGE, sneaky, date(2024, 2, 1)))
    closed = apply_filing(register, OutletFiling(FilingKind.CLOSE, first, date(2024, 3, 1)))
    with pytest.raises(NotFound):
        apply_filing(closed, OutletFiling(FilingKind.CLOSE, first, date(2024, 4, 1)))


def record(year: int = 2024, **changes: int) -> ServiceRecord:
    base = ServiceRecord(
        bank_code="B01",
        year=year,
        cards_issued=12_000,
        satisfaction_percent=90,
        complaints_12345=5,
        publicity=80,
        security_rules=90,
        technical_support=85,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_good_year_passes() -> None:
    result = evaluate(record())
    # 20*100 + 25*90 + 20*90 + 10*80 + 15*90 + 10*85 = 9050 → 90.5
    assert result.total == Fraction(905, 10)
    assert result.passed
    assert not result.needs_interview


def test_a_bad_year_fails_and_needs_an_interview() -> None:
    result = evaluate(
        record(cards_issued=1_000, satisfaction_percent=50, complaints_12345=40, publicity=40)
    )
    # 20*10 + 25*50 + 20*20 + 10*40 + 15*90 + 10*85 = 4450 → 44.5
    assert result.total == Fraction(445, 10)
    assert not result.passed
    assert result.needs_interview


def test_pass_mark_edge() -> None:
    rules = EvaluationRules(pass_mark=90)
    assert evaluate(record(), rules).passed
    assert evaluate(record(technical_support=80), rules).total == 90
    assert evaluate(record(technical_support=80), rules).passed
    assert not evaluate(record(technical_support=79), rules).passed  # 89.9


def test_scores_are_capped() -> None:
    scores = dict(evaluate(record(cards_issued=10**6, complaints_12345=10**4)).scores)
    assert scores[next(iter(scores))] == 100
    assert min(scores.values()) == 0


def test_rubric_weights_must_cover_every_criterion() -> None:
    with pytest.raises(FieldError):
        EvaluationRules(weights={})


def test_record_scores_are_bounded() -> None:
    with pytest.raises(FieldError):
        record(satisfaction_percent=101)


def test_evaluation_window_is_next_first_quarter() -> None:
    assert evaluation_window(2024) == (date(2025, 1, 1), date(2025, 3, 31))


def failed(year: int) -> ServiceRecord:
    return record(year, cards_issued=0, satisfaction_percent=0, complaints_12345=50)


def test_two_consecutive_failures() -> None:
    assert failed_two_consecutive_years([evaluate(failed(2022)), evaluate(failed(2023))])
    assert not failed_two_consecutive_years(
        [evaluate(failed(2021)), evaluate(record(2022)), evaluate(failed(2023))]
    )


def bank(status: BankStatus = BankStatus.ACTIVE) -> Bank:
    return Bank("B01", "某银行", onboarded(G.APPROVED), status)


@pytest.mark.parametrize("ground", [ExitGround.BREACH, ExitGround.MAJOR_RISK])
def test_discretionary_grounds_leave_it_to_the_bureau(ground: ExitGround) -> None:
    with pytest.raises(FieldError):
        decide_exit(bank(), ground, date(2025, 4, 1))
    assert decide_exit(bank(), ground, date(2025, 4, 1), bureau_terminates=False) == bank()
    exited = decide_exit(bank(), ground, date(2025, 4, 1), bureau_terminates=True)
    assert exited.status is BankStatus.EXITED
    assert exited.exit is not None
    assert exited.exit.ground is ground


def test_two_failed_years_must_be_shown() -> None:
    history = [evaluate(failed(2023)), evaluate(failed(2024))]
    with pytest.raises(ConflictError):
        decide_exit(
            bank(), ExitGround.TWO_FAILED_YEARS, date(2025, 4, 1), bureau_terminates=True,
            evaluations=history[:1],
        )  # fmt: skip
    exited = decide_exit(
        bank(), ExitGround.TWO_FAILED_YEARS, date(2025, 4, 1), bureau_terminates=True,
        evaluations=history,
    )  # fmt: skip
    assert exited.status is BankStatus.EXITED


@pytest.mark.parametrize("ground", [ExitGround.MUTUAL_TERMINATION, ExitGround.NON_RENEWAL])
def test_agreed_endings_always_exit(ground: ExitGround) -> None:
    exited = decide_exit(bank(BankStatus.SUSPENDED), ground, date(2025, 4, 1))
    assert exited.status is BankStatus.EXITED
    with pytest.raises(TransitionForbidden):
        decide_exit(exited, ground, date(2025, 5, 1))
