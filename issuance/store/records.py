"""The rows the store hands out, as frozen dataclasses (never raw records or dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from issuance.domain.cards import CardStatus
from issuance.domain.roles import Role
from sscard_core.card_data import Gender
from sscard_core.messages import JobState, JobStep


@dataclass(frozen=True)
class Operator:
    """Who is calling: found by the SHA-256 of their bearer token (its id and expiry)."""

    id: int
    name: str
    role: Role
    bank: str | None
    outlet: str | None
    token_id: int | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class Credentials:
    """What sign-in checks for an operator: password hash and second factor."""

    operator: Operator
    password_scrypt: str | None
    totp_secret: str | None
    totp_confirmed: bool
    totp_last_step: int


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token just made (the only time it is seen) and when it expires."""

    token: str
    token_id: int
    expires_at: datetime


@dataclass(frozen=True)
class AuditRow:
    """One record of the audit trail, with the hash of the record before it."""

    id: int
    at: datetime
    operator: int
    bank: str | None
    outlet: str | None
    purpose: str
    holder: int | None
    card: int | None
    action: str
    detail: str
    prev_hash: bytes
    hash: bytes
    operator_name: str = ""
    card_number: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows a search wants (None: any)."""

    bank: str | None = None
    holder: int | None = None
    card: int | None = None
    operator: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None


@dataclass(frozen=True)
class OutletRecord:
    code: str
    bank: str
    name: str
    district: str
    address: str
    can_issue_instantly: bool
    has_security_terminal: bool
    psam_serial: str | None
    open: bool
    activation_only: bool = False
    bank_stage: str | None = None  # as read with the outlet (None: not read)


@dataclass(frozen=True)
class HolderRecord:
    id: int
    citizen_id: str
    name: str
    gender: Gender
    birth_date: date
    ethnicity: int
    birthplace: str
    phone: str
    address: str
    bank: str


@dataclass(frozen=True)
class CardRecord:
    id: int
    card_number: str
    card_identifier: str
    holder: int
    bank: str
    status: CardStatus
    issue_date: date
    expiry_date: date
    card_data: dict[str, Any]
    photo: int
    ordered_at_outlet: str | None
    activated_at_outlet: str | None
    job_id: int | None
    replaces: int | None
    superseded_by: int | None


@dataclass(frozen=True)
class CardJobRead:
    """A card as a status query reads it, with its job's state and step while in production."""

    card: CardRecord
    job_state: JobState | None
    job_step: JobStep | None


@dataclass(frozen=True)
class AuditEntry:
    """The audit row of a change written together with it: who, why and what kind of access."""

    operator: Operator
    purpose: str
    action: str


@dataclass(frozen=True)
class EventRecord:
    action: str
    from_status: str | None
    to_status: str
    operator: int | None
    outlet: str | None
    at: datetime
    reason: str | None
    note: str


@dataclass(frozen=True)
class PrinterRecord:
    site: str
    name: str
    status: str
    fault: str | None


class PrintSettled(StrEnum):
    """How a print whose card may have existed was settled, and on what evidence."""

    DELIVERED = "delivered"  # the card reached the hopper (the printer, or its chip read)
    NOT_PRINTED = "not_printed"  # the printer showed the print never started
    SPOILED = "spoiled"  # printing started and the card was spoiled (e.g. stuck half-printed)
    ABSENT = "absent"  # a supervisor confirmed that no such card exists


@dataclass(frozen=True)
class PrintRecord:
    """An attempt of a card job that announced it was about to print ``card_number``."""

    job_id: int
    attempt: int
    card_number: str
    worker: str
    announced_at: datetime


@dataclass(frozen=True)
class StoredResponse:
    """What an idempotent request answered the first time (status None: still running)."""

    request_sha256: bytes
    status: int | None
    body: bytes | None


@dataclass(frozen=True)
class NewCard:
    """A card row to insert; numbers come from the card-number sequence."""

    card_number: str
    card_identifier: str
    holder: int
    bank: str
    issue_date: date
    expiry_date: date
    card_data: dict[str, Any]
    photo: int
    ordered_at_outlet: str | None
    replaces: int | None


@dataclass(frozen=True)
class NewBatch:
    """An accepted batch file, before its cards are written."""

    id: str
    bank: str
    site: str
    submitted_by: int
    file_kind: str
    rows_read: int
    accepted: int
    rejected: int


@dataclass(frozen=True)
class BatchRecord:
    id: str
    bank: str
    site: str
    submitted_by: int
    submitted_at: datetime
    file_kind: str
    rows_read: int
    accepted: int
    rejected: int
    status: str
    finished_at: datetime | None


@dataclass(frozen=True)
class BatchCounts:
    """How a batch's cards stand, read at ``at`` (the database's clock)."""

    cards: int
    done: int
    failed: int
    in_doubt: int
    remaining: int
    spoiled: int
    at: datetime


@dataclass(frozen=True)
class BatchEntryRecord:
    """One card of a batch, in file order, with how its job stands."""

    card_number: str
    name: str
    citizen_id: str
    failed_reason: str | None
    job_state: str | None  # queued, running, in_doubt, dead; None once finished
    outcome: str | None  # succeeded or cancelled once finished
    spoiled: bool


@dataclass(frozen=True)
class TerminalRecord:
    serial: str
    model: str
    outlet: str
    state: str
    registered_at: datetime


@dataclass(frozen=True)
class PsamRecord:
    """A PSAM card, with the outlet and state of the terminal it sits in (if any)."""

    serial: str
    bank: str
    terminal: str | None
    state: str
    updated_at: datetime
    outlet: str | None
    terminal_state: str | None


@dataclass(frozen=True)
class PsamMove:
    """One move of a PSAM card: what, from which state to which, where, by whom, when."""

    action: str
    from_state: str | None
    to_state: str
    terminal: str | None
    operator: int | None
    actor: str
    note: str
    at: datetime | None = None


@dataclass(frozen=True)
class StockRequestRecord:
    """A stock change one operator asked for, waiting for (or given) a second one's decision."""

    id: int
    kind: str
    bank: str
    outlet: str
    to_outlet: str | None
    lot: str
    quantity: int
    note: str
    state: str
    requested_by: int
    requested_by_name: str
    requested_at: datetime
    decided_by: int | None
    decided_by_name: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class ReconciliationRecord:
    """One outlet's day: opening + received - issued - spoiled - destroyed = expected."""

    outlet: str
    day: date
    opening: int
    received: int
    issued: int
    spoiled: int
    destroyed: int
    expected: int
    counted: int
    fed: int
    exceptions: list[dict[str, Any]]
    reconciled_by: int
    at: datetime | None = None
