"""Who may do what: roles, operations, the permission table and the bank scope rule.

Every API operation is a member of :class:`Operation`; :data:`PERMISSIONS`
says, as data, which roles may perform it. :func:`authorise` adds the scope
rule:

* a bank's clerks, supervisors and administrators act only on their own
  bank's records;
* the bureau's auditors see every bank, and its administrators decide on
  every bank (lifecycle steps, filings, evaluations, exit);
* an outlet agent (the program driving a printer) only claims and reports
  card jobs of its own bank.

Errors, and why they differ:

* The role lacks the operation → :class:`sscard_core.errors.Forbidden`. This
  reveals nothing about any record.
* The target belongs to another bank → for holder and job records
  :class:`sscard_core.errors.NotFound`, exactly what a missing record gives, so
  an operator cannot learn that a person holds a card at another bank
  (第五条(七): holder information is confidential). For a bank's own
  configuration (outlets, operators, fees), which is public or names the
  bank anyway, → Forbidden.
* A bank-scoped operator without a bank → Forbidden (a misconfigured
  account must not fall back to wider access).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sscard_core.errors import Forbidden, NotFound, SscardError


class Role(StrEnum):
    CLERK = "clerk"  # counter staff
    SUPERVISOR = "supervisor"  # counter supervisor: also cancels cards
    BANK_ADMIN = "bank_admin"  # the bank's outlets, operators and fees
    BUREAU_AUDITOR = "bureau_auditor"  # the municipal bureau: reads every bank's records
    BUREAU_ADMIN = "bureau_admin"  # the municipal bureau: decides on banks, filings, evaluations
    AGENT = "agent"  # an outlet's printer agent


class Subject(StrEnum):
    """What kind of record an operation touches (decides the out-of-scope error)."""

    HOLDER = "holder"  # a person, their cards, applications and PINs
    JOB = "job"  # a card-production job
    BANK = "bank"  # a bank's outlets, operators, fee schedule
    OVERSIGHT = "oversight"  # the bureau's records of banks


class Operation(StrEnum):
    APPLY = "apply"
    REPLACE = "replace"
    REISSUE = "reissue"
    ACTIVATE = "activate"
    HAND_OVER = "hand_over"
    REPORT_LOSS = "report_loss"
    CANCEL_LOSS = "cancel_loss"
    CANCEL_CARD = "cancel_card"
    QUERY_STATUS = "query_status"
    PIN_CHANGE = "pin_change"
    PIN_RESET = "pin_reset"
    CHANGE_INFO = "change_info"
    HOME_VISIT = "home_visit"
    CHANGE_BANK = "change_bank"
    QUOTE_FEES = "quote_fees"
    READ_HOLDER = "read_holder"
    LIST_JOBS = "list_jobs"
    CLAIM_JOB = "claim_job"
    REPORT_JOB = "report_job"
    MANAGE_OUTLETS = "manage_outlets"
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_FEES = "manage_fees"
    AUDIT_READ = "audit_read"
    EVALUATE_BANK = "evaluate_bank"
    MANAGE_BANKS = "manage_banks"
    READ_OVERSIGHT = "read_oversight"  # a bank's lifecycle, deadlines, filings, evaluations
    REVIEW_FILINGS = "review_filings"  # acknowledge or return an outlet filing
    REPORT_INCIDENT = "report_incident"  # 第五条(八): record and close incidents
    MANAGE_KEYS = "manage_keys"  # the data keys of the whole deployment: list, rotate, destroy
    RUN_RETENTION = "run_retention"  # erase personal data past its retention period, every bank

    @property
    def subject(self) -> Subject:
        return SUBJECTS[self]


Op = Operation

SUBJECTS: dict[Operation, Subject] = {
    **dict.fromkeys(
        (Op.APPLY, Op.REPLACE, Op.REISSUE, Op.ACTIVATE, Op.HAND_OVER, Op.REPORT_LOSS,
         Op.CANCEL_LOSS, Op.CANCEL_CARD, Op.QUERY_STATUS, Op.PIN_CHANGE, Op.PIN_RESET,
         Op.CHANGE_INFO, Op.HOME_VISIT, Op.CHANGE_BANK, Op.READ_HOLDER),
        Subject.HOLDER,
    ),
    **dict.fromkeys((Op.LIST_JOBS, Op.CLAIM_JOB, Op.REPORT_JOB), Subject.JOB),
    **dict.fromkeys(
        (Op.QUOTE_FEES, Op.MANAGE_OUTLETS, Op.MANAGE_OPERATORS, Op.MANAGE_FEES, Op.AUDIT_READ,
         Op.READ_OVERSIGHT, Op.REPORT_INCIDENT),
        Subject.BANK,
    ),
    **dict.fromkeys(
        (Op.EVALUATE_BANK, Op.MANAGE_BANKS, Op.REVIEW_FILINGS, Op.MANAGE_KEYS, Op.RUN_RETENTION),
        Subject.OVERSIGHT,
    ),
}  # fmt: skip

COUNTER = frozenset(
    {Op.APPLY, Op.REPLACE, Op.REISSUE, Op.ACTIVATE, Op.HAND_OVER, Op.REPORT_LOSS, Op.CANCEL_LOSS,
     Op.QUERY_STATUS, Op.PIN_CHANGE, Op.PIN_RESET, Op.CHANGE_INFO, Op.HOME_VISIT, Op.CHANGE_BANK,
     Op.QUOTE_FEES, Op.READ_HOLDER, Op.LIST_JOBS}
)  # fmt: skip

PERMISSIONS: dict[Role, frozenset[Operation]] = {
    Role.CLERK: COUNTER,
    Role.SUPERVISOR: COUNTER | {Op.CANCEL_CARD, Op.AUDIT_READ, Op.REPORT_INCIDENT},
    Role.BANK_ADMIN: frozenset(
        {Op.MANAGE_OUTLETS, Op.MANAGE_OPERATORS, Op.MANAGE_FEES, Op.QUOTE_FEES, Op.QUERY_STATUS,
         Op.LIST_JOBS, Op.AUDIT_READ, Op.READ_OVERSIGHT, Op.REPORT_INCIDENT}
    ),
    Role.BUREAU_AUDITOR: frozenset(
        {Op.QUERY_STATUS, Op.READ_HOLDER, Op.QUOTE_FEES, Op.LIST_JOBS, Op.AUDIT_READ,
         Op.READ_OVERSIGHT}
    ),
    Role.BUREAU_ADMIN: frozenset(
        {Op.READ_OVERSIGHT, Op.EVALUATE_BANK, Op.MANAGE_BANKS, Op.REVIEW_FILINGS,
         Op.REPORT_INCIDENT, Op.LIST_JOBS, Op.MANAGE_KEYS, Op.RUN_RETENTION}
    ),
    Role.AGENT: frozenset({Op.CLAIM_JOB, Op.REPORT_JOB}),
}  # fmt: skip

ALL_BANKS = frozenset({Role.BUREAU_AUDITOR, Role.BUREAU_ADMIN})
OUT_OF_SCOPE_ERROR: dict[Subject, type[SscardError]] = {
    Subject.HOLDER: NotFound,
    Subject.JOB: NotFound,
    Subject.BANK: Forbidden,
    Subject.OVERSIGHT: Forbidden,
}


@dataclass(frozen=True)
class Grant:
    """The outcome of a successful check: who may do what, and on which bank."""

    role: Role
    operation: Operation
    bank: str | None


def may(role: Role, operation: Operation) -> bool:
    """True if the role's permissions include the operation (scope aside)."""
    return operation in PERMISSIONS[role]


def authorise(
    operator_role: Role,
    operator_bank: str | None,
    operation: Operation,
    target_bank: str | None,
) -> Grant:
    """Check role and scope; Forbidden or NotFound as the module docstring explains.

    ``target_bank`` is the bank owning the record acted on, or for a new record
    (an application, a bank change) the bank that will own it; None when the
    operation concerns no single bank (e.g. the bureau's cross-bank audit).
    """
    if not may(operator_role, operation):
        raise Forbidden(
            f"a {operator_role} may not {operation}", role=operator_role.value,
            operation=operation.value,
        )  # fmt: skip
    if operator_role in ALL_BANKS:
        return Grant(operator_role, operation, target_bank)
    if operator_bank is None:
        raise Forbidden(f"this {operator_role} account belongs to no bank", code="no_bank")
    if target_bank not in (None, operator_bank):
        error = OUT_OF_SCOPE_ERROR[operation.subject]
        raise error(f"no such {operation.subject} at this bank")
    return Grant(operator_role, operation, operator_bank)
