"""The permission matrix (every role x operation) and the bank scope rule."""

from __future__ import annotations

import itertools

import pytest

from issuance.domain.roles import Grant, Operation, Role, authorise, may
from sscard_core.errors import Forbidden, NotFound

Op = Operation
COUNTER_WORK = {
    Op.APPLY, Op.REPLACE, Op.REISSUE, Op.ACTIVATE, Op.HAND_OVER, Op.REPORT_LOSS, Op.CANCEL_LOSS,
    Op.QUERY_STATUS, Op.PIN_CHANGE, Op.PIN_RESET, Op.CHANGE_INFO, Op.HOME_VISIT, Op.CHANGE_BANK,
    Op.QUOTE_FEES, Op.READ_HOLDER, Op.LIST_JOBS,
}  # fmt: skip
# The specification, written out independently of roles.PERMISSIONS.
EXPECTED: dict[Role, set[Operation]] = {
    Role.CLERK: COUNTER_WORK,
    Role.SUPERVISOR: COUNTER_WORK | {Op.CANCEL_CARD, Op.AUDIT_READ, Op.REPORT_INCIDENT},
    Role.BANK_ADMIN: {
        Op.MANAGE_OUTLETS, Op.MANAGE_OPERATORS, Op.MANAGE_FEES, Op.QUOTE_FEES, Op.QUERY_STATUS,
        Op.LIST_JOBS, Op.AUDIT_READ, Op.READ_OVERSIGHT, Op.REPORT_INCIDENT,
    },
    Role.BUREAU_AUDITOR: {
        Op.QUERY_STATUS, Op.READ_HOLDER, Op.QUOTE_FEES, Op.LIST_JOBS, Op.AUDIT_READ,
        Op.READ_OVERSIGHT,
    },
    Role.BUREAU_ADMIN: {
        Op.READ_OVERSIGHT, Op.EVALUATE_BANK, Op.MANAGE_BANKS, Op.REVIEW_FILINGS,
        Op.REPORT_INCIDENT, Op.LIST_JOBS, Op.MANAGE_KEYS, Op.RUN_RETENTION,
    },
    Role.AGENT: {Op.CLAIM_JOB, Op.REPORT_JOB},
}  # fmt: skip
HOLDER_OR_JOB = {
    Op.APPLY, Op.REPLACE, Op.REISSUE, Op.ACTIVATE, Op.HAND_OVER, Op.REPORT_LOSS, Op.CANCEL_LOSS,
    Op.CANCEL_CARD, Op.QUERY_STATUS, Op.PIN_CHANGE, Op.PIN_RESET, Op.CHANGE_INFO, Op.HOME_VISIT,
    Op.CHANGE_BANK, Op.READ_HOLDER, Op.LIST_JOBS, Op.CLAIM_JOB, Op.REPORT_JOB,
}  # fmt: skip
MATRIX = list(itertools.product(Role, Operation))
ALLOWED = [(role, op) for role, op in MATRIX if op in EXPECTED[role]]


BUREAU = {Role.BUREAU_AUDITOR, Role.BUREAU_ADMIN}


def bank_of(role: Role) -> str | None:
    return None if role in BUREAU else "B01"


@pytest.mark.parametrize(("role", "operation"), MATRIX, ids=str)
def test_matrix(role: Role, operation: Operation) -> None:
    allowed = operation in EXPECTED[role]
    assert may(role, operation) is allowed
    if allowed:
        grant = authorise(role, bank_of(role), operation, "B01")
        assert grant == Grant(role, operation, "B01")
    else:
        with pytest.raises(Forbidden) as info:
            authorise(role, bank_of(role), operation, "B01")
        assert info.value.http_status == 403


@pytest.mark.parametrize(("role", "operation"), ALLOWED, ids=str)
def test_other_banks_are_out_of_scope(role: Role, operation: Operation) -> None:
    if role in BUREAU:
        assert authorise(role, None, operation, "B02").bank == "B02"
        return
    expected = NotFound if operation in HOLDER_OR_JOB else Forbidden
    with pytest.raises(expected) as info:
        authorise(role, "B01", operation, "B02")
    assert type(info.value) is expected
    assert "B02" not in info.value.message


def test_not_found_for_another_bank_reads_like_a_missing_record() -> None:
    with pytest.raises(NotFound) as info:
        authorise(Role.CLERK, "B01", Op.READ_HOLDER, "B02")
    assert info.value.code == "not_found"


@pytest.mark.parametrize("role", [r for r in Role if r not in BUREAU])
def test_bank_roles_need_a_bank(role: Role) -> None:
    operation = next(iter(sorted(EXPECTED[role])))
    with pytest.raises(Forbidden) as info:
        authorise(role, None, operation, None)
    assert info.value.code == "no_bank"


def test_operations_without_a_target_bank_are_scoped_to_the_operator() -> None:
    assert authorise(Role.CLERK, "B01", Op.APPLY, None).bank == "B01"


def test_every_operation_is_someones_job() -> None:
    assert set().union(*EXPECTED.values()) == set(Operation)
