"""Cooperative banks and their outlets: onboarding, filings, the 70% rule, evaluation, exit.

* Onboarding (第六条) is a sequence of dated steps: applied → under review →
  approved (the bureau answers within 10 working days of the application) →
  system integration (finished within 6 months of approval) → acceptance (the
  bureau runs it within 10 working days of completion) → agreement signed →
  published → active (the bank issues cards); an active bank may be suspended
  and resumed, and exits under 第十条. :data:`STEP_DEADLINES` holds each
  deadline and who owes it; :meth:`Onboarding.due` and
  :meth:`Onboarding.overdue` answer from it. Working days are China's, from
  ``chinese-calendar``: public holidays are skipped and the weekend days made
  working days (调休) count; a date outside the years the library knows raises
  :class:`CalendarUnknown` rather than guess.
* Outlets change only through filings (第七条 备案): an outlet added, changed
  or closed is an :class:`OutletFiling` with a date, folded into the register
  by :func:`apply_filing`. An outlet that issues cards on the spot needs a
  security terminal and a PSAM card (第五条(六)).
* The 70% rule (第五条(四)): instant-issue outlets make up at least 70% of the
  bank's open outlets in Beijing, computed exactly with fractions.
* Yearly evaluation (第九条): six criteria, each scored 0-100 and weighted;
  the weights, the card target, the complaint penalty and the pass mark are
  assumptions kept together in :class:`EvaluationRules`. A failed bank is
  called to an interview.
* Exit (第十条): breach, two consecutive failed years or a major risk let the
  bureau decide whether to terminate; mutual agreement or non-renewal ends the
  agreement. :data:`EXIT_GROUNDS` is that table.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

import chinese_calendar

from issuance.domain.identity import BeijingDistrict
from sscard_core.errors import (
    ConflictError,
    FieldError,
    InputError,
    NotFound,
    TransitionForbidden,
)

# --- working days ------------------------------------------------------------------------


class CalendarUnknown(InputError):
    """A date in a year whose holidays ``chinese-calendar`` does not know."""

    code = "calendar_unknown"


def is_working_day(day: date) -> bool:
    """A working day in China: not a public holiday, and either a weekday or a 调休 day."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise CalendarUnknown(
            f"the working days of {day.year} are not known: {exc}", day=day.isoformat()
        ) from exc


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted);
    with ``days`` 0, ``start`` itself."""
    if days < 0:
        raise FieldError("days", "must not be negative")
    day = start
    while days:
        day += timedelta(days=1)
        days -= int(is_working_day(day))
    return day


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Aug + 6 → 28/29 Feb)."""
    index = start.year * 12 + start.month - 1 + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


# --- onboarding (第六条) --------------------------------------------------------------------


class OnboardingStage(StrEnum):
    """A bank's place in its life as a cooperating bank, from application to exit."""

    APPLIED = "applied"  # 第六条(一): the written application is received
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"  # the bureau's answer, within 10 working days
    REJECTED = "rejected"
    SYSTEM_INTEGRATION = "system_integration"  # 第六条(二): within 6 months of approval
    ACCEPTANCE = "acceptance"  # 第六条(三): integration done; acceptance within 10 working days
    AGREEMENT_SIGNED = "agreement_signed"
    PUBLISHED = "published"  # 第六条(四): on the public list of cooperating banks
    ACTIVE = "active"  # issuing cards
    SUSPENDED = "suspended"
    EXITED = "exited"  # 第十条


BankStage = OnboardingStage


class Party(StrEnum):
    BUREAU = "bureau"
    BANK = "bank"


@dataclass(frozen=True)
class Deadline:
    """``months`` then ``working_days`` after the step of stage ``counts_from``, owed by
    one side."""

    owed_by: Party
    working_days: int = 0
    months: int = 0
    counts_from: OnboardingStage | None = None  # None: the stage's own step
    clause: str = ""

    def due(self, since: date) -> date:
        return add_working_days(add_months(since, self.months), self.working_days)


