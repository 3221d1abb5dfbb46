"""The counter services of 第五条(四), as data.

Each :class:`Service` has a :class:`ServiceSpec`: its Chinese label, the API
operation that performs it (for the permission check), the card actions it
may apply to the holder's current card, and whether it orders a new card.

An information change (信息变更) is a record update when only contact
details change; when a field printed on the card or written to its chip
changes, the card must be replaced (:func:`change_needs_new_card`,
:data:`INFO_FIELDS`).

:class:`JobProgress` is what a status query (应用状态查询) reports about a
card being made; :func:`progress_of` derives it from the card's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from issuance.domain.cards import Action, CardStatus, ReplaceReason
from issuance.domain.roles import Operation


class Service(StrEnum):
    APPLY = "apply"
    ACTIVATE = "activate"
    REPORT_LOSS = "report_loss"
    CANCEL_LOSS = "cancel_loss"
    REISSUE = "reissue"
    REPLACE = "replace"
    CANCEL = "cancel"
    QUERY_STATUS = "query_status"
    PIN_CHANGE = "pin_change"
    PIN_RESET = "pin_reset"
    CHANGE_INFO = "change_info"
    HOME_VISIT = "home_visit"
    CHANGE_BANK = "change_bank"

    @property
    def spec(self) -> ServiceSpec:
        return SERVICES[self]

    @property
    def label_zh(self) -> str:
        return SERVICES[self].label_zh


@dataclass(frozen=True)
class ServiceSpec:
    label_zh: str
    operation: Operation
    actions: frozenset[Action]  # what it may do to the holder's current card
    new_card: bool  # it orders a card


def _spec(
    label: str, op: Operation, actions: Iterable[Action] = (), new: bool = False
) -> ServiceSpec:
    return ServiceSpec(label, op, frozenset(actions), new)


A = Action
SERVICES: dict[Service, ServiceSpec] = {
    Service.APPLY: _spec("申领", Operation.APPLY, (A.SUPERSEDE,), new=True),
    Service.ACTIVATE: _spec("启用", Operation.ACTIVATE, (A.ACTIVATE,)),
    Service.REPORT_LOSS: _spec(
        "挂失", Operation.REPORT_LOSS, (A.REPORT_LOSS_TEMPORARY, A.REPORT_LOSS_FORMAL)
    ),
    Service.CANCEL_LOSS: _spec("解挂", Operation.CANCEL_LOSS, (A.CANCEL_LOSS,)),
    Service.REISSUE: _spec("补卡", Operation.REISSUE, (A.REISSUE,), new=True),
    Service.REPLACE: _spec("换卡", Operation.REPLACE, (A.REPLACE,), new=True),
    Service.CANCEL: _spec("注销", Operation.CANCEL_CARD, (A.CANCEL,)),
    Service.QUERY_STATUS: _spec("应用状态查询", Operation.QUERY_STATUS),
    Service.PIN_CHANGE: _spec("密码修改", Operation.PIN_CHANGE),
    Service.PIN_RESET: _spec("密码重置", Operation.PIN_RESET),
    Service.CHANGE_INFO: _spec("信息变更", Operation.CHANGE_INFO, (A.REPLACE,)),
    Service.HOME_VISIT: _spec("上门服务", Operation.HOME_VISIT),
    Service.CHANGE_BANK: _spec("变更银行", Operation.CHANGE_BANK, (A.REPLACE,), new=True),
}


class FieldEffect(StrEnum):
    CARD = "card"  # printed on the face or written to the chip: a new card
    RECORD = "record"  # only the holder's record changes


class InfoField(StrEnum):
    NAME = "name"
    CITIZEN_ID = "citizen_id"
    GENDER = "gender"
    BIRTH_DATE = "birth_date"
    ETHNICITY = "ethnicity"
    BIRTHPLACE = "birthplace"
    PHOTO = "photo"
    PHONE = "phone"
    ADDRESS = "address"
    EMAIL = "email"

    @property
    def effect(self) -> FieldEffect:
        return INFO_FIELDS[self]


INFO_FIELDS: dict[InfoField, FieldEffect] = {
    InfoField.NAME: FieldEffect.CARD,
    InfoField.CITIZEN_ID: FieldEffect.CARD,
    InfoField.GENDER: FieldEffect.CARD,
    InfoField.BIRTH_DATE: FieldEffect.CARD,
    InfoField.ETHNICITY: FieldEffect.CARD,
    InfoField.BIRTHPLACE: FieldEffect.CARD,
    InfoField.PHOTO: FieldEffect.CARD,
    InfoField.PHONE: FieldEffect.RECORD,
    InfoField.ADDRESS: FieldEffect.RECORD,
    InfoField.EMAIL: FieldEffect.RECORD,
}


def change_needs_new_card(fields: Iterable[InfoField]) -> bool:
    """True if any changed field is on the card face or in the chip."""
    return any(f.effect is FieldEffect.CARD for f in fields)


def replace_reason_for(fields: Iterable[InfoField]) -> ReplaceReason | None:
    """DATA_CHANGED when the change needs a new card, else None (record update only)."""
    return ReplaceReason.DATA_CHANGED if change_needs_new_card(fields) else None


class JobProgress(StrEnum):
    """A card's production progress as a status query reports it."""

    QUEUED = "queued"
    PRINTING = "printing"
    ENCODING = "encoding"
    READY_FOR_PICKUP = "ready_for_pickup"
    HANDED_OVER = "handed_over"
    FAILED = "failed"

    @property
    def label_zh(self) -> str:
        return PROGRESS_LABELS[self]


PROGRESS_LABELS: dict[JobProgress, str] = {
    JobProgress.QUEUED: "排队中",
    JobProgress.PRINTING: "打印中",
    JobProgress.ENCODING: "写芯片中",
    JobProgress.READY_FOR_PICKUP: "待领取",
    JobProgress.HANDED_OVER: "已领取",
    JobProgress.FAILED: "制卡失败",
}

PROGRESS_BY_STATUS: dict[CardStatus, JobProgress] = {
    CardStatus.REQUESTED: JobProgress.QUEUED,
    CardStatus.IN_PRODUCTION: JobProgress.PRINTING,
    CardStatus.READY: JobProgress.READY_FOR_PICKUP,
    CardStatus.ISSUED: JobProgress.HANDED_OVER,
    CardStatus.ACTIVE: JobProgress.HANDED_OVER,
    CardStatus.LOST_TEMPORARY: JobProgress.HANDED_OVER,
    CardStatus.LOST_FORMAL: JobProgress.HANDED_OVER,
    CardStatus.SPOILED: JobProgress.FAILED,
}
DEVICE_STAGES = frozenset({JobProgress.PRINTING, JobProgress.ENCODING})


def progress_of(status: CardStatus, device_stage: JobProgress | None = None) -> JobProgress | None:
    """Production progress for a card's state; None once it is superseded or cancelled.

    While the card is in production, the device's own stage (printing or
    encoding), when known, is more precise than the card's state.
    """
    if status is CardStatus.IN_PRODUCTION and device_stage in DEVICE_STAGES:
        return device_stage
    return PROGRESS_BY_STATUS.get(status)
