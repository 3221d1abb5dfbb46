"""The card's own counter services: 申领, 换卡, 补卡, 挂失, 解挂, 注销, 启用, 领卡, 应用状态查询.

Each function runs in one transaction (a savepoint when the caller already
opened one), checks role and scope, applies the lifecycle table, and writes an
audit row naming the holder. State errors are the lifecycle's
TransitionForbidden (409 with ``current_state``).

An application (申领) for a person already known at the operator's bank
updates the holder record and supersedes the old card; a person whose record
belongs to another bank must change bank instead (409 ``holder_at_other_bank``:
the person is at the counter with their ID, so this reveals nothing the
counter does not already hold, and the other bank's records stay unreadable).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cardqueue import Queue
from issuance.domain import lifecycle
from issuance.domain.cards import Action, CardStatus, ReplaceReason
from issuance.domain.counter_services import JobProgress, progress_of
from issuance.domain.numbers import validate_card_number
from issuance.domain.roles import Operation
from issuance.services.common import (
    AuditAction,
    Purpose,
    audit,
    audited_transition,
    bank_scope,
    check,
    counter_outlet,
    missing_card,
    scoped_card,
    transition,
)
from issuance.services.dispatch import may_exist
from issuance.services.ordering import (
    HolderInput,
    Order,
    holder_record,
    order_card,
    placement,
    validated_holder,
    validated_photo,
)
from issuance.store import (
    AuditEntry,
    CardJobRead,
    CardRecord,
    EventRecord,
    HolderRecord,
    Operator,
    Store,
)
from printers.documents.receipt import Receipt
from sscard_core.errors import ConflictError, FieldError
from sscard_core.messages import JobState, JobStep


@dataclass(frozen=True)
class Application:
    holder: HolderInput
    photo: bytes
    wait: bool = False


@dataclass(frozen=True)
class CardStatusView:
    """应用状态查询: the card's state and, while it is made, the job's progress."""

    card: CardRecord
    progress: JobProgress | None
    job_state: JobState | None


class LossKind(StrEnum):
    """挂失: temporary (临时) or formal (正式)."""

    TEMPORARY = "temporary"
    FORMAL = "formal"


LOSS_ACTIONS: dict[LossKind, Action] = {
    LossKind.TEMPORARY: Action.REPORT_LOSS_TEMPORARY,
    LossKind.FORMAL: Action.REPORT_LOSS_FORMAL,
}


REPLACE_REASONS = frozenset({ReplaceReason.DAMAGED, ReplaceReason.EXPIRED})

# A device step while the job runs → what the holder is told.
STEP_PROGRESS: dict[JobStep, JobProgress] = {
    JobStep.IDLE: JobProgress.PRINTING,
    JobStep.FED: JobProgress.PRINTING,
    JobStep.PRINTING: JobProgress.PRINTING,
    JobStep.ENCODING: JobProgress.ENCODING,
    JobStep.EJECTING: JobProgress.PRINTING,
}
# A job state that decides the progress by itself.
STATE_PROGRESS: dict[JobState, JobProgress] = {
    JobState.QUEUED: JobProgress.QUEUED,
    JobState.DEAD: JobProgress.FAILED,
}


@dataclass(frozen=True)
class Applicant:
    """An applicant's holder record as stored for an order, with the photo just stored."""

    holder: HolderRecord
    new: bool  # inserted by this transaction (so no card is theirs yet)
    photo: int


async def holder_for_application(
    tx: Store, op: Operator, data: HolderInput, photo: bytes, media_type: str
) -> Applicant:
    """The applicant's holder record, inserted (with the photo, in one statement) or brought up
    to date, and their photo stored."""
    existing = await tx.holder_by_citizen_id(data.citizen_id)
    bank = op.bank or ""
    if existing is None:
        holder, photo_id = await tx.insert_holder_with_photo(
            holder_record(data, bank), photo, media_type
        )
        return Applicant(holder, True, photo_id)
    if existing.bank != bank:
        raise ConflictError(
            "this person's card is with another bank: use a bank change",
            code="holder_at_other_bank",
        )
    holder = await tx.update_holder(holder_record(data, bank, existing.id))
    return Applicant(holder, False, await tx.insert_photo(photo, media_type))