G = OnboardingStage
NEXT_STAGES: dict[OnboardingStage, frozenset[OnboardingStage]] = {
    G.APPLIED: frozenset({G.UNDER_REVIEW, G.APPROVED, G.REJECTED}),
    G.UNDER_REVIEW: frozenset({G.APPROVED, G.REJECTED}),
    G.APPROVED: frozenset({G.SYSTEM_INTEGRATION}),
    G.SYSTEM_INTEGRATION: frozenset({G.ACCEPTANCE}),
    G.ACCEPTANCE: frozenset({G.AGREEMENT_SIGNED, G.SYSTEM_INTEGRATION}),  # failed: back to work
    G.AGREEMENT_SIGNED: frozenset({G.PUBLISHED}),
    G.PUBLISHED: frozenset({G.ACTIVE, G.EXITED}),
    G.ACTIVE: frozenset({G.SUSPENDED, G.EXITED}),
    G.SUSPENDED: frozenset({G.ACTIVE, G.EXITED}),
}
ANSWER = Deadline(Party.BUREAU, working_days=10, counts_from=G.APPLIED, clause="第六条(一)")
INTEGRATION = Deadline(Party.BANK, months=6, counts_from=G.APPROVED, clause="第六条(二)")
ACCEPTANCE = Deadline(Party.BUREAU, working_days=10, counts_from=G.ACCEPTANCE, clause="第六条(三)")
STEP_DEADLINES: dict[OnboardingStage, Deadline] = {
    G.APPLIED: ANSWER,
    G.UNDER_REVIEW: ANSWER,
    G.APPROVED: INTEGRATION,
    G.SYSTEM_INTEGRATION: INTEGRATION,
    G.ACCEPTANCE: ACCEPTANCE,
}
ORDERING_STAGES = frozenset({G.ACTIVE})  # only an active bank's operators order cards
PUBLIC_STAGES = frozenset({G.PUBLISHED, G.ACTIVE})  # on the public list (第六条(四))


def check_advance(current: OnboardingStage, stage: OnboardingStage) -> None:
    """TransitionForbidden unless ``stage`` may follow ``current``."""
    if stage not in NEXT_STAGES.get(current, frozenset()):
        raise TransitionForbidden(
            stage.value, current.value, f"a bank that is {current} cannot become {stage}"
        )


@dataclass(frozen=True)
class OnboardingStep:
    stage: OnboardingStage
    on: date


@dataclass(frozen=True)
class Onboarding:
    """The dated steps a bank has taken, oldest first."""

    steps: tuple[OnboardingStep, ...]

    @classmethod
    def apply(cls, on: date) -> Onboarding:
        return cls((OnboardingStep(OnboardingStage.APPLIED, on),))

    @property
    def stage(self) -> OnboardingStage:
        return self.steps[-1].stage

    def advance(self, stage: OnboardingStage, on: date) -> Onboarding:
        """The onboarding with one more step; TransitionForbidden if out of order."""
        check_advance(self.stage, stage)
        if on < self.steps[-1].on:
            raise FieldError("on", f"{on} is before the previous step ({self.steps[-1].on})")
        return Onboarding((*self.steps, OnboardingStep(stage, on)))

    def deadline(self) -> Deadline | None:
        return STEP_DEADLINES.get(self.stage)

    def due(self) -> date | None:
        """When the next step is due, or None if no deadline applies."""
        deadline = self.deadline()
        if deadline is None:
            return None
        counts_from = deadline.counts_from or self.stage
        since = next(s.on for s in reversed(self.steps) if s.stage is counts_from)
        return deadline.due(since)

    def overdue(self, today: date) -> Party | None:
        """Who has missed the current deadline as of ``today``, if anyone."""
        due = self.due()
        if due is None or today <= due:
            return None
        return STEP_DEADLINES[self.stage].owed_by


# --- banks -----------------------------------------------------------------------------


class BankStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXITED = "exited"


