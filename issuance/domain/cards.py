"""Cards: their states, the actions on them and the events that record them.

A card comes into being with the ORDER action (from no state at all: the
lifecycle's initial state is explicit, ``None``) and then moves through
:class:`CardStatus` in the order the members are declared: requested → in
production → ready (made, awaiting pickup) → issued (handed over) → active
(启用), with the loss states beside active and four ends: superseded (a
reissue or replacement took its place), cancelled (注销) and spoiled (a
chip or print failure; never handed out). Which action leads where is the
transition table in :mod:`issuance.domain.lifecycle`.

What each state means for the holder is data (:data:`STATUS_INFO`): its
Chinese label, whether the card may be used (only an active card: use is
blocked while lost), whether it is final, and whether it counts as the
holder's live card for the one-card-per-person rule.

A :class:`CardEvent` is the immutable record of one applied action: who did
it, at which outlet, when and why. Events are what the audit trail stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sscard_core.errors import ConflictError, FieldError


class CardStatus(StrEnum):
    """A card's state, declared in lifecycle order."""

    REQUESTED = "requested"
    IN_PRODUCTION = "in_production"
    READY = "ready"
    ISSUED = "issued"
    ACTIVE = "active"
    LOST_TEMPORARY = "lost_temporary"
    LOST_FORMAL = "lost_formal"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    SPOILED = "spoiled"

    @property
    def info(self) -> StatusInfo:
        return STATUS_INFO[self]

    @property
    def rank(self) -> int:
        """Position in lifecycle order (requested = 0)."""
        return STATUS_ORDER.index(self)


class Action(StrEnum):
    """Everything that can happen to a card."""

    ORDER = "order"  # 申领 and every reissue or replacement: a new card record is created
    START_PRODUCTION = "start_production"  # a printer agent claimed the card's job
    PRODUCE_DONE = "produce_done"  # printed and encoded
    HAND_OVER = "hand_over"  # given to the holder at the counter
    ACTIVATE = "activate"  # 启用
    REPORT_LOSS_TEMPORARY = "report_loss_temporary"  # 临时挂失
    REPORT_LOSS_FORMAL = "report_loss_formal"  # 正式挂失
    CANCEL_LOSS = "cancel_loss"  # 解挂
    LAPSE_TEMPORARY_LOSS = "lapse_temporary_loss"  # the temporary loss expired
    REISSUE = "reissue"  # 补卡: a new card for a formally lost one
    REPLACE = "replace"  # 换卡: a new card for a damaged, expired or outdated one
    SUPERSEDE = "supersede"  # a newer card for the same person took over
    CANCEL = "cancel"  # 注销
    SPOIL = "spoil"  # production failed or the card was damaged before pickup


class ReplaceReason(StrEnum):
    """Why a card is replaced (换卡)."""

    DAMAGED = "damaged"
    EXPIRED = "expired"
    DATA_CHANGED = "data_changed"
    BANK_CHANGE = "bank_change"


@dataclass(frozen=True)
class StatusInfo:
    label_zh: str
    usable: bool  # may pay, withdraw, see a doctor with it
    final: bool  # no action leads out of it
    live: bool  # counts as the holder's one card
    pending: bool  # ordered but not yet made


STATUS_ORDER: tuple[CardStatus, ...] = tuple(CardStatus)
STATUS_INFO: dict[CardStatus, StatusInfo] = {
    CardStatus.REQUESTED: StatusInfo("已申领", False, False, False, True),
    CardStatus.IN_PRODUCTION: StatusInfo("制卡中", False, False, False, True),
    CardStatus.READY: StatusInfo("待领取", False, False, True, False),
    CardStatus.ISSUED: StatusInfo("已领卡未启用", False, False, True, False),
    CardStatus.ACTIVE: StatusInfo("正常", True, False, True, False),
    CardStatus.LOST_TEMPORARY: StatusInfo("临时挂失", False, False, True, False),
    CardStatus.LOST_FORMAL: StatusInfo("正式挂失", False, False, True, False),
    CardStatus.SUPERSEDED: StatusInfo("已被新卡替代", False, True, False, False),
    CardStatus.CANCELLED: StatusInfo("已注销", False, True, False, False),
    CardStatus.SPOILED: StatusInfo("制卡失败", False, True, False, False),
}


class CardBlocked(ConflictError):
    """The card may not be used in its current state (e.g. while lost)."""

    code = "card_blocked"


def ensure_usable(card_id: str, status: CardStatus) -> None:
    """Raise CardBlocked unless the card may be used (only an active card may)."""
    if not status.info.usable:
        raise CardBlocked(
            f"card {card_id} cannot be used while it is {status.info.label_zh}",
            card_id=card_id,
            current_state=status.value,
        )


@dataclass(frozen=True)
class Card:
    """A card as the domain sees it: whose, from which bank, in which state."""

    card_id: str
    citizen_id: str
    bank_code: str
    status: CardStatus


@dataclass(frozen=True)
class CardEvent:
    """One applied action. ``operator_id``/``outlet_id`` are None for automatic events.

    ``from_status`` is None exactly for the action that creates the card (ORDER).
    """

    card_id: str
    action: Action
    from_status: CardStatus | None
    to_status: CardStatus
    operator_id: str | None
    outlet_id: str | None
    at: datetime
    reason: ReplaceReason | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise FieldError("at", "an event time must carry a time zone", code="naive_datetime")
        if (self.from_status is None) != (self.action in INITIAL_ACTIONS):
            raise FieldError(
                "from_status",
                "only the event that creates a card (order) has no state before it",
                code="initial_state",
            )
        if self.action in REASON_REQUIRED and self.reason is None:
            raise FieldError("reason", f"{self.action} must name its reason", code="reason_missing")
        if self.reason is not None and self.action not in REASON_ALLOWED:
            raise FieldError("reason", f"{self.action} takes no reason", code="reason_unexpected")


INITIAL_ACTIONS = frozenset({Action.ORDER})  # the actions whose event has no state before it
REASON_REQUIRED = frozenset({Action.REPLACE})
REASON_ALLOWED = frozenset({Action.REPLACE, Action.SUPERSEDE})
