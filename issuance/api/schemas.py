"""Request and response bodies (pydantic), and their conversion to service inputs.

Every string is bounded and may not contain NUL (PostgreSQL text cannot hold
it), every integer is bounded to what its column holds, and unknown fields are
refused, so malformed input is a 422 naming the field, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from issuance.domain.cards import ReplaceReason
from issuance.domain.disclosure import Need
from issuance.domain.psam import TerminalState
from issuance.services.audit import MAX_PAGE as MAX_AUDIT_PAGE
from issuance.services.audit import AuditQuery
from issuance.services.cards import Application, LossKind
from issuance.services.ordering import PHOTO_FIELD, HolderInput
from issuance.services.stock import RequestKind
from sscard_core.card_data import Gender
from sscard_core.errors import FieldError
from sscard_core.messages import Capability, JobStep, Reconciliation

NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Short = Annotated[str, text(64, 1)]
Line = Annotated[str, text(200)]
CitizenIdText = Annotated[str, text(40, 1)]
Photo = Annotated[str, StringConstraints(min_length=1, max_length=3_000_000)]
Json = dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def decode_photo(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FieldError(PHOTO_FIELD, "is not base64", code="invalid_photo") from exc


class HolderIn(Strict):
    citizen_id: CitizenIdText
    name: Annotated[str, text(60, 1)]
    gender: Gender
    birth_date: date
    ethnicity: Annotated[int, Field(ge=1, le=56)]
    birthplace: Annotated[str, text(6, 6)]
    phone: Annotated[str, text(32)] = ""
    address: Line = ""

    def to_input(self) -> HolderInput:
        return HolderInput(**self.model_dump())


class ApplyIn(Strict):
    holder: HolderIn
    photo: Photo = Field(description="the holder photo, JPEG or PNG, base64")
    wait: bool = Field(False, description="the holder waits: print at this outlet if it can")

    def to_application(self) -> Application:
        return Application(self.holder.to_input(), decode_photo(self.photo), self.wait)


class ReorderIn(Strict):
    photo: Photo | None = None
    wait: bool = False

    def photo_bytes(self) -> bytes | None:
        return None if self.photo is None else decode_photo(self.photo)


class ReplaceIn(ReorderIn):
    reason: Literal[ReplaceReason.DAMAGED, ReplaceReason.EXPIRED]


class LossIn(Strict):
    kind: LossKind


class PinIn(BaseModel):
    """No PIN here: the holder enters it on the PIN pad at the device."""

    model_config = ConfigDict(extra="allow")


class HolderLookupIn(Strict):
    citizen_id: CitizenIdText
    # The service at hand: decides which values the answer shows whole (see the README).
    purpose: Need = Need.QUERY_STATUS


class InfoChangeIn(Strict):
    citizen_id: CitizenIdText
    name: Annotated[str, text(60, 1)] | None = None
    gender: Gender | None = None
    birth_date: date | None = None
    ethnicity: Annotated[int, Field(ge=1, le=56)] | None = None
    birthplace: Annotated[str, text(6, 6)] | None = None
    phone: Annotated[str, text(32)] | None = None
    address: Line | None = None
    photo: Photo | None = None


class BankChangeIn(ReorderIn):
    citizen_id: CitizenIdText


class HomeVisitIn(ApplyIn):
    appointment_at: datetime
    visit_address: Annotated[str, text(200, 1)]


class FeeScheduleIn(Strict):
    amounts: dict[str, Annotated[int, Field(ge=0, le=10_000_000)]] = {}
    free_withdrawals_per_month: Annotated[int, Field(ge=0, le=1000)] = 5


class ClaimIn(Strict):
    worker: Short
    site: Short
    capabilities: Annotated[list[Capability], Field(min_length=1, max_length=3)]
    limit: Annotated[int, Field(ge=1, le=50)] = 1
    wait_seconds: Annotated[float, Field(ge=0, le=30)] = 20.0
    psam: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None


class HeartbeatIn(Strict):
    worker: Short
    step: JobStep


class CompleteIn(Strict):
    worker: Short
    result: Json = {}


class FailIn(Strict):
    worker: Short
    error: Annotated[str, text(2000, 1)]
    transient: bool
    spoiled_card: bool = False
    printer: Short | None = None


class ReconcileIn(Strict):
    outcome: Reconciliation
    note: Annotated[str, text(2000)] = ""
    result: Json = {}
    spoiled_card: bool = False
    printer: Short | None = None
    attempt: Annotated[int, Field(ge=1)] | None = None


class SpoiledIn(Strict):
    worker: Short
    attempt: Annotated[int, Field(ge=1)]
    cause: Annotated[str, text(2000, 1)]
    printer: Short | None = None


class SpoiledOut(BaseModel):
    recorded: bool


class EvidenceIn(Strict):
    kind: Literal["card_read", "no_card"]
    note: Annotated[str, text(2000)] = ""
    read_back: Json | None = None
    printer: Short | None = None


class ReleaseIn(Strict):
    worker: Short
    keep: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=1000)] = []


class ReleaseOut(BaseModel):
    released: list[int]


class EvidenceOut(BaseModel):
    job_id: int
    state: str


class CancelJobIn(Strict):
    reason: Annotated[str, text(500, 1)]


class PrinterIn(Strict):
    site: Short
    status: Literal["ok", "faulted"]
    fault: Annotated[str, text(500)] | None = None


# --- responses (documented in the OpenAPI document) -------------------------------------


class CardOut(BaseModel):
    card_number: str
    card_identifier: str
    status: str
    status_label: str
    bank: str
    issue_date: date
    expiry_date: date
    job_id: int | None
    ordered_at_outlet: str | None
    activated_at_outlet: str | None


class JobDecisionOut(BaseModel):
    job_id: int
    state: str
    card: CardOut | None


class StatusOut(BaseModel):
    card: CardOut
    progress: str | None
    progress_label: str | None
    job_state: str | None


class HolderOut(BaseModel):
    citizen_id: str
    name: str
    gender: str
    birth_date: date
    ethnicity: int
    birthplace: str
    phone: str
    address: str
    bank: str


class HolderCardsOut(BaseModel):
    holder: HolderOut
    cards: list[CardOut]


class InfoChangeOut(BaseModel):
    holder: HolderOut
    changed: list[str]
    card: CardOut | None


class PinJobOut(BaseModel):
    job_id: int
    card_number: str
    operation: str
    site: str


class HomeVisitOut(BaseModel):
    visit_id: int
    card: CardOut


class QuoteLineOut(BaseModel):
    item: str
    label: str
    amount_fen: int
    waived: bool


class QuoteOut(BaseModel):
    service: str
    lines: list[QuoteLineOut]
    total_fen: int


class WithdrawalOut(BaseModel):
    card_number: str
    month: date
    withdrawals_before: int
    fee_fen: int


class AgentJobOut(BaseModel):
    id: int
    kind: str
    priority: int
    attempts: int
    lease_seconds: float
    payload: Json


class ClaimOut(BaseModel):
    jobs: list[AgentJobOut]


class FailOut(BaseModel):
    state: str


class PrinterOut(BaseModel):
    name: str
    status: str
    fault: str | None


class PrintersOut(BaseModel):
    printers: list[PrinterOut]


# --- operators' credentials and the audit trail ------------------------------------------------

TotpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Password = Annotated[str, text(256, 1)]


class SignInIn(Strict):
    name: Short
    password: Password
    totp_code: TotpCode | None = None


class OperatorOut(BaseModel):
    id: int
    name: str
    role: str
    bank: str | None
    outlet: str | None


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
    operator: OperatorOut


class PasswordIn(Strict):
    current: Password
    new: Password


class TotpOut(BaseModel):
    secret: str
    uri: str


class TotpConfirmIn(Strict):
    code: TotpCode


class RevokedOut(BaseModel):
    revoked: int


class AuditRecordOut(BaseModel):
    id: int
    at: datetime
    operator: int
    operator_name: str
    bank: str | None
    outlet: str | None
    purpose: str
    action: str
    holder: int | None
    card: int | None
    card_number: str | None
    detail: str
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    records: list[AuditRecordOut]
    next_after: int | None


class AuditQueryIn(Strict):
    """Filters of an audit search (query parameters; every one optional)."""

    citizen_id: CitizenIdText | None = None
    card_number: Annotated[str, text(32, 1)] | None = None
    operator: Short | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")] | None = None

    def to_query(self) -> AuditQuery:
        return AuditQuery(
            self.citizen_id, self.card_number, self.operator, self.since, self.until, self.action
        )


class AuditSearchIn(AuditQueryIn):
    after: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    limit: Annotated[int, Field(ge=1, le=MAX_AUDIT_PAGE)] = 100


# --- security terminals and PSAM cards ------------------------------------------------------

Serial = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class TerminalIn(Strict):
    serial: Serial
    model: Short
    outlet: Short


class TerminalStateIn(Strict):
    state: TerminalState


class PsamIn(Strict):
    serial: Serial
    bank: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,6}$")]


class PsamMoveIn(Strict):
    terminal: Serial | None = None
    note: Line = ""


# --- blank card bodies ----------------------------------------------------------------------


class StockRequestIn(Strict):
    kind: RequestKind
    outlet: Short
    to_outlet: Short | None = None
    lot: Serial
    quantity: Annotated[int, Field(ge=1, le=100_000)]
    note: Line = ""


class ReconcileStockIn(Strict):
    day: date
    counted: Annotated[int, Field(ge=0, le=10_000_000)]


# --- data keys and retention ---------------------------------------------------------------


class RotateIn(Strict):
    activate_in_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    batch: Annotated[int, Field(ge=1, le=10_000)] = 500
    blind_index: bool = False  # rotate the blind-index key instead of the data key


class RetentionIn(Strict):
    dry_run: bool = False
