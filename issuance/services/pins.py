"""密码修改 / 密码重置: an ENCODE job for the card at the counter's PIN pad.

The PIN never reaches the API: the holder types it on the PIN pad at the
device, which the outlet agent drives. The job's payload carries the
operation and the card number only. Only a card in the holder's hands and not
lost (issued or active) can have its PIN changed or reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cardqueue import NewJob, Queue
from issuance.domain.cards import CardStatus
from issuance.domain.roles import Operation
from issuance.services.common import AuditAction, Purpose, audit, counter_outlet, scoped_card
from issuance.services.ordering import job_key
from issuance.store import Operator, Store
from sscard_core.errors import TransitionForbidden
from sscard_core.messages import Capability, Priority


class PinOperation(StrEnum):
    CHANGE = "pin_change"
    RESET = "pin_reset"


@dataclass(frozen=True)
class PinSpec:
    operation: Operation
    purpose: Purpose


PIN_SPECS: dict[PinOperation, PinSpec] = {
    PinOperation.CHANGE: PinSpec(Operation.PIN_CHANGE, Purpose.PIN_CHANGE),
    PinOperation.RESET: PinSpec(Operation.PIN_RESET, Purpose.PIN_RESET),
}
PIN_STATES = frozenset({CardStatus.ISSUED, CardStatus.ACTIVE})


@dataclass(frozen=True)
class PinJob:
    job_id: int
    card_number: str
    operation: PinOperation
    site: str


async def pin_job(
    store: Store,
    queue: Queue,
    op: Operator,
    number: str,
    operation: PinOperation,
    *,
    request_key: str | None = None,
) -> PinJob:
    """Enqueue the PIN operation for the counter's own encoder (priority INSTANT)."""
    spec = PIN_SPECS[operation]
    async with store.transaction() as tx:
        card = await scoped_card(tx, op, spec.operation, number)
        if card.status not in PIN_STATES:
            raise TransitionForbidden(operation.value, card.status.value)
        outlet = await counter_outlet(tx, op)
        job = NewJob(
            idempotency_key=job_key(op, request_key, operation.value), kind=operation.value,
            site=outlet.code, capability=Capability.ENCODE, priority=Priority.INSTANT,
            payload={"card_number": card.card_number, "operation": operation.value},
        )  # fmt: skip
        (result,) = await queue.enqueue_many([job], conn=tx.connection)
        await audit(tx, op, spec.purpose, card.holder, AuditAction.CHANGE, card=card.id)
        return PinJob(result.job_id, card.card_number, operation, outlet.code)