async def apply(
    store: Store, queue: Queue, op: Operator, app: Application, request_key: str | None = None
) -> CardRecord:
    """申领: holder record, photo, a card in production and its job."""
    check(op, Operation.APPLY, op.bank)
    data = validated_holder(app.holder)
    media_type = validated_photo(app.photo)
    async with store.transaction() as tx:
        outlet = await counter_outlet(tx, op)
        a = await holder_for_application(tx, op, data, app.photo, media_type)
        order = Order(
            a.holder, a.photo, outlet, placement(outlet, app.wait), request_key, new_holder=a.new,
            audit=AuditEntry(op, Purpose.APPLY.value, AuditAction.CHANGE.value),
        )  # fmt: skip
        return await order_card(tx, queue, op, order)


async def _reorder(
    store: Store, queue: Queue, op: Operator, number: str, spec: _Reorder
) -> CardRecord:
    async with store.transaction() as tx:
        old = await scoped_card(tx, op, spec.operation, number)
        if old.job_id is not None:
            await may_exist(tx, old.job_id)
        outlet = await counter_outlet(tx, op)
        holder = await tx.holder(old.holder)
        photo = old.photo
        if spec.photo is not None:
            photo = await tx.insert_photo(spec.photo, validated_photo(spec.photo))
        order = Order(
            holder, photo, outlet, placement(outlet, spec.wait), spec.request_key,
            subject=old, action=spec.action, reason=spec.reason,
            audit=AuditEntry(op, spec.purpose.value, AuditAction.CHANGE.value),
        )  # fmt: skip
        return await order_card(tx, queue, op, order)


@dataclass(frozen=True)
class _Reorder:
    operation: Operation
    action: Action
    purpose: Purpose
    reason: ReplaceReason | None
    photo: bytes | None
    wait: bool
    request_key: str | None


async def replace(
    store: Store,
    queue: Queue,
    op: Operator,
    number: str,
    reason: ReplaceReason,
    *,
    photo: bytes | None = None,
    wait: bool = False,
    request_key: str | None = None,
) -> CardRecord:
    """换卡 (damaged or expired): a new card superseding the old one."""
    if reason not in REPLACE_REASONS:
        raise FieldError("reason", "must be damaged or expired (other changes have own services)")
    spec = _Reorder(
        Operation.REPLACE, Action.REPLACE, Purpose.REPLACE, reason, photo, wait, request_key
    )
    return await _reorder(store, queue, op, number, spec)


async def reissue(
    store: Store,
    queue: Queue,
    op: Operator,
    number: str,
    *,
    photo: bytes | None = None,
    wait: bool = False,
    request_key: str | None = None,
) -> CardRecord:
    """补卡: a new card for a formally lost one."""
    spec = _Reorder(
        Operation.REISSUE, Action.REISSUE, Purpose.REISSUE, None, photo, wait, request_key
    )
    return await _reorder(store, queue, op, number, spec)


@dataclass(frozen=True)
class CardStep:
    """A service that is one action on one card."""

    operation: Operation
    action: Action
    purpose: Purpose


CANCEL_LOSS = CardStep(Operation.CANCEL_LOSS, Action.CANCEL_LOSS, Purpose.CANCEL_LOSS)
CANCEL = CardStep(Operation.CANCEL_CARD, Action.CANCEL, Purpose.CANCEL)
HAND_OVER = CardStep(Operation.HAND_OVER, Action.HAND_OVER, Purpose.HAND_OVER)


async def one_step(store: Store, op: Operator, number: str, step: CardStep) -> CardRecord:
    async with store.transaction() as tx:
        card = await scoped_card(tx, op, step.operation, number)
        status = await audited_transition(tx, card, step.action, op, step.purpose)
        return dataclasses.replace(card, status=status)


async def report_loss(store: Store, op: Operator, number: str, kind: LossKind) -> CardRecord:
    """挂失: temporary (an active card only) or formal."""
    step = CardStep(Operation.REPORT_LOSS, LOSS_ACTIONS[kind], Purpose.REPORT_LOSS)
    return await one_step(store, op, number, step)


async def cancel_loss(store: Store, op: Operator, number: str) -> CardRecord:
    """解挂: lift a temporary loss."""
    return await one_step(store, op, number, CANCEL_LOSS)


async def lapse_temporary_losses(store: Store, at: datetime) -> list[int]:
    """Temporary losses older than ``TEMPORARY_LOSS_DAYS`` and never made formal lapse: the
    card is usable again (the lifecycle's LAPSE_TEMPORARY_LOSS), with an event. Run by the
    API's maintenance loop; returns the cards changed."""
    to_status = lifecycle.apply(CardStatus.LOST_TEMPORARY, Action.LAPSE_TEMPORARY_LOSS)
    before = at - timedelta(days=lifecycle.TEMPORARY_LOSS_DAYS)
    note = f"temporary loss lapsed after {lifecycle.TEMPORARY_LOSS_DAYS} days"
    async with store.transaction() as tx:
        return await tx.lapse_temporary_losses(
            before, Action.LAPSE_TEMPORARY_LOSS.value, to_status.value, note
        )


