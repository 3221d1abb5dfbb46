"""Counter services as data: labels, operations, card actions, info changes, progress."""

from __future__ import annotations

import pytest

from issuance.domain.cards import Action, CardStatus, ReplaceReason
from issuance.domain.counter_services import (
    InfoField,
    JobProgress,
    Service,
    change_needs_new_card,
    progress_of,
    replace_reason_for,
)
from issuance.domain.lifecycle import TRANSITIONS
from issuance.domain.roles import PERMISSIONS, Role

LABELS = {
    Service.APPLY: "申领",
    Service.ACTIVATE: "启用",
    Service.REPORT_LOSS: "挂失",
    Service.CANCEL_LOSS: "解挂",
    Service.REISSUE: "补卡",
    Service.REPLACE: "换卡",
    Service.CANCEL: "注销",
    Service.QUERY_STATUS: "应用状态查询",
    Service.PIN_CHANGE: "密码修改",
    Service.PIN_RESET: "密码重置",
    Service.CHANGE_INFO: "信息变更",
    Service.HOME_VISIT: "上门服务",
    Service.CHANGE_BANK: "变更银行",
}


@pytest.mark.parametrize("service", list(Service))
def test_labels(service: Service) -> None:
    assert service.label_zh == LABELS[service]


@pytest.mark.parametrize("service", list(Service))
def test_every_service_can_be_performed_at_a_counter(service: Service) -> None:
    staff = PERMISSIONS[Role.CLERK] | PERMISSIONS[Role.SUPERVISOR]
    assert service.spec.operation in staff


@pytest.mark.parametrize("service", list(Service))
def test_service_actions_exist_in_the_lifecycle(service: Service) -> None:
    used = {action for (_, action) in TRANSITIONS}
    assert service.spec.actions <= used


def test_services_that_make_a_card() -> None:
    made = {s for s in Service if s.spec.new_card}
    assert made == {Service.APPLY, Service.REISSUE, Service.REPLACE, Service.CHANGE_BANK}


def test_cancel_needs_a_supervisor() -> None:
    assert Service.CANCEL.spec.operation not in PERMISSIONS[Role.CLERK]
    assert Service.CANCEL.spec.operation in PERMISSIONS[Role.SUPERVISOR]
    assert Service.CANCEL.spec.actions == {Action.CANCEL}


@pytest.mark.parametrize(
    ("fields", "new_card"),
    [
        ({InfoField.PHONE}, False),
        ({InfoField.PHONE, InfoField.ADDRESS, InfoField.EMAIL}, False),
        ({InfoField.NAME}, True),
        ({InfoField.PHOTO}, True),
        ({InfoField.ETHNICITY, InfoField.PHONE}, True),
        ({InfoField.CITIZEN_ID}, True),
        ({InfoField.GENDER}, True),
        ({InfoField.BIRTH_DATE}, True),
        ({InfoField.BIRTHPLACE}, True),
        (set(), False),
    ],
)
def test_info_changes(fields: set[InfoField], new_card: bool) -> None:
    assert change_needs_new_card(fields) is new_card
    expected = ReplaceReason.DATA_CHANGED if new_card else None
    assert replace_reason_for(fields) is expected


@pytest.mark.parametrize(
    ("status", "stage", "expected"),
    [
        (CardStatus.REQUESTED, None, JobProgress.QUEUED),
        (CardStatus.IN_PRODUCTION, None, JobProgress.PRINTING),
        (CardStatus.IN_PRODUCTION, JobProgress.ENCODING, JobProgress.ENCODING),
        (CardStatus.IN_PRODUCTION, JobProgress.HANDED_OVER, JobProgress.PRINTING),
        (CardStatus.READY, None, JobProgress.READY_FOR_PICKUP),
        (CardStatus.READY, JobProgress.ENCODING, JobProgress.READY_FOR_PICKUP),
        (CardStatus.ACTIVE, None, JobProgress.HANDED_OVER),
        (CardStatus.LOST_FORMAL, None, JobProgress.HANDED_OVER),
        (CardStatus.SPOILED, None, JobProgress.FAILED),
        (CardStatus.SUPERSEDED, None, None),
        (CardStatus.CANCELLED, None, None),
    ],
)
def test_progress(
    status: CardStatus, stage: JobProgress | None, expected: JobProgress | None
) -> None:
    assert progress_of(status, stage) is expected


def test_progress_labels() -> None:
    assert JobProgress.READY_FOR_PICKUP.label_zh == "待领取"
    assert len({p.label_zh for p in JobProgress}) == len(JobProgress)