class BankAction(StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    EXIT = "exit"


BANK_TRANSITIONS: dict[tuple[BankStatus, BankAction], BankStatus] = {
    (BankStatus.ACTIVE, BankAction.SUSPEND): BankStatus.SUSPENDED,
    (BankStatus.SUSPENDED, BankAction.RESUME): BankStatus.ACTIVE,
    (BankStatus.ACTIVE, BankAction.EXIT): BankStatus.EXITED,
    (BankStatus.SUSPENDED, BankAction.EXIT): BankStatus.EXITED,
}


class ExitGround(StrEnum):
    BREACH = "breach"  # 第十条第一款(一)
    TWO_FAILED_YEARS = "two_failed_years"  # 第十条第一款(二)
    MAJOR_RISK = "major_risk"  # 第十条第一款(三)
    MUTUAL_TERMINATION = "mutual_termination"  # 第十条第二款(一)
    NON_RENEWAL = "non_renewal"  # 第十条第二款(二)


@dataclass(frozen=True)
class Exit:
    ground: ExitGround
    on: date


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    onboarding: Onboarding
    status: BankStatus = BankStatus.ACTIVE
    exit: Exit | None = None

    @property
    def may_issue(self) -> bool:
        """Active (published, 第六条(四), then started) and neither suspended nor exited."""
        return self.onboarding.stage is OnboardingStage.ACTIVE and (
            self.status is BankStatus.ACTIVE
        )


def change_status(bank: Bank, action: BankAction) -> Bank:
    """The bank after suspend/resume/exit; TransitionForbidden when not allowed."""
    try:
        status = BANK_TRANSITIONS[bank.status, action]
    except KeyError:
        raise TransitionForbidden(action.value, bank.status.value) from None
    return replace(bank, status=status)


# --- outlets and filings (第七条) ------------------------------------------------------------


class OutletState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Outlet:
    code: str
    bank_code: str
    name: str
    district: BeijingDistrict
    address: str
    can_issue_instantly: bool
    has_security_terminal: bool
    psam_serial: str | None
    state: OutletState = OutletState.OPEN

    def __post_init__(self) -> None:
        if self.can_issue_instantly and not (self.has_security_terminal and self.psam_serial):
            raise FieldError(
                "can_issue_instantly",
                "instant issuance needs a security terminal and a PSAM card",
                code="instant_issue_equipment",
            )

    @property
    def is_open(self) -> bool:
        return self.state is OutletState.OPEN


class FilingKind(StrEnum):
    ADD = "add"
    CHANGE = "change"
    CLOSE = "close"


@dataclass(frozen=True)
class OutletFiling:
    """A 服务网点调整备案: the outlet as filed, what changed, and when."""

    kind: FilingKind
    outlet: Outlet
    filed_on: date


def apply_filing(register: Mapping[str, Outlet], filing: OutletFiling) -> dict[str, Outlet]:
    """The outlet register (code → outlet) after one filing."""
    code = filing.outlet.code
    current = register.get(code)
    if filing.kind is FilingKind.ADD:
        if current is not None:
            raise ConflictError(f"outlet {code} is already filed", code="outlet_exists")
        result = filing.outlet
    else:
        if current is None or not current.is_open:
            raise NotFound(f"no open outlet {code}")
        if current.bank_code != filing.outlet.bank_code:
            raise ConflictError(f"outlet {code} belongs to another bank", code="outlet_bank")
        result = _closed(filing.outlet) if filing.kind is FilingKind.CLOSE else filing.outlet
    if filing.kind is not FilingKind.CLOSE and not result.is_open:
        raise FieldError("state", "only a closing filing closes an outlet")
    return {**register, code: result}


def _closed(outlet: Outlet) -> Outlet:
    return replace(outlet, state=OutletState.CLOSED, can_issue_instantly=False)


def apply_filings(filings: Iterable[OutletFiling]) -> dict[str, Outlet]:
    """The register built from filings, taken in date order (stable for equal dates)."""
    register: dict[str, Outlet] = {}
    for filing in sorted(filings, key=lambda f: f.filed_on):
        register = apply_filing(register, filing)
    return register


# --- the 70% rule (第五条(四)) ----------------------------------------------------------------

INSTANT_RATIO = Fraction(7, 10)


def instant_ratio(outlets: Iterable[Outlet]) -> Fraction:
    """Share of one bank's open outlets that issue instantly (0 with no open outlets)."""
    open_outlets = [o for o in outlets if o.is_open]
    if len({o.bank_code for o in open_outlets}) > 1:
        raise FieldError("outlets", "outlets of more than one bank", code="mixed_banks")
    if not open_outlets:
        return Fraction(0)
    return Fraction(sum(o.can_issue_instantly for o in open_outlets), len(open_outlets))


def meets_instant_ratio(outlets: Iterable[Outlet]) -> bool:
    """At least 70% of the bank's open outlets issue cards on the spot."""
    return instant_ratio(outlets) >= INSTANT_RATIO


# --- yearly evaluation (第九条) ---------------------------------------------------------------


class Criterion(StrEnum):
    CARDS_ISSUED = "cards_issued"  # 发卡量
    SATISFACTION = "satisfaction"  # 服务满意度
    COMPLAINTS = "complaints_12345"  # 12345 投诉数量
    PUBLICITY = "publicity"  # 服务宣传
    SECURITY_RULES = "security_rules"  # 安全管理制度制定
    TECHNICAL_SUPPORT = "technical_support"  # 技术保障情况


@dataclass(frozen=True)
class ServiceRecord:
    """A bank's year as the bureau sees it; the last three are the bureau's scores (0-100)."""

    bank_code: str
    year: int
    cards_issued: int
    satisfaction_percent: int
    complaints_12345: int
    publicity: int
    security_rules: int
    technical_support: int

    def __post_init__(self) -> None:
        counts = (self.cards_issued, self.complaints_12345)
        scores = (self.satisfaction_percent, self.publicity, self.security_rules,
                  self.technical_support)  # fmt: skip
        if min(counts) < 0 or not all(0 <= s <= 100 for s in scores):
            raise FieldError("record", "counts must be >= 0 and scores within 0-100")


DEFAULT_WEIGHTS: Mapping[Criterion, int] = MappingProxyType(
    {
        Criterion.CARDS_ISSUED: 20,
        Criterion.SATISFACTION: 25,
        Criterion.COMPLAINTS: 20,
        Criterion.PUBLICITY: 10,
        Criterion.SECURITY_RULES: 15,
        Criterion.TECHNICAL_SUPPORT: 10,
    }
)


@dataclass(frozen=True)
class EvaluationRules:
    """The scoring rubric (assumed: the bureau's own rubric is not published)."""

    weights: Mapping[Criterion, int] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    card_target: int = 10_000  # cards a year that score full marks
    points_per_complaint: int = 2
    pass_mark: int = 60

    def __post_init__(self) -> None:
        if set(self.weights) != set(Criterion) or sum(self.weights.values()) != 100:
            raise FieldError("weights", "every criterion needs a weight; weights sum to 100")
        if self.card_target <= 0:
            raise FieldError("card_target", "must be positive")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    def __hash__(self) -> int:
        weights = frozenset(self.weights.items())
        return hash((weights, self.card_target, self.points_per_complaint, self.pass_mark))


def _score(criterion: Criterion, record: ServiceRecord, rules: EvaluationRules) -> int:
    raw = {
        Criterion.CARDS_ISSUED: record.cards_issued * 100 // rules.card_target,
        Criterion.SATISFACTION: record.satisfaction_percent,
        Criterion.COMPLAINTS: 100 - record.complaints_12345 * rules.points_per_complaint,
        Criterion.PUBLICITY: record.publicity,
        Criterion.SECURITY_RULES: record.security_rules,
        Criterion.TECHNICAL_SUPPORT: record.technical_support,
    }[criterion]
    return max(0, min(100, raw))


@dataclass(frozen=True)
class Evaluation:
    bank_code: str
    year: int
    scores: tuple[tuple[Criterion, int], ...]
    total: Fraction  # weighted, 0-100
    passed: bool

    @property
    def needs_interview(self) -> bool:
        """A failed bank is called to an interview (约谈)."""
        return not self.passed


def evaluate(record: ServiceRecord, rules: EvaluationRules | None = None) -> Evaluation:
    """Score a bank's year against the rubric."""
    rubric = rules or EvaluationRules()
    scores = tuple((c, _score(c, record, rubric)) for c in Criterion)
    total = Fraction(sum(rubric.weights[c] * s for c, s in scores), 100)
    return Evaluation(record.bank_code, record.year, scores, total, total >= rubric.pass_mark)


def evaluation_window(year: int) -> tuple[date, date]:
    """The first quarter of the next year, when ``year`` is evaluated."""
    return date(year + 1, 1, 1), date(year + 1, 3, 31)


def failed_two_consecutive_years(evaluations: Iterable[Evaluation]) -> bool:
    """True if two evaluations of consecutive years both failed."""
    failed = {e.year for e in evaluations if not e.passed}
    return any(year + 1 in failed for year in failed)


# --- exit (第十条) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GroundSpec:
    clause: str
    discretionary: bool  # the bureau decides whether to terminate


EXIT_GROUNDS: dict[ExitGround, GroundSpec] = {
    ExitGround.BREACH: GroundSpec("第十条第一款(一)", True),
    ExitGround.TWO_FAILED_YEARS: GroundSpec("第十条第一款(二)", True),
    ExitGround.MAJOR_RISK: GroundSpec("第十条第一款(三)", True),
    ExitGround.MUTUAL_TERMINATION: GroundSpec("第十条第二款(一)", False),
    ExitGround.NON_RENEWAL: GroundSpec("第十条第二款(二)", False),
}


def decide_exit(
    bank: Bank,
    ground: ExitGround,
    on: date,
    *,
    bureau_terminates: bool | None = None,
    evaluations: Iterable[Evaluation] = (),
) -> Bank:
    """The bank after an exit ground is raised.

    For a discretionary ground the bureau's decision is required and the bank
    stays as it is when the bureau does not terminate; mutual termination and
    non-renewal always end the agreement. Two failed years must be shown by
    the bank's evaluations.
    """
    spec = EXIT_GROUNDS[ground]
    if spec.discretionary and bureau_terminates is None:
        raise FieldError("bureau_terminates", f"{spec.clause} leaves termination to the bureau")
    if ground is ExitGround.TWO_FAILED_YEARS and not failed_two_consecutive_years(
        [e for e in evaluations if e.bank_code == bank.code]
    ):
        raise ConflictError(f"{spec.clause} is not met", code="exit_ground_not_met")
    if spec.discretionary and not bureau_terminates:
        return bank
    exited = change_status(bank, BankAction.EXIT)
    return replace(exited, exit=Exit(ground, on))
