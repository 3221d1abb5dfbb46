"""Response bodies of the bureau's routes, for the OpenAPI document (the routes render JSON
themselves, as the counter's do)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A response body: every field the route renders, and no other."""

    model_config = ConfigDict(extra="forbid")


class ConditionsOut(Out):
    pboc_review_ref: str | None
    pboc_reviewed_on: date | None
    remote_activation_committed: bool
    met: bool


class DeadlineOut(Out):
    stage: str
    clause: str
    owed_by: str
    due: date | None
    overdue: bool
    error: str | None


class DecisionOut(Out):
    id: int
    from_stage: str | None
    to_stage: str
    decided_on: date
    decided_by: int | None
    documents: list[str]
    note: str
    ground: str | None
    at: datetime


class BankOut(Out):
    code: str
    name: str
    institution_code: str
    stage: str
    registered_as_existing: bool
    may_order: bool
    exit_ground: str | None
    conditions: ConditionsOut
    deadline: DeadlineOut | None
    decisions: list[DecisionOut]


class BanksOut(Out):
    banks: list[BankOut]


class OverdueItem(DeadlineOut):
    bank: str
    name: str


class OverdueOut(Out):
    overdue: list[OverdueItem]


class OutletOut(Out):
    code: str
    bank: str
    name: str
    district: str
    address: str
    can_issue_instantly: bool
    has_security_terminal: bool
    psam_serial: str | None
    open: bool
    opening_hours: str
    services: list[str]
    activation_only: bool


class OutletsOut(Out):
    outlets: list[OutletOut]


class FilingOut(Out):
    id: int
    outlet: str
    bank: str
    kind: str
    filed_on: date
    outlet_as_filed: dict[str, Any]
    at: datetime
    status: str
    filed_by: int | None
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str
    instant_after: int | None
    open_after: int | None
    below_instant_share: bool
    instant_share_after: float | None


class FilingsOut(Out):
    filings: list[FilingOut]


class ShareOut(Out):
    bank: str
    instant: int
    open: int
    percent: float
    meets_rule: bool
    required_percent: int


class PublicOutletOut(Out):
    code: str
    name: str
    district: str
    address: str
    opening_hours: str
    services: list[str]
    can_issue_instantly: bool
    activation_only: bool


class PublicBankOut(Out):
    code: str
    name: str
    stage: str
    outlets: list[PublicOutletOut]


class PublicBanksOut(Out):
    banks: list[PublicBankOut]


class LogEntryOut(Out):
    id: int
    operator: int | None
    bank: str | None
    action: str
    subject: str
    details: dict[str, Any]
    at: datetime


class LogOut(Out):
    log: list[LogEntryOut]


class EvaluationOut(Out):
    bank: str
    year: int
    cards_issued: int
    satisfaction_percent: int
    complaints: int
    publicity: int
    security_rules: int
    technical_support: int
    scores: dict[str, int]
    total: float
    passed: bool
    rules: dict[str, Any]
    evaluated_on: date
    evaluated_by: int
    interviews: int
    interview_required: bool
    interview_recorded: bool


class EvaluationsOut(Out):
    evaluations: list[EvaluationOut]


class ImportedOut(Out):
    kind: str
    rows: int


class SpotCheckOut(Out):
    id: int
    bank: str
    outlet: str | None
    checked_on: date
    findings: str
    satisfactory: bool


class SpotChecksOut(Out):
    spot_checks: list[SpotCheckOut]


class InterviewOut(Out):
    id: int
    bank: str
    year: int
    held_on: date
    attendees: str
    summary: str


class InterviewsOut(Out):
    interviews: list[InterviewOut]


class IncidentOut(Out):
    id: int
    bank: str
    outlet: str | None
    kind: str
    severity: str
    description: str
    occurred_at: datetime
    reported_at: datetime
    closed_at: datetime | None
    resolution: str
    recorded_by: int
    closed_by: int | None
    open: bool


class IncidentsOut(Out):
    incidents: list[IncidentOut]


class VisitOut(Out):
    id: int
    bank: str
    outlet: str
    service: str
    appointment_at: datetime
    address: str
    status: str
    outcome: str
    card_number: str
    job_id: int | None
    created_at: datetime
    updated_at: datetime | None


class VisitsOut(Out):
    visits: list[VisitOut]


class VisitBookedOut(Out):
    id: int
