"""What the outlet agent (role ``agent``) reports, and its printers.

An agent account belongs to a bank and, for an outlet's printers, to an
outlet. It may claim the jobs of its own sites only: its outlet's counter
printer (site = outlet code) and mobile kit (``<outlet>:mobile``); an agent
account without an outlet drives its bank's central production line
(``central:<BANK>``), never another bank's. Reports about a job of another
bank's card are answered like a missing job.

Completing a card job moves its card ``in_production → ready`` in the same
transaction as the job leaves the queue; a spoiled card body is recorded in
``spoiled_cards``; an in-doubt job is settled by the agent's journal or a
supervisor (:func:`reconcile`), and ``made`` also makes the card ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cardqueue import Job, Queue
from cardqueue.wakeups import Wakeups
from issuance.domain.cards import Action, CardStatus
from issuance.domain.roles import Operation, Role
from issuance.services import psams
from issuance.services.common import AuditAction, Purpose, audit, check, transition
from issuance.services.ordering import MOBILE_SUFFIX, central_site
from issuance.store import CardRecord, Operator, PrinterRecord, Store
from sscard_core.errors import Forbidden, JobNotFound, NotFound
from sscard_core.messages import Capability, JobState, JobStep, PrinterHealth, Reconciliation

MAX_WAIT_SECONDS = 30.0
# A waiting claim is woken by the enqueue's NOTIFY; this slow poll only covers a
# wake-up connection that is down (or a job whose backoff has just run out).
FALLBACK_POLL_SECONDS = 1.0
LEASE_SECONDS = 30.0
RECONCILERS = frozenset({Role.AGENT, Role.SUPERVISOR})


@dataclass(frozen=True)
class Claimed:
    jobs: tuple[Job, ...]
    lease_seconds: float


def agent_sites(op: Operator) -> frozenset[str]:
    """The sites whose jobs this agent may claim and whose printers it reports."""
    if op.outlet is None:
        return frozenset() if op.bank is None else frozenset({central_site(op.bank)})
    return frozenset({op.outlet, op.outlet + MOBILE_SUFFIX})


def _check_site(op: Operator, site: str) -> None:
    check(op, Operation.CLAIM_JOB, op.bank)
    if site not in agent_sites(op):
        raise Forbidden(f"this agent does not serve site {site!r}", code="wrong_site")


async def claim(
    store: Store,
    queue: Queue,
    op: Operator,
    *,
    worker: str,
    site: str,
    capabilities: Sequence[Capability],
    limit: int = 1,
    wait_seconds: float = 20.0,
    gone: Callable[[], Awaitable[bool]] | None = None,
    wakeups: Wakeups | None = None,
    psam: str | None = None,
) -> Claimed:
    """Long-poll: claim up to ``limit`` jobs, waiting up to ``wait_seconds`` (cap 30) for work.

    The wait ends early when ``wakeups`` hears that ``site`` got work (the
    enqueue's NOTIFY). ``gone`` tells whether the caller has hung up: then the
    wait ends with no claim, so no job is leased to an agent that will never
    hear of it. The card data the claimed payloads carry is a read of personal
    data: one audit row per card. Before each attempt the station's PSAM is
    checked (:func:`issuance.services.psams.check_station`), so no job is handed
    to a station whose PSAM was revoked or suspended, even during the wait.
    """
    _check_site(op, site)
    deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT_SECONDS))
    with _watch(wakeups, site) as woken:
        while True:
            if gone is not None and await gone():
                return Claimed((), LEASE_SECONDS)
            woken.clear()  # before the claim: a NOTIFY that lands during it is kept
            await psams.check_station(store, op, op.outlet, psam, capabilities)
            jobs = await queue.claim(worker, site, capabilities, limit, LEASE_SECONDS)
            if jobs:
                await store.audit_claimed_cards(op, Purpose.PRODUCTION.value, [j.id for j in jobs])
            remaining = deadline - time.monotonic()
            if jobs or remaining <= 0:
                return Claimed(tuple(jobs), LEASE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(FALLBACK_POLL_SECONDS, remaining))


@contextlib.contextmanager
def _watch(wakeups: Wakeups | None, site: str) -> Iterator[asyncio.Event]:
    if wakeups is None:
        yield asyncio.Event()  # never set: the fallback poll alone
        return
    with wakeups.watch(site) as woken:
        yield woken


async def job_card(tx: Store, queue: Queue, job_id: int) -> tuple[CardRecord | None, str]:
    """The card a job makes (or a PIN job's card) and the bank it belongs to."""
    card = await tx.card_by_job(job_id)
    if card is not None:
        return card, card.bank
    job = await queue.get(job_id, conn=tx.connection)
    number = job.payload.get("card_number")
    target = None if not isinstance(number, str) else await tx.card_by_number(number)
    if target is None:
        raise JobNotFound(f"no job {job_id}", job_id=job_id)
    return None, target.bank


async def _scoped_job(
    tx: Store, queue: Queue, op: Operator, job_id: int
) -> tuple[CardRecord | None, str]:
    card, bank = await job_card(tx, queue, job_id)
    try:
        check(op, Operation.REPORT_JOB, bank)
    except NotFound:
        raise JobNotFound(f"no job {job_id}", job_id=job_id) from None
    return card, bank


async def heartbeat(
    store: Store, queue: Queue, op: Operator, job_id: int, *, worker: str, step: JobStep
) -> None:
    """Extend the lease and record the physical step (LeaseLost: 409 ``lease_lost``)."""
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
    await queue.heartbeat(worker, [job_id], step, LEASE_SECONDS)
    if step is JobStep.FED and card is not None:
        await store.record_job_body(job_id, "fed")  # a blank body left the outlet's stock


async def _card_made(tx: Store, op: Operator, card: CardRecord | None) -> None:
    if card is not None and card.status is CardStatus.IN_PRODUCTION:
        await transition(tx, card, Action.PRODUCE_DONE, op)


async def complete(
    store: Store,
    queue: Queue,
    op: Operator,
    job_id: int,
    *,
    worker: str,
    result: dict[str, Any],
) -> None:
    """The job is done; its card (if any) becomes ready in the same transaction."""
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
        await queue.complete(worker, [job_id], [result], conn=tx.connection)
        await _card_made(tx, op, card)
        if card is not None:
            await tx.record_job_body(job_id, "printed")


@dataclass(frozen=True)
class Failure:
    worker: str
    error: str
    transient: bool
    spoiled_card: bool
    printer: str | None


async def fail(store: Store, queue: Queue, op: Operator, job_id: int, f: Failure) -> JobState:
    """Report a failure; a spoiled card body is recorded. Returns the job's new state."""
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
        state, _ = await queue.fail(
            f.worker, job_id, f.error, transient=f.transient, conn=tx.connection
        )
        if f.spoiled_card:
            card_id = None if card is None else card.id
            await tx.insert_spoiled(job_id, card_id, f.printer, f.error)
            await tx.record_job_body(job_id, "spoiled")
        return state


async def reconcile(
    store: Store,
    queue: Queue,
    op: Operator,
    job_id: int,
    *,
    outcome: Reconciliation,
    note: str,
    result: dict[str, Any] | None = None,
) -> None:
    """Settle an in-doubt job (agents and supervisors); ``made`` makes the card ready."""
    if op.role not in RECONCILERS:
        raise Forbidden(f"a {op.role} may not reconcile jobs", role=op.role.value)
    async with store.transaction() as tx:
        card, bank = await job_card(tx, queue, job_id)
        if op.bank != bank:
            raise JobNotFound(f"no job {job_id}", job_id=job_id)
        await queue.resolve_in_doubt(job_id, outcome, note, result, conn=tx.connection)
        if outcome is Reconciliation.MADE:
            await _card_made(tx, op, card)
            if card is not None:
                await tx.record_job_body(job_id, "printed")


async def photo(store: Store, queue: Queue, op: Operator, job_id: int) -> tuple[bytes, str]:
    """The holder photo for a card job (a personal-data read: audited)."""
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
        found = await tx.photo_of_job(job_id)
        if card is None or found is None:
            raise JobNotFound(f"job {job_id} makes no card", job_id=job_id)
        await audit(tx, op, Purpose.PRODUCTION, card.holder, AuditAction.READ, card=card.id)
        return found[0], found[1]


async def report_printer(store: Store, op: Operator, name: str, p: PrinterRecord) -> None:
    """The agent's view of one printer (status ok or faulted, with the fault)."""
    _check_site(op, p.site)
    status = PrinterHealth(p.status)
    fault = None if status is PrinterHealth.OK else p.fault
    await store.upsert_printer(PrinterRecord(p.site, name, status.value, fault))


async def printers(store: Store, op: Operator, site: str) -> list[PrinterRecord]:
    _check_site(op, site)
    return await store.printers_of_site(site)


async def clear_printer(store: Store, op: Operator, outlet: str, name: str) -> None:
    """A supervisor clears a printer fault; the agent sees ``ok`` on its next GET."""
    if op.role is not Role.SUPERVISOR:
        raise Forbidden(f"a {op.role} may not clear printer faults", role=op.role.value)
    found = await store.outlet(outlet)
    if found is None or found.bank != op.bank:
        raise NotFound(f"no printer {name} at outlet {outlet}", resource="printer")
    cleared = [await store.clear_printer(site, name) for site in (outlet, outlet + MOBILE_SUFFIX)]
    if not any(cleared):
        raise NotFound(f"no printer {name} at outlet {outlet}", resource="printer")
