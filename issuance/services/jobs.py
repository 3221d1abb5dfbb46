"""A supervisor's decisions on jobs the queue could not finish: cancel or redrive.

A job the queue dead-lettered (out of attempts, a permanent failure, or an
in-doubt job reconciled ``failed``) waits for a person. A supervisor of the
card's bank either sends it back to the queue with fresh attempts
(:func:`redrive`) or gives it up (:func:`cancel`). A queued job may be
cancelled as well; a running or in-doubt one may not (409
``job_not_cancellable``: reconcile it first). Neither decision is taken while a
card of the job may physically exist (409 ``card_may_exist``, which says what to
look for): evidence settles that first (:func:`issuance.services.dispatch.record_evidence`).

Cancelling a card job ends its card: a card in production can only end
ready or spoiled (:mod:`issuance.domain.lifecycle`), so the card takes the
SPOIL transition with an event naming the job and the reason, and the
holder's record gets an audit row.

The queue's cancel runs on its own connection, before the card is spoiled in
the service's transaction. Cancelling is therefore retryable rather than
atomic: cancelling a job that is already cancelled does not fail but
finishes the card's side, so a request interrupted between the two steps is
completed by repeating it. Another bank's job is answered like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardqueue import Queue
from issuance.domain.cards import Action, CardStatus
from issuance.domain.roles import Role
from issuance.services.common import AuditAction, Purpose, audit, transition
from issuance.services.dispatch import job_card, may_exist
from issuance.store import CardRecord, Operator, Store
from sscard_core.errors import ConflictError, Forbidden, JobNotFound
from sscard_core.messages import JobState

JOB_MANAGERS = frozenset({Role.SUPERVISOR})
CANCELLABLE = frozenset({JobState.QUEUED, JobState.DEAD, JobState.CANCELLED})


@dataclass(frozen=True)
class JobDecision:
    """A job after a supervisor's decision, and its card (None for a PIN job)."""

    job_id: int
    state: JobState
    card: CardRecord | None


def _check_manager(op: Operator) -> None:
    if op.role not in JOB_MANAGERS:
        raise Forbidden(f"a {op.role} may not cancel or redrive jobs", role=op.role.value)


async def _scoped(tx: Store, queue: Queue, op: Operator, job_id: int) -> CardRecord | None:
    card, bank = await job_card(tx, queue, job_id)
    if op.bank is None or op.bank != bank:
        raise JobNotFound(f"no job {job_id}", job_id=job_id)
    return card


async def _spoil(tx: Store, op: Operator, card: CardRecord, job_id: int, reason: str) -> None:
    if card.status is not CardStatus.IN_PRODUCTION:
        return
    await transition(tx, card, Action.SPOIL, op, note=f"job {job_id} cancelled: {reason}")
    await audit(tx, op, Purpose.CANCEL_JOB, card.holder, AuditAction.CHANGE, card=card.id)


async def cancel(
    store: Store, queue: Queue, op: Operator, job_id: int, *, reason: str
) -> JobDecision:
    """Give up a queued or dead job; its card in production is spoiled."""
    _check_manager(op)
    async with store.transaction() as tx:
        card = await _scoped(tx, queue, op, job_id)
        await may_exist(tx, job_id)
        state = (await queue.get(job_id, conn=tx.connection)).state
        if state not in CANCELLABLE:
            raise ConflictError(
                f"a {state} job cannot be cancelled", code="job_not_cancellable", state=state.value
            )
        if state is not JobState.CANCELLED:
            await queue.cancel(job_id, reason, conn=tx.connection)
        if card is not None:
            await _spoil(tx, op, card, job_id, reason)
            card = await tx.card(card.id)
        return JobDecision(job_id, JobState.CANCELLED, card)


async def redrive(store: Store, queue: Queue, op: Operator, job_id: int) -> JobDecision:
    """Send a dead job back to the queue with fresh attempts (409 ``job_not_dead`` otherwise)."""
    _check_manager(op)
    async with store.transaction() as tx:
        card = await _scoped(tx, queue, op, job_id)
        await may_exist(tx, job_id)
        state = (await queue.get(job_id, conn=tx.connection)).state
        if state is not JobState.DEAD:
            raise ConflictError(
                f"a {state} job cannot be redriven", code="job_not_dead", state=state.value
            )
        await queue.redrive(job_id, conn=tx.connection)
        return JobDecision(job_id, JobState.QUEUED, card)
