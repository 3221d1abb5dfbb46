"""The card lifecycle: which action is allowed in which state, and where it leads.

:data:`TRANSITIONS` is the whole state machine as data, ``(state, action) →
new state``; :func:`apply` looks a pair up and raises
:class:`sscard_core.errors.TransitionForbidden` for any pair not in it.

The initial state is explicit: :data:`INITIAL` (``None``, no card yet) is a
state of the table like any other, left only by ORDER, which creates the
card ``requested`` (:func:`order` makes the card and its first event). The
ordering service then applies START_PRODUCTION in the same transaction as it
enqueues the production job, so a card comes from no state to in production
through two recorded events.

Decisions the table encodes:

* Temporary loss (临时挂失) is for a card in use, so only an active card can
  be reported temporarily lost; cancelling the loss (解挂) or letting it lapse
  returns it to active. A handed-over card that was never activated cannot be
  used by a finder (activation needs the holder at a counter), so its loss is
  reported formally straight away.
* Formal loss (正式挂失) is not undone: the card can only be reissued (补卡,
  the only way out of formal loss besides cancellation) or cancelled.
* Replacement (换卡: damaged, expired, data or bank changed) needs the card
  in the holder's hands and not lost: issued or active.
* Cancellation (注销) is possible before production starts (the application
  is withdrawn), for a made card, and for a formally lost one; a temporary
  loss must be made formal or lifted first. A card in the printer is never
  cancelled: it ends ready or spoiled.
* Supersede is what the one-card-per-person rule applies to the older live
  card when a newer card is ordered.

Temporary losses lapse after :data:`TEMPORARY_LOSS_DAYS` calendar days
(:func:`temporary_loss_lapsed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from issuance.domain.cards import Action, Card, CardEvent, CardStatus, ReplaceReason
from sscard_core.errors import ConflictError, FieldError, TransitionForbidden

S = CardStatus
A = Action
State = CardStatus | None  # a card's state, or INITIAL before the card exists
INITIAL: State = None
INITIAL_NAME = "none"  # how TransitionForbidden names the initial state

TRANSITIONS: dict[tuple[State, Action], CardStatus] = {
    (INITIAL, A.ORDER): S.REQUESTED,
    (S.REQUESTED, A.START_PRODUCTION): S.IN_PRODUCTION,
    (S.REQUESTED, A.CANCEL): S.CANCELLED,
    (S.IN_PRODUCTION, A.PRODUCE_DONE): S.READY,
    (S.IN_PRODUCTION, A.SPOIL): S.SPOILED,
    (S.READY, A.HAND_OVER): S.ISSUED,
    (S.READY, A.SPOIL): S.SPOILED,
    (S.READY, A.SUPERSEDE): S.SUPERSEDED,
    (S.READY, A.CANCEL): S.CANCELLED,
    (S.ISSUED, A.ACTIVATE): S.ACTIVE,
    (S.ISSUED, A.REPORT_LOSS_FORMAL): S.LOST_FORMAL,
    (S.ISSUED, A.REPLACE): S.SUPERSEDED,
    (S.ISSUED, A.SUPERSEDE): S.SUPERSEDED,
    (S.ISSUED, A.CANCEL): S.CANCELLED,
    (S.ACTIVE, A.REPORT_LOSS_TEMPORARY): S.LOST_TEMPORARY,
    (S.ACTIVE, A.REPORT_LOSS_FORMAL): S.LOST_FORMAL,
    (S.ACTIVE, A.REPLACE): S.SUPERSEDED,
    (S.ACTIVE, A.SUPERSEDE): S.SUPERSEDED,
    (S.ACTIVE, A.CANCEL): S.CANCELLED,
    (S.LOST_TEMPORARY, A.CANCEL_LOSS): S.ACTIVE,
    (S.LOST_TEMPORARY, A.LAPSE_TEMPORARY_LOSS): S.ACTIVE,
    (S.LOST_TEMPORARY, A.REPORT_LOSS_FORMAL): S.LOST_FORMAL,
    (S.LOST_TEMPORARY, A.SUPERSEDE): S.SUPERSEDED,
    (S.LOST_FORMAL, A.REISSUE): S.SUPERSEDED,
    (S.LOST_FORMAL, A.SUPERSEDE): S.SUPERSEDED,
    (S.LOST_FORMAL, A.CANCEL): S.CANCELLED,
}

TEMPORARY_LOSS_DAYS = 5


def state_name(state: State) -> str:
    return INITIAL_NAME if state is None else state.value


def apply(state: State, action: Action) -> CardStatus:
    """The state after ``action``; TransitionForbidden if the state does not allow it."""
    try:
        return TRANSITIONS[state, action]
    except KeyError:
        raise TransitionForbidden(action.value, state_name(state)) from None


def allowed_actions(state: State) -> frozenset[Action]:
    """Every action the state allows (what a counter screen may offer)."""
    return frozenset(a for (s, a) in TRANSITIONS if s is state)


def record(
    card: Card,
    action: Action,
    *,
    operator_id: str | None,
    outlet_id: str | None,
    at: datetime,
    reason: ReplaceReason | None = None,
    note: str = "",
) -> tuple[Card, CardEvent]:
    """Apply ``action`` to ``card``: the card in its new state and the event to store."""
    new_status = apply(card.status, action)
    event = CardEvent(
        card_id=card.card_id,
        action=action,
        from_status=card.status,
        to_status=new_status,
        operator_id=operator_id,
        outlet_id=outlet_id,
        at=at,
        reason=reason,
        note=note,
    )
    return Card(card.card_id, card.citizen_id, card.bank_code, new_status), event


def order(
    card_id: str,
    citizen_id: str,
    bank_code: str,
    *,
    operator_id: str | None,
    outlet_id: str | None,
    at: datetime,
) -> tuple[Card, CardEvent]:
    """A new card (ORDER from the initial state) and its first event."""
    status = apply(INITIAL, Action.ORDER)
    event = CardEvent(
        card_id=card_id, action=Action.ORDER, from_status=INITIAL, to_status=status,
        operator_id=operator_id, outlet_id=outlet_id, at=at,
    )  # fmt: skip
    return Card(card_id, citizen_id, bank_code, status), event


def temporary_loss_lapsed(
    reported_at: datetime, now: datetime, *, days: int = TEMPORARY_LOSS_DAYS
) -> bool:
    """True once ``days`` full days have passed since the temporary loss was reported."""
    if reported_at.tzinfo is None or now.tzinfo is None:
        raise FieldError("at", "times must carry a time zone", code="naive_datetime")
    return now >= reported_at + timedelta(days=days)


def cards_to_supersede(cards: Iterable[Card]) -> tuple[Card, ...]:
    """The person's live cards that a newly ordered card must supersede.

    One person holds one card: every live card (ready, issued, active or lost)
    gives way to the new one. A card still being ordered or made blocks a new
    order (ConflictError ``card_pending``): the pending one must finish first.
    The caller applies the service's own action to the card the service is
    about (REISSUE to the formally lost card, REPLACE to the replaced one) and
    SUPERSEDE to any other card returned.
    """
    held = tuple(cards)
    _check_one_person(held)
    pending = [c.card_id for c in held if c.status.info.pending]
    if pending:
        raise ConflictError(
            "a card for this person is already being made",
            code="card_pending",
            card_ids=pending,
        )
    return tuple(c for c in held if c.status.info.live)


def _check_one_person(cards: tuple[Card, ...]) -> None:
    if len({c.citizen_id for c in cards}) > 1:
        raise FieldError("cards", "cards of more than one person", code="mixed_holders")
