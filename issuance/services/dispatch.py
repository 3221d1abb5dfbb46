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
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cardqueue import Job, Queue
from cardqueue.wakeups import Wakeups
from issuance.domain.cards import Action, CardStatus
from issuance.domain.roles import Operation, Role
from issuance.services import psams
from issuance.services.common import AuditAction, Purpose, audit, check, transition
from issuance.services.ordering import MOBILE_SUFFIX, central_site
from issuance.store import (
    CardRecord,
    Operator,
    PrinterRecord,
    PrintRecord,
    PrintSettled,
    Store,
)
from sscard_core.errors import ConflictError, Forbidden, JobNotFound, NotFound
from sscard_core.messages import Capability, JobState, JobStep, PrinterHealth, Reconciliation

MAX_WAIT_SECONDS = 30.0
# A waiting claim is woken by the enqueue's NOTIFY; this slow poll only covers a
# wake-up connection that is down (or a job whose backoff has just run out).
FALLBACK_POLL_SECONDS = 1.0
# A job's lease; SSCARD_LEASE_SECONDS shortens it for the chaos test (at least 2 s).
LEASE_SECONDS = max(2.0, float(os.environ.get("SSCARD_LEASE_SECONDS", "30")))
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
    """Extend the lease and record the physical step (LeaseLost: 409 ``lease_lost``).

    ``printing`` is announced before the printer is told to print: the print is
    recorded (:meth:`~issuance.store.Store.insert_print`) before this answers, and
    refused (409 ``card_already_printed``) if that card number may already exist.
    """
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
    await queue.heartbeat(worker, [job_id], step, LEASE_SECONDS)
    if step is JobStep.FED and card is not None:
        await store.record_job_body(job_id, "fed")  # a blank body left the outlet's stock
    if step is JobStep.PRINTING and card is not None:
        async with store.transaction() as tx:
            job = await queue.get(job_id, conn=tx.connection)
            await tx.insert_print(job_id, job.attempts, card.card_number, worker)


async def may_exist(tx: Store, job_id: int) -> None:
    """Refuse (409 ``card_may_exist``) while a print of ``job_id`` is not settled by evidence."""
    prints = await tx.open_prints(job_id)
    if prints:
        raise CardMayExist(job_id, prints[-1])


class CardMayExist(ConflictError):
    """A card of this job may physically exist: evidence must be recorded first."""

    code = "card_may_exist"

    def __init__(self, job_id: int, p: PrintRecord) -> None:
        super().__init__(
            f"card {p.card_number} of job {job_id} may have been printed (attempt "
            f"{p.attempt}, by {p.worker}, {p.announced_at:%Y-%m-%d %H:%M:%S %Z}) and no evidence "
            "says otherwise; look for it in that outlet's output hopper and reject box, then "
            f"POST /v1/jobs/{job_id}/evidence with the card's chip read back "
            '({"kind": "card_read", "read_back": ...}) or {"kind": "no_card"} if no such card '
            "exists",
            job_id=job_id,
            card_number=p.card_number,
            attempt=p.attempt,
            worker=p.worker,
        )


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
        await tx.settle_prints(job_id, PrintSettled.DELIVERED, f"completed by {worker}")
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
        attempt = (await queue.get(job_id, conn=tx.connection)).attempts
        state, _ = await queue.fail(
            f.worker, job_id, f.error, transient=f.transient, conn=tx.connection
        )
        await tx.settle_prints(job_id, PrintSettled.NOT_PRINTED, f"{f.worker}: {f.error}")
        if f.spoiled_card:
            card_id = None if card is None else card.id
            await tx.insert_spoiled(job_id, card_id, f.printer, f.error, attempt)
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
    spoiled: Spoiled | None = None,
    attempt: int | None = None,
) -> None:
    """Settle an in-doubt job (agents and supervisors); ``made`` makes the card ready.

    An agent reports what its printer told it, which settles the job's open print;
    a supervisor may not settle a job whose card may exist this way (409
    ``card_may_exist``): that takes evidence (:func:`record_evidence`). A spoiled
    body is recorded once per attempt. With ``attempt`` (the agent's run), a job in
    doubt for another attempt is answered like a job not in doubt.
    """
    if op.role not in RECONCILERS:
        raise Forbidden(f"a {op.role} may not reconcile jobs", role=op.role.value)
    async with store.transaction() as tx:
        card, bank = await job_card(tx, queue, job_id)
        if op.bank != bank:
            raise JobNotFound(f"no job {job_id}", job_id=job_id)
        if op.role is not Role.AGENT:
            await may_exist(tx, job_id)
        current = (await queue.get(job_id, conn=tx.connection)).attempts
        if attempt is not None and attempt != current:
            raise JobNotFound(f"no job {job_id} in doubt for attempt {attempt}", job_id=job_id)
        attempt = current
        await queue.resolve_in_doubt(job_id, outcome, note, result, conn=tx.connection)
        settled = PrintSettled.DELIVERED if outcome is Reconciliation.MADE else None
        if settled is None:
            settled = PrintSettled.SPOILED if spoiled is not None else PrintSettled.NOT_PRINTED
        await tx.settle_prints(job_id, settled, f"{op.name}: {note}")
        if spoiled is not None:
            card_id = None if card is None else card.id
            await tx.insert_spoiled(job_id, card_id, spoiled.printer, spoiled.cause, attempt)
            await tx.record_job_body(job_id, "spoiled")
        if outcome is Reconciliation.MADE:
            await _card_made(tx, op, card)
            if card is not None:
                await tx.record_job_body(job_id, "printed")


