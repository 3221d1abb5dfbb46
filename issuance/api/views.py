"""Records as JSON bodies (the shapes documented by the response models in schemas.py)."""

from __future__ import annotations

from typing import Any

from cardqueue import Job
from issuance.domain.disclosure import Field, shown
from issuance.domain.fees import Quote
from issuance.services.audit import AuditPage
from issuance.services.cards import CardStatusView
from issuance.services.dispatch import Claimed
from issuance.services.jobs import JobDecision
from issuance.services.ordering import CARD_JOB
from issuance.store import AuditRow, CardRecord, HolderRecord, IssuedToken, Operator, PrinterRecord

Body = dict[str, Any]


def card(c: CardRecord) -> Body:
    return {
        "card_number": c.card_number,
        "card_identifier": c.card_identifier,
        "status": c.status.value,
        "status_label": c.status.info.label_zh,
        "bank": c.bank,
        "issue_date": c.issue_date.isoformat(),
        "expiry_date": c.expiry_date.isoformat(),
        "job_id": c.job_id,
        "ordered_at_outlet": c.ordered_at_outlet,
        "activated_at_outlet": c.activated_at_outlet,
    }


def status(v: CardStatusView) -> Body:
    return {
        "card": card(v.card),
        "progress": None if v.progress is None else v.progress.value,
        "progress_label": None if v.progress is None else v.progress.label_zh,
        "job_state": None if v.job_state is None else v.job_state.value,
    }


def job_decision(d: JobDecision) -> Body:
    return {
        "job_id": d.job_id,
        "state": d.state.value,
        "card": None if d.card is None else card(d.card),
    }


def holder(h: HolderRecord, whole: frozenset[Field] = frozenset()) -> Body:
    """The holder's record, each value of ``Field`` masked unless it is in ``whole``."""
    return {
        "citizen_id": shown(Field.CITIZEN_ID, h.citizen_id, whole),
        "name": h.name,
        "gender": h.gender.value,
        "birth_date": h.birth_date.isoformat(),
        "ethnicity": h.ethnicity,
        "birthplace": h.birthplace,
        "phone": shown(Field.PHONE, h.phone, whole),
        "address": shown(Field.ADDRESS, h.address, whole),
        "bank": h.bank,
    }


def quote(q: Quote) -> Body:
    lines = [
        {"item": ln.item.value, "label": ln.item.label_zh, "amount_fen": ln.amount_fen,
         "waived": ln.waived}
        for ln in q.lines
    ]  # fmt: skip
    return {"service": q.service.value, "lines": lines, "total_fen": q.total_fen}


def photo_url(job_id: int) -> str:
    return f"/v1/agent/jobs/{job_id}/photo"


def agent_job(job: Job, lease_seconds: float) -> Body:
    payload = dict(job.payload)
    if job.kind == CARD_JOB:
        payload["photo_url"] = photo_url(job.id)
    return {
        "id": job.id,
        "kind": job.kind,
        "priority": int(job.priority),
        "attempts": job.attempts,
        "lease_seconds": lease_seconds,
        "payload": payload,
    }


def claimed(c: Claimed) -> Body:
    return {"jobs": [agent_job(j, c.lease_seconds) for j in c.jobs]}


def printer(p: PrinterRecord) -> Body:
    return {"name": p.name, "status": p.status, "fault": p.fault}


def operator(o: Operator) -> Body:
    return {"id": o.id, "name": o.name, "role": o.role.value, "bank": o.bank, "outlet": o.outlet}


def token(t: IssuedToken, o: Operator) -> Body:
    return {"token": t.token, "expires_at": t.expires_at, "operator": operator(o)}


def audit_record(r: AuditRow) -> Body:
    return {
        "id": r.id, "at": r.at, "operator": r.operator, "operator_name": r.operator_name,
        "bank": r.bank, "outlet": r.outlet, "purpose": r.purpose, "action": r.action,
        "holder": r.holder, "card": r.card, "card_number": r.card_number, "detail": r.detail,
        "prev_hash": r.prev_hash.hex(), "hash": r.hash.hex(),
    }  # fmt: skip


def audit_page(p: AuditPage) -> Body:
    return {"records": [audit_record(r) for r in p.rows], "next_after": p.next_after}
