"""What every service shares: scope checks, card lookup, transitions and audit rows.

Out-of-scope records look missing: a card or holder of another bank raises
exactly the :class:`sscard_core.errors.NotFound` a missing one raises (same code,
same message), so an operator cannot learn that a person holds a card at
another bank (第五条(七)). Activation follows the same rule: an outlet of
another bank cannot see the card, so activating there is a 404 like any other
service on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from issuance.domain.cards import Action, Card, CardEvent, CardStatus, ReplaceReason
from issuance.domain.lifecycle import order, record
from issuance.domain.numbers import validate_card_number
from issuance.domain.roles import Grant, Operation, authorise
from issuance.store import AuditEntry, CardRecord, EventRecord, Operator, OutletRecord, Store
from sscard_core.errors import Forbidden, NotFound


class Purpose(StrEnum):
    """Why personal data was read or changed (the audit row's purpose)."""

    APPLY = "apply"
    REPLACE = "replace"
    REISSUE = "reissue"
    ACTIVATE = "activate"
    HAND_OVER = "hand_over"
    REPORT_LOSS = "report_loss"
    CANCEL_LOSS = "cancel_loss"
    CANCEL = "cancel"
    QUERY_STATUS = "query_status"
    PIN_CHANGE = "pin_change"
    PIN_RESET = "pin_reset"
    CHANGE_INFO = "change_info"
    HOME_VISIT = "home_visit"
    CHANGE_BANK = "change_bank"
    WITHDRAWAL = "withdrawal"
    PRODUCTION = "production"
    RECONCILE = "reconcile"
    CANCEL_JOB = "cancel_job"
    IDENTITY_CHECK = "identity_check"
    SUPERVISION = "supervision"
    RECEIPT = "receipt"  # the handover receipt, which shows the holder's name and masked ID
    BATCH_MANIFEST = "batch_manifest"
    SECURITY = "security"  # an operator's own credentials: sign-in, tokens, second factor
    KEYS = "keys"  # the data keys that seal personal data: read, rotate, destroy
    RETENTION = "retention"  # personal data past its retention period erased (or counted)


class AuditAction(StrEnum):
    READ = "read"
    CHANGE = "change"
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    ROTATE_TOKEN = "rotate_token"
    REVOKE_TOKENS = "revoke_tokens"
    SET_PASSWORD = "set_password"
    ENROL_TOTP = "enrol_totp"
    READ_UNMASKED = "read_unmasked"  # an answer showed a whole citizen ID, phone or address
    ROTATE_KEYS = "rotate_keys"
    DESTROY_KEY = "destroy_key"
    RUN_RETENTION = "run_retention"


ORDER_ACTION = Action.ORDER.value  # the event that creates a card (no state before it)


def now() -> datetime:
    return datetime.now(UTC)


def check(op: Operator, operation: Operation, target_bank: str | None) -> Grant:
    """Role and bank scope for ``op`` (Forbidden or NotFound, see roles.authorise)."""
    return authorise(op.role, op.bank, operation, target_bank)


def missing_card(number: str) -> NotFound:
    """The one error for a card that is missing or out of the operator's scope."""
    return NotFound(f"no card {number}", resource="card")


async def scoped_card(
    tx: Store, op: Operator, operation: Operation, number: str, *, lock: bool = True
) -> CardRecord:
    """The card ``number`` if ``op`` may act on it; a missing and a foreign card look alike."""
    check(op, operation, None)
    value = validate_card_number(number)
    card = await tx.card_by_number(value, lock=lock)
    if card is None:
        raise missing_card(value)
    try:
        check(op, operation, card.bank)
    except (NotFound, Forbidden):  # the role was checked above: this is the bank scope
        raise missing_card(value) from None
    return card


async def counter_outlet(tx: Store, op: Operator) -> OutletRecord:
    """The open outlet the operator works at (services at a counter need one)."""
    outlet = None if op.outlet is None else await tx.outlet(op.outlet)
    if outlet is None or not outlet.open or outlet.bank != op.bank:
        raise Forbidden("this account works at no open outlet of its bank", code="no_outlet")
    return outlet


def _event_record(event: CardEvent, operator: int | None) -> EventRecord:
    return EventRecord(
        action=event.action.value,
        from_status=None if event.from_status is None else event.from_status.value,
        to_status=event.to_status.value, operator=operator, outlet=event.outlet_id, at=event.at,
        reason=None if event.reason is None else event.reason.value, note=event.note,
    )  # fmt: skip


def bank_scope(op: Operator, operation: Operation) -> str | None:
    """The bank whose records ``op`` may see for ``operation`` (None: every bank), for a
    statement that reads only what is in scope; Forbidden when the role may not do it at all."""
    return check(op, operation, None).bank


def _recorded(
    card: CardRecord, action: Action, op: Operator | None, reason: ReplaceReason | None, note: str
) -> tuple[CardStatus, EventRecord]:
    """The card's new state and the event of ``action`` (TransitionForbidden if the state
    forbids it)."""
    domain = Card(str(card.id), str(card.holder), card.bank, card.status)
    outlet = None if op is None else op.outlet
    operator = None if op is None else op.id
    changed, event = record(
        domain, action, operator_id=None, outlet_id=outlet, at=now(), reason=reason, note=note
    )
    return changed.status, _event_record(event, operator)


async def transition(
    tx: Store,
    card: CardRecord,
    action: Action,
    op: Operator | None,
    *,
    reason: ReplaceReason | None = None,
    note: str = "",
) -> CardStatus:
    """Apply ``action`` (TransitionForbidden if the state forbids it) and store the event."""
    status, event = _recorded(card, action, op, reason, note)
    await tx.transition_card(card.id, event)
    return status


async def audited_transition(
    tx: Store,
    card: CardRecord,
    action: Action,
    op: Operator,
    purpose: Purpose,
    *,
    activated_at: str | None = None,
) -> CardStatus:
    """:func:`transition` and the change's audit row (naming the card's holder) in one
    statement; with ``activated_at``, the outlet of an activation is recorded too."""
    status, event = _recorded(card, action, op, None, "")
    entry = AuditEntry(op, purpose.value, AuditAction.CHANGE.value)
    await tx.transition_card_audited(card, event, entry, activated_at=activated_at)
    return status


def production_events(card_id: int, holder: int, bank: str, op: Operator) -> list[EventRecord]:
    """The first events of a card ordered now: ORDER (none → requested), then
    START_PRODUCTION (requested → in_production), as the lifecycle allows."""
    at = now()
    card, ordered = order(
        str(card_id), str(holder), bank, operator_id=None, outlet_id=op.outlet, at=at
    )
    _, started = record(card, Action.START_PRODUCTION, operator_id=None, outlet_id=op.outlet, at=at)
    return [_event_record(ordered, op.id), _event_record(started, op.id)]


async def audit(
    tx: Store,
    op: Operator,
    purpose: Purpose,
    holder: int | None,
    action: AuditAction,
    *,
    card: int | None = None,
    detail: str = "",
) -> None:
    await tx.audit(op, purpose.value, holder, action.value, card=card, detail=detail)