async def cancel(store: Store, op: Operator, number: str) -> CardRecord:
    """注销 (supervisors)."""
    return await one_step(store, op, number, CANCEL)


async def hand_over(store: Store, op: Operator, number: str) -> CardRecord:
    """领卡: a ready card is handed to the holder (ready → issued)."""
    return await one_step(store, op, number, HAND_OVER)


# What the card a bank change replaced becomes when the new card is activated.
RETIRE_ON_ACTIVATION: tuple[Action, ...] = (Action.CANCEL, Action.SUPERSEDE)


async def _retire_replaced(tx: Store, op: Operator, card: CardRecord) -> None:
    if card.replaces is None:
        return
    old = await tx.card(card.replaces)
    if old.status.info.final:
        return
    allowed = lifecycle.allowed_actions(old.status)
    action = next(a for a in RETIRE_ON_ACTIVATION if a in allowed)
    await transition(tx, old, action, op, note=f"bank change: card {card.card_number} activated")
    await tx.set_superseded_by(old.id, card.id)


async def activate(store: Store, op: Operator, number: str) -> CardRecord:
    """启用 at any open outlet of the issuing bank; the outlet is recorded.

    A card ordered by a bank change retires the old bank's card now, first, so
    the person never has two active cards.
    """
    async with store.transaction() as tx:
        card = await scoped_card(tx, op, Operation.ACTIVATE, number)
        outlet = await counter_outlet(tx, op)
        lifecycle.apply(card.status, Action.ACTIVATE)  # TransitionForbidden before any change
        await _retire_replaced(tx, op, card)
        status = await audited_transition(
            tx, card, Action.ACTIVATE, op, Purpose.ACTIVATE, activated_at=outlet.code
        )
        return dataclasses.replace(card, status=status, activated_at_outlet=outlet.code)


async def status(store: Store, op: Operator, number: str) -> CardStatusView:
    """应用状态查询: card state and production progress (read: audited).

    A read that changes nothing, so it takes no lock and no transaction: one
    statement reads the card (within the operator's bank scope) and its job and
    writes the read's audit row, which commits with it before anything is
    returned, so no answer leaves unaudited. A card missing or out of scope
    reads nothing and writes no audit row.
    """
    scope = bank_scope(op, Operation.QUERY_STATUS)
    value = validate_card_number(number)
    read = await store.read_card_audited(
        value, scope, op, Purpose.QUERY_STATUS.value, AuditAction.READ.value
    )
    if read is None:
        raise missing_card(value)
    progress, state = _progress(read)
    return CardStatusView(read.card, progress, state)


def _progress(read: CardJobRead) -> tuple[JobProgress | None, JobState | None]:
    card, state, step = read.card, read.job_state, read.job_step
    if card.job_id is None or card.status is not CardStatus.IN_PRODUCTION or state is None:
        return progress_of(card.status), None
    stage = STATE_PROGRESS.get(state) or STEP_PROGRESS[step or JobStep.IDLE]
    if state in STATE_PROGRESS:
        return stage, state
    return progress_of(card.status, stage), state


async def receipt(store: Store, op: Operator, number: str) -> Receipt:
    """The handover receipt of a card that was handed over (read: audited).

    It names the outlet and the clerk of the hand-over, at its time; a card not
    yet handed over has none (409 ``not_handed_over``).
    """
    async with store.connected() as db:
        card = await scoped_card(db, op, Operation.HAND_OVER, number, lock=False)
        event = _last_hand_over(await db.events_of_card(card.id), card.card_number)
        holder = await db.holder(card.holder)
        outlet = None if event.outlet is None else await db.outlet(event.outlet)
        await audit(db, op, Purpose.RECEIPT, card.holder, AuditAction.READ)
    return Receipt(
        card_number=card.card_number,
        holder_name=holder.name,
        citizen_id=holder.citizen_id,
        outlet_name=outlet.name if outlet is not None else (event.outlet or ""),
        handed_over_at=event.at,
        clerk_id="" if event.operator is None else str(event.operator),
    )


def _last_hand_over(events: list[EventRecord], number: str) -> EventRecord:
    handed = [e for e in events if e.action == Action.HAND_OVER.value]
    if not handed:
        raise ConflictError(
            f"card {number} has not been handed over", code="not_handed_over", card=number
        )
    return handed[-1]
