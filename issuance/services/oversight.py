"""The bureau's decisions on banks: lifecycle steps, the conditions of 第四条, deadlines
(第六条), termination (第十条), the ordering gate, the public list and the decision trail.

Every step is a decision of a bureau administrator, recorded with its date and the
documents it refers to, and written to the oversight log. Deadlines are computed from
the decisions with China's working days (:mod:`issuance.domain.banks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from issuance.domain.banks import (
    EXIT_GROUNDS,
    ORDERING_STAGES,
    PUBLIC_STAGES,
    Bank,
    BankStage,
    BankStatus,
    CalendarUnknown,
    Evaluation,
    ExitGround,
    Onboarding,
    OnboardingStep,
    check_advance,
    decide_exit,
)
from issuance.domain.roles import Operation
from issuance.services.admin import BANK_CODE, today
from issuance.services.common import check
from issuance.store import Operator, OutletRecord, Store
from issuance.store.oversight import BankRow, DecisionRow, OversightStore
from sscard_core.card_data import BEIJING_REGION
from sscard_core.errors import ConflictError, FieldError, NotFound

MAX_DOCUMENTS = 50
STAGE_CLAUSE = {
    BankStage.APPLIED: "第六条(一)", BankStage.UNDER_REVIEW: "第六条(一)",
    BankStage.APPROVED: "第六条(二)", BankStage.REJECTED: "第六条(一)",
    BankStage.SYSTEM_INTEGRATION: "第六条(二)", BankStage.ACCEPTANCE: "第六条(三)",
    BankStage.AGREEMENT_SIGNED: "第六条(三)", BankStage.PUBLISHED: "第六条(四)",
    BankStage.ACTIVE: "第六条(四)", BankStage.SUSPENDED: "第九条", BankStage.EXITED: "第十条",
}  # fmt: skip


class BankMayNotOrder(ConflictError):
    """An order (application, replacement, reissue, batch...) for a bank that is not active."""

    code = "bank_not_active"


def oversight(store: Store) -> OversightStore:
    """The bureau's repository on the store's pool or (transaction's) connection."""
    return OversightStore(store.executor)


async def log(
    o: OversightStore, op: Operator | None, bank: str | None, action: str, subject: str,
    **details: object,
) -> None:  # fmt: skip
    await o.log(None if op is None else op.id, bank, action, subject, dict(details))


def _documents(documents: Sequence[str]) -> tuple[str, ...]:
    docs = tuple(d.strip() for d in documents)
    if len(docs) > MAX_DOCUMENTS or any(not 0 < len(d) <= 200 for d in docs):
        raise FieldError("documents", f"at most {MAX_DOCUMENTS} references of 1-200 characters")
    return docs


# --- the ordering gate ------------------------------------------------------------------------


async def ensure_may_order(tx: Store, bank: str, outlet: OutletRecord | str | None) -> None:
    """Refuse any order for a bank that is not active, or at an activation-only outlet.

    An outlet record read in the same transaction with its bank's stage answers without
    another statement."""
    if isinstance(outlet, OutletRecord) and outlet.bank == bank and outlet.bank_stage is not None:
        gate: tuple[str, bool] | None = (outlet.bank_stage, outlet.activation_only)
    else:
        code = outlet.code if isinstance(outlet, OutletRecord) else outlet
        gate = await oversight(tx).order_gate(bank, code)
    if gate is None:
        raise NotFound(f"no bank {bank}", resource="bank")
    stage, activation_only = BankStage(gate[0]), gate[1]
    if stage not in ORDERING_STAGES:
        clause = STAGE_CLAUSE[stage]
        raise BankMayNotOrder(
            f"bank {bank} is {stage.value}: only an active cooperating bank orders cards "
            f"({clause})", bank=bank, stage=stage.value, clause=clause,
        )  # fmt: skip
    if activation_only:
        raise ConflictError(
            "this outlet only activates cards (第四条(二)) and takes no orders",
            code="activation_only_outlet", clause="第四条(二)",
        )  # fmt: skip


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineView:
    stage: str
    clause: str
    owed_by: str
    due: date | None
    overdue: bool
    error: str | None = None


@dataclass(frozen=True)
class BankView:
    bank: BankRow
    decisions: tuple[DecisionRow, ...] = ()
    deadline: DeadlineView | None = None
    conditions_met: bool = False


def conditions_met(bank: BankRow) -> bool:
    """第四条: the PBOC conformity review (with its reference) and nationwide remote activation."""
    return bool(bank.pboc_review_ref) and bank.remote_activation_committed


def onboarding_of(decisions: Sequence[DecisionRow]) -> Onboarding | None:
    steps = tuple(OnboardingStep(BankStage(d.to_stage), d.decided_on) for d in decisions)
    return Onboarding(steps) if steps else None


def deadline_of(bank: BankRow, decisions: Sequence[DecisionRow], on: date) -> DeadlineView | None:
    onboarding = onboarding_of(decisions)
    if onboarding is None or onboarding.stage.value != bank.stage:
        return None
    spec = onboarding.deadline()
    if spec is None:
        return None
    counts_from = spec.counts_from or onboarding.stage
    if all(s.stage is not counts_from for s in onboarding.steps):
        return None
    try:
        due = onboarding.due()
    except CalendarUnknown as exc:
        return DeadlineView(bank.stage, spec.clause, spec.owed_by.value, None, False, exc.message)
    return DeadlineView(
        bank.stage, spec.clause, spec.owed_by.value, due, due is not None and on > due
    )


async def _view(o: OversightStore, bank: BankRow, on: date) -> BankView:
    decisions = tuple(await o.decisions(bank.code))
    return BankView(bank, decisions, deadline_of(bank, decisions, on), conditions_met(bank))


async def _bank(o: OversightStore, code: str, *, lock: bool = False) -> BankRow:
    bank = await o.bank(code, lock=lock)
    if bank is None:
        raise NotFound(f"no bank {code}", resource="bank")
    return bank


async def bank_view(store: Store, op: Operator, code: str, on: date | None = None) -> BankView:
    check(op, Operation.READ_OVERSIGHT, code)
    async with store.connected() as s:
        o = oversight(s)
        return await _view(o, await _bank(o, code), on or today())


async def list_banks(store: Store, op: Operator, on: date | None = None) -> list[BankView]:
    """Every bank for the bureau; a bank's own for its administrators."""
    check(op, Operation.READ_OVERSIGHT, None)
    async with store.connected() as s:
        o = oversight(s)
        banks = [b for b in await o.banks() if op.bank is None or b.code == op.bank]
        return [await _view(o, b, on or today()) for b in banks]


@dataclass(frozen=True)
class OverdueStep:
    bank: str
    name: str
    deadline: DeadlineView


async def overdue(store: Store, op: Operator, on: date | None = None) -> list[OverdueStep]:
    """第六条 steps past their deadline as of ``on``, for both sides."""
    views = await list_banks(store, op, on)
    return [
        OverdueStep(v.bank.code, v.bank.name, v.deadline)
        for v in views
        if v.deadline is not None and v.deadline.overdue
    ]


# --- decisions --------------------------------------------------------------------------------


async def operator_named(store: Store, name: str) -> Operator:
    """The operator called ``name`` (the CLI's ``--by``)."""
    found = await oversight(store).operator_named(name)
    if found is None:
        raise FieldError("by", f"no operator {name}", code="unknown_operator")
    return found


@dataclass(frozen=True)
class NewBank:
    code: str
    name: str
    applied_on: date
    documents: tuple[str, ...] = ()
    note: str = ""


async def register_application(store: Store, op: Operator, new: NewBank) -> BankView:
    """第六条(一): a bank's written application, recorded by a bureau administrator."""
    check(op, Operation.MANAGE_BANKS, None)
    if not BANK_CODE.fullmatch(new.code):
        raise FieldError("code", "must be 2 to 6 upper-case letters or digits")
    if not 0 < len(new.name.strip()) <= 100:
        raise FieldError("name", "must be 1 to 100 characters")
    docs = _documents(new.documents)
    async with store.transaction() as tx:
        o = oversight(tx)
        await tx.insert_bank(
            new.code, new.name.strip(), BEIJING_REGION, stage=BankStage.APPLIED.value,
            existing=False,
        )  # fmt: skip
        await o.insert_decision(
            new.code, None, BankStage.APPLIED.value, decided_on=new.applied_on,
            decided_by=op.id, documents=docs, note=new.note,
        )  # fmt: skip
        await log(o, op, new.code, "bank_applied", new.code, documents=list(docs))
        return await _view(o, await _bank(o, new.code), today())


@dataclass(frozen=True)
class Conditions:
    pboc_review_ref: str
    pboc_reviewed_on: date
    remote_activation_committed: bool
    documents: tuple[str, ...] = ()


async def record_conditions(store: Store, op: Operator, code: str, c: Conditions) -> BankView:
    """第四条: the conditions, recorded before the application may be approved."""
    check(op, Operation.MANAGE_BANKS, code)
    if not 0 < len(c.pboc_review_ref.strip()) <= 200:
        raise FieldError("pboc_review_ref", "the PBOC review's reference, 1-200 characters")
    docs = _documents(c.documents)
    async with store.transaction() as tx:
        o = oversight(tx)
        bank = await _bank(o, code, lock=True)
        if BankStage(bank.stage) not in (BankStage.APPLIED, BankStage.UNDER_REVIEW):
            raise ConflictError(
                f"the conditions are recorded while the application is reviewed; bank is "
                f"{bank.stage}", code="not_under_review", clause="第四条",
            )  # fmt: skip
        ref = c.pboc_review_ref.strip()
        await o.set_conditions(code, ref, c.pboc_reviewed_on, c.remote_activation_committed)
        await log(
            o, op, code, "conditions_recorded", code, pboc_review_ref=ref,
            pboc_reviewed_on=c.pboc_reviewed_on, remote_activation=c.remote_activation_committed,
            documents=list(docs),
        )  # fmt: skip
        return await _view(o, await _bank(o, code), today())


@dataclass(frozen=True)
class Decision:
    stage: BankStage
    decided_on: date
    documents: tuple[str, ...] = ()
    note: str = ""


async def decide(store: Store, op: Operator, code: str, d: Decision) -> BankView:
    """Move the bank one step (TransitionForbidden out of order; approval needs 第四条)."""
    check(op, Operation.MANAGE_BANKS, code)
    if d.stage is BankStage.EXITED:
        raise FieldError("stage", "an exit is a termination: it needs its ground", code="use_exit")
    docs = _documents(d.documents)
    async with store.transaction() as tx:
        o = oversight(tx)
        bank = await _bank(o, code, lock=True)
        current = BankStage(bank.stage)
        check_advance(current, d.stage)
        if d.stage is BankStage.APPROVED and not conditions_met(bank):
            raise ConflictError(
                "the conditions of 第四条 (PBOC conformity review with its reference; "
                "nationwide remote activation) are not recorded", code="conditions_missing",
                clause="第四条",
            )  # fmt: skip
        await _record(o, op, bank, d.stage, on=d.decided_on, docs=docs, note=d.note)
        return await _view(o, await _bank(o, code), today())


async def _record(
    o: OversightStore, op: Operator | None, bank: BankRow, stage: BankStage, *, on: date,
    docs: Sequence[str], note: str, ground: str | None = None,
) -> None:  # fmt: skip
    previous = await o.decisions(bank.code)
    if previous and on < previous[-1].decided_on:
        raise FieldError("decided_on", f"{on} is before the previous decision "
                         f"({previous[-1].decided_on})")  # fmt: skip
    await o.insert_decision(
        bank.code, bank.stage, stage.value, decided_on=on, decided_by=None if op is None else op.id,
        documents=docs, note=note, ground=ground,
    )  # fmt: skip
    await o.set_stage(bank.code, stage.value, ground)
    await log(o, op, bank.code, f"bank_{stage.value}", bank.code, from_stage=bank.stage,
              decided_on=on, documents=list(docs), ground=ground, note=note)  # fmt: skip


@dataclass(frozen=True)
class Termination:
    ground: ExitGround
    decided_on: date
    documents: tuple[str, ...] = ()
    note: str = ""


async def terminate(
    store: Store, op: Operator, code: str, t: Termination, evaluations: Sequence[Evaluation]
) -> BankView:
    """第十条: the bureau terminates (first list) or the agreement ends (second list)."""
    check(op, Operation.MANAGE_BANKS, code)
    docs = _documents(t.documents)
    if not docs:
        raise FieldError("documents", "a termination refers to at least one document")
    async with store.transaction() as tx:
        o = oversight(tx)
        bank = await _bank(o, code, lock=True)
        stage = BankStage(bank.stage)
        check_advance(stage, BankStage.EXITED)
        status = BankStatus.SUSPENDED if stage is BankStage.SUSPENDED else BankStatus.ACTIVE
        steps = (OnboardingStep(BankStage.ACTIVE, t.decided_on),)
        domain = Bank(code, bank.name, Onboarding(steps), status)
        decide_exit(domain, t.ground, t.decided_on, bureau_terminates=True,
                    evaluations=evaluations)  # fmt: skip
        note = f"{EXIT_GROUNDS[t.ground].clause} {t.note}".strip()
        await _record(
            o,
            op,
            bank,
            BankStage.EXITED,
            on=t.decided_on,
            docs=docs,
            note=note,
            ground=t.ground.value,
        )
        return await _view(o, await _bank(o, code), today())


# --- public list --------------------------------------------------------------------------------

LISTED = tuple(sorted(PUBLIC_STAGES))


@dataclass(frozen=True)
class PublicBank:
    code: str
    name: str
    stage: str
    outlets: list[dict[str, object]] = field(default_factory=list)


async def public_list(store: Store) -> list[PublicBank]:
    """第六条(四), 第七条: the published cooperating banks and their open outlets (no login)."""
    assert set(LISTED) <= PUBLIC_STAGES
    async with store.connected() as s:
        o = oversight(s)
        banks = {
            b.code: PublicBank(b.code, b.name, b.stage)
            for b in await o.banks()
            if BankStage(b.stage) in LISTED
        }
        for row in await o.public_outlets([s.value for s in LISTED]):
            banks[row.pop("bank")].outlets.append(row)
    return list(banks.values())