@dataclass(frozen=True)
class Spoiled:
    """A card body that was fed and not delivered: where, and why."""

    printer: str | None
    cause: str


@dataclass(frozen=True)
class SpoiledBody:
    """A body that attempt ``attempt`` of a card job fed and did not deliver."""

    attempt: int
    printer: str | None
    cause: str


async def record_spoiled_body(
    store: Store, queue: Queue, op: Operator, job_id: int, body: SpoiledBody
) -> bool:
    """An agent's journal shows a body fed and not delivered, whatever became of the job
    since (handed out again, settled): it is recorded once per attempt, with the stock
    moves of its feed and its spoiling. True when this call recorded it."""
    if op.role is not Role.AGENT:
        raise Forbidden(f"a {op.role} may not report spoiled bodies", role=op.role.value)
    async with store.transaction() as tx:
        card, _ = await _scoped_job(tx, queue, op, job_id)
        if card is None:
            raise JobNotFound(f"job {job_id} makes no card", job_id=job_id)
        recorded = await tx.insert_spoiled(job_id, card.id, body.printer, body.cause, body.attempt)
        await tx.record_attempt_body(job_id, "fed", body.attempt)
        await tx.record_attempt_body(job_id, "spoiled", body.attempt)
        return recorded


class EvidenceKind(StrEnum):
    CARD_READ = "card_read"  # the card was found and its chip read: it exists
    NO_CARD = "no_card"  # a supervisor confirms that no such card exists


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    note: str
    read_back: dict[str, Any] | None = None
    printer: str | None = None


def _matches(card: CardRecord, read_back: dict[str, Any] | None) -> bool:
    if not read_back:
        return False
    return (
        read_back.get("card_number") == card.card_number
        and read_back.get("card_identifier") == card.card_identifier
    )


async def record_evidence(
    store: Store, queue: Queue, op: Operator, job_id: int, e: Evidence
) -> JobState:
    """A supervisor settles a card job whose card may exist (see the module docstring).

    ``card_read``: the chip read from the card found (in the hopper) must name this
    job's card (409 ``evidence_mismatch`` otherwise); the job succeeds and the card
    is ready. ``no_card``: the print is settled absent, the body counted spoiled once,
    and an in-doubt job is dead-lettered (it may then be redriven or cancelled).
    """
    if op.role is not Role.SUPERVISOR:
        raise Forbidden(f"a {op.role} may not record evidence", role=op.role.value)
    async with store.transaction() as tx:
        card, bank = await job_card(tx, queue, job_id)
        if op.bank != bank or card is None:
            raise JobNotFound(f"no card job {job_id}", job_id=job_id)
        job = await queue.get(job_id, conn=tx.connection)
        if job.state not in (JobState.IN_DOUBT, JobState.DEAD):
            raise ConflictError(
                f"a {job.state} job is not awaiting evidence", code="job_not_in_doubt",
                state=job.state.value,
            )  # fmt: skip
        if e.kind is EvidenceKind.CARD_READ:
            if not _matches(card, e.read_back):
                raise ConflictError(
                    f"the card read is not card {card.card_number} of job {job_id}",
                    code="evidence_mismatch",
                )
            result = {"evidence": e.kind.value, "read_back": e.read_back, "note": e.note}
            await queue.finish_by_evidence(job_id, result, conn=tx.connection)
            await tx.settle_prints(job_id, PrintSettled.DELIVERED, f"{op.name}: card read")
            await _card_made(tx, op, card)
            await tx.record_job_body(job_id, "printed")
            return JobState.SUCCEEDED
        reason = f"no such card found ({op.name}): {e.note}"
        if await tx.settle_prints(job_id, PrintSettled.ABSENT, reason):
            await tx.insert_spoiled(job_id, card.id, e.printer, reason, job.attempts)
            await tx.record_job_body(job_id, "spoiled")
        if job.state is JobState.IN_DOUBT:
            await queue.resolve_in_doubt(job_id, Reconciliation.FAILED, reason, conn=tx.connection)
        return JobState.DEAD


async def release(queue: Queue, op: Operator, worker: str, keep: Sequence[int]) -> list[int]:
    """A restarted agent's jobs at step idle go back to the queue at once (see the queue)."""
    check(op, Operation.CLAIM_JOB, op.bank)
    return await queue.release(worker, sorted(agent_sites(op)), keep)


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
