"""第五条(八): the incidents register; and home visits (上门服务) for every counter service.

An incident (device, security, personal data, service outage) is recorded by the bank (its
administrator or a supervisor) or the bureau, with its severity, when it occurred, when it
was reported to the bureau and, later, its closure. Open incidents are visible to the bureau.

A home visit is booked for any counter service a person who cannot come may need. An
application at home orders its card when it is booked (``POST /v1/home-visits``); a visit
for another service is booked here against the person's current card, and the service is
performed at the visit through its own endpoint. Each visit ends done, cancelled or missed,
with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from issuance.domain.counter_services import Service
from issuance.domain.identity import CitizenId
from issuance.domain.roles import Operation, may
from issuance.services import oversight as bureau
from issuance.services.common import AuditAction, Purpose, audit, check, counter_outlet, now
from issuance.store import Operator, Store
from issuance.store.oversight import IncidentRow, VisitRow
from issuance.store.store import open_visit_address, seal_visit_address
from sscard_core.errors import ConflictError, FieldError, NotFound


class IncidentKind(StrEnum):
    DEVICE = "device"
    SECURITY = "security"
    PERSONAL_DATA = "personal_data"
    SERVICE_OUTAGE = "service_outage"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class NewIncident:
    bank: str
    outlet: str | None
    kind: IncidentKind
    severity: Severity
    description: str
    occurred_at: datetime
    reported_at: datetime


def _aware(field: str, moment: datetime) -> None:
    if moment.tzinfo is None:
        raise FieldError(field, "must carry a time zone", code="naive_datetime")


async def report(store: Store, op: Operator, i: NewIncident) -> IncidentRow:
    check(op, Operation.REPORT_INCIDENT, i.bank)
    _aware("occurred_at", i.occurred_at)
    _aware("reported_at", i.reported_at)
    if i.reported_at < i.occurred_at:
        raise FieldError("reported_at", "an incident is reported after it occurred")
    if not 0 < len(i.description.strip()) <= 4000:
        raise FieldError("description", "1 to 4000 characters")
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        if await o.bank(i.bank) is None:
            raise NotFound(f"no bank {i.bank}", resource="bank")
        if i.outlet is not None and (await o.known_outlets([i.outlet])).get(i.outlet) != i.bank:
            raise FieldError("outlet", f"no outlet {i.outlet} at bank {i.bank}")
        incident_id = await o.insert_incident((
            i.bank, i.outlet, i.kind.value, i.severity.value, i.description.strip(),
            i.occurred_at, i.reported_at, op.id,
        ))  # fmt: skip
        await bureau.log(o, op, i.bank, "incident", str(incident_id), kind=i.kind.value,
                         severity=i.severity.value)  # fmt: skip
        found = await o.incident(incident_id)
        assert found is not None
        return found


async def close(
    store: Store, op: Operator, incident_id: int, resolution: str, closed_at: datetime | None
) -> IncidentRow:
    at = closed_at or now()
    _aware("closed_at", at)
    if not 0 < len(resolution.strip()) <= 4000:
        raise FieldError("resolution", "1 to 4000 characters")
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        found = await o.incident(incident_id)
        if found is None:
            raise NotFound(f"no incident {incident_id}", resource="incident")
        check(op, Operation.REPORT_INCIDENT, found.bank)
        if at < found.occurred_at:
            raise FieldError("closed_at", "an incident closes after it occurred")
        if not await o.close_incident(incident_id, at, resolution.strip(), op.id):
            raise ConflictError(f"incident {incident_id} is already closed", code="closed")
        await bureau.log(o, op, found.bank, "incident_closed", str(incident_id))
        closed = await o.incident(incident_id)
        assert closed is not None
        return closed


async def incidents(
    store: Store, op: Operator, *, bank: str | None = None, open_only: bool = False
) -> list[IncidentRow]:
    check(op, Operation.READ_OVERSIGHT, bank)
    return await bureau.oversight(store).incidents(op.bank or bank, open_only)


# --- home visits ----------------------------------------------------------------------------------


class VisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"


VISIT_SERVICES = frozenset(Service) - {Service.HOME_VISIT}


@dataclass(frozen=True)
class VisitBooking:
    citizen_id: str
    service: Service
    appointment_at: datetime
    address: str


async def book(store: Store, op: Operator, v: VisitBooking) -> int:
    """A home visit for a counter service other than an application (which orders its card
    through ``POST /v1/home-visits``)."""
    check(op, Operation.HOME_VISIT, op.bank)
    if v.service not in VISIT_SERVICES or v.service is Service.APPLY:
        raise FieldError("service", "an application at home is booked with POST /v1/home-visits")
    _aware("appointment_at", v.appointment_at)
    if not 0 < len(v.address.strip()) <= 200:
        raise FieldError("address", "the visit needs an address")
    async with store.transaction() as tx:
        outlet = await counter_outlet(tx, op)
        holder = await tx.holder_by_citizen_id(CitizenId.parse(v.citizen_id).value, lock=False)
        if holder is None or holder.bank != op.bank:
            raise NotFound("no such holder at this bank", resource="holder")
        cards = await tx.cards_of_holder(holder.id, lock=False)
        if not cards:
            raise ConflictError("the person has no card to serve", code="no_card")
        address = seal_visit_address(tx.vault, v.address.strip())  # 第五条(七)
        visit_id = await bureau.oversight(tx).insert_visit((
            holder.id, cards[-1].id, outlet.code, v.appointment_at, address, op.id,
            v.service.value,
        ))  # fmt: skip
        await audit(tx, op, Purpose.HOME_VISIT, holder.id, AuditAction.CHANGE)
        return visit_id


async def visits(
    store: Store, op: Operator, *, bank: str | None = None, status: VisitStatus | None = None
) -> list[VisitRow]:
    """Home visits by appointment: a bank's own for its staff, any bank's for the bureau."""
    reads = Operation.HOME_VISIT if may(op.role, Operation.HOME_VISIT) else Operation.READ_OVERSIGHT
    check(op, reads, op.bank or bank)
    rows = await bureau.oversight(store).visits(op.bank or bank, status and status.value)
    return [replace(r, address=open_visit_address(store.vault, r.address)) for r in rows]


async def finish(
    store: Store, op: Operator, visit_id: int, status: VisitStatus, outcome: str
) -> None:
    """A scheduled visit ends done, cancelled or missed, with its outcome."""
    check(op, Operation.HOME_VISIT, op.bank)
    if status is VisitStatus.SCHEDULED:
        raise FieldError("status", "done, cancelled or missed")
    if not 0 < len(outcome.strip()) <= 1000:
        raise FieldError("outcome", "1 to 1000 characters")
    async with store.transaction() as tx:
        o = bureau.oversight(tx)
        found = await o.visit(visit_id)
        if found is None or found[0] != op.bank:
            raise NotFound(f"no home visit {visit_id}", resource="home_visit")
        if found[1] != VisitStatus.SCHEDULED.value:
            raise ConflictError(f"home visit {visit_id} is already {found[1]}",
                                code="visit_finished")  # fmt: skip
        await o.set_visit_status(visit_id, status.value, outcome.strip())
