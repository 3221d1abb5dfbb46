"""Expedited small batches (小批量加急制发卡): submission, progress, failing a card, documents.

Design notes: ``docs/batches.md`` (section ``issuance.services.batches``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

from cardqueue import NewJob, Queue
from intake.photo import sniff_format
from issuance.batches.archive import ZipPhotos
from issuance.batches.check import BatchCheck, HasActiveCard, check_batch
from issuance.batches.formats import BatchSource, FileKind
from issuance.batches.rows import Applicant
from issuance.domain import lifecycle
from issuance.domain.cards import Action, CardStatus
from issuance.domain.roles import Operation, Role
from issuance.services import jobs
from issuance.services.common import (
    AuditAction,
    Purpose,
    check,
    counter_outlet,
    now,
)
from issuance.services.dispatch import agent_sites
from issuance.services.ordering import (
    CARD_JOB,
    MEDIA_TYPES,
    HolderInput,
    Issue,
    holder_record,
    new_card,
)
from issuance.services.oversight import ensure_may_order
from issuance.store import EventRecord, HolderRecord, Operator, OutletRecord, Store
from issuance.store.records import BatchCounts, BatchEntryRecord, BatchRecord, NewBatch, NewCard
from printers.documents.manifest import (
    BatchHeading,
    Completion,
    ManifestEntry,
    ManifestStatus,
    PrinterRun,
)
from sscard_core.card_data import BEIJING_REGION
from sscard_core.errors import ConflictError, FieldError, FieldProblem, Forbidden, NotFound
from sscard_core.messages import Capability, JobState, Priority

LINE_ALIAS = "central"
PHOTO_CHUNK_COUNT = 1_000
PHOTO_CHUNK_BYTES = 32 * 1024 * 1024
SECONDS_PER_HOUR = 3600.0
CHUNKS_AHEAD = 2  # chunks checked and waiting to be written (about 40 MB of ID photos)
STOP_POLL_SECONDS = 0.05
# An upload this old belongs to a batch whose process died: no batch takes an hour to write.
STALE_UPLOAD = timedelta(hours=1)


class BatchStatus(StrEnum):
    IN_PRODUCTION = "in_production"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Submission:
    """A batch file as received, with its options."""

    source: BatchSource
    photos: bytes | Path | None = None
    site: str | None = None
    partial: bool = False
    encoding: str | None = None
    today: date | None = None


@dataclass(frozen=True)
class Accepted:
    """What was enqueued, and the problems of the rows left out (partial mode)."""

    batch: BatchRecord
    problems: tuple[FieldProblem, ...]


@dataclass(frozen=True)
class Progress:
    """A batch's standing, its pace and when it should finish."""

    batch: BatchRecord
    counts: BatchCounts
    cards_per_hour: float | None
    estimated_finish: datetime | None

    @property
    def complete(self) -> bool:
        return BatchStatus(self.batch.status) is BatchStatus.COMPLETE


# --- the site ---------------------------------------------------------------------------------


def line_site(bank: str) -> str:
    """The site of ``bank``'s production line: the one its outlet-less agent claims."""
    line = Operator(0, "line", Role.AGENT, bank, None)
    (site,) = agent_sites(line)
    return site


async def resolve_site(store: Store, op: Operator, requested: str | None) -> str:
    """The site jobs go to: an open outlet of the operator's bank, or the bank's line."""
    bank = op.bank or ""
    line = line_site(bank)
    if requested in (None, "", LINE_ALIAS, line):
        return line
    assert requested is not None
    outlet = await store.outlet(requested)
    if outlet is None or outlet.bank != bank or not outlet.open:
        raise FieldError(
            "site", f"{requested!r} is neither an open outlet of this bank nor its line"
        )
    return outlet.code


# --- checking ---------------------------------------------------------------------------------


def _active_lookup(store: Store, loop: asyncio.AbstractEventLoop) -> HasActiveCard:
    def has_active_card(ids: Sequence[str]) -> AbstractSet[str]:
        future = asyncio.run_coroutine_threadsafe(store.citizen_ids_with_live_card(ids), loop)
        return future.result()

    return has_active_card


# --- writing ----------------------------------------------------------------------------------


def _holder_input(a: Applicant) -> HolderInput:
    return HolderInput(
        citizen_id=a.citizen_id, name=a.name, gender=a.gender, birth_date=a.birth_date,
        ethnicity=a.ethnicity, birthplace=a.citizen_id[:6], phone=a.phone,
    )  # fmt: skip


def _photo_chunks(applicants: Sequence[Applicant]) -> Iterator[list[tuple[bytes, str]]]:
    chunk: list[tuple[bytes, str]] = []
    size = 0
    for a in applicants:
        image = a.photo.read()
        chunk.append((image, MEDIA_TYPES[sniff_format(image)]))
        size += len(image)
        if len(chunk) >= PHOTO_CHUNK_COUNT or size >= PHOTO_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class _Photos:
    """The batch's photos, written ahead of its transaction on a connection of their own.

    Each chunk's photos are sent with COPY and committed on their own, tagged with
    the batch (their upload), while the transaction writes the rest of the chunk
    before; the chunk's cards then refer to them. The batch's transaction closes
    the upload as it commits. A batch that fails marks its upload failed once its
    transaction has let go of the rows (:func:`sweep_uploads` then deletes them).
    """

    def __init__(self, uploads: Store, batch_id: str) -> None:
        self._uploads = uploads
        self._batch_id = batch_id
        self._turn = asyncio.Lock()
        self._pending: list[asyncio.Future[list[int]]] = []
        self._stopped = False

    def write(self, applicants: Sequence[Applicant]) -> asyncio.Future[list[int]]:
        """Start writing the applicants' photos; their ids, in order, when written."""
        future = asyncio.ensure_future(self._write(applicants))
        self._pending.append(future)
        return future

    async def _write(self, applicants: Sequence[Applicant]) -> list[int]:
        async with self._turn:
            chunks = _photo_chunks(applicants)
            ids: list[int] = []
            while not self._stopped and (chunk := await asyncio.to_thread(next, chunks, None)):
                ids += await self._uploads.insert_photos(chunk, upload=self._batch_id)
            return ids

    async def fail(self) -> None:
        """Stop; once the writes under way have ended, mark the upload failed."""
        self._stopped = True
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._uploads.fail_upload(self._batch_id)


async def sweep_uploads(store: Store) -> int:
    """Delete the photos of failed batches, and of batches whose process died; how many."""
    dead = await store.dead_uploads(STALE_UPLOAD)
    for batch in dead:
        await store.discard_upload(batch)
    return len(dead)


@dataclass(frozen=True)
class _Issue:
    """What every card of the batch shares."""

    bank: str
    institution: str
    outlet: str
    issued: date


def _new_card(issue: _Issue, a: Applicant, sequence: int) -> NewCard:
    """The applicant's card; its holder and photo ids are filled in when they are written."""
    card_issue = Issue(issue.bank, issue.institution, issue.outlet, issue.issued)
    return new_card(sequence, _holder_input(a), card_issue, holder=0, photo=0)


async def _events(tx: Store, op: Operator, card_ids: list[int]) -> None:
    """ORDER (none → requested) then START_PRODUCTION, as the lifecycle allows."""
    at = now()
    state: CardStatus | None = None
    for action in (Action.ORDER, Action.START_PRODUCTION):
        after = lifecycle.apply(state, action)
        before = None if state is None else state.value
        event = EventRecord(action.value, before, after.value, op.id, op.outlet, at, None, "")
        await tx.insert_events_many(card_ids, event)
        state = after


def _jobs(batch: str, site: str, outlet: str, cards: Sequence[tuple[int, NewCard]]) -> list[NewJob]:
    return [
        NewJob(
            idempotency_key=f"batch:{batch}:{c.card_number}", kind=CARD_JOB, site=site,
            capability=Capability.PRINT_ENCODE, priority=Priority.EXPEDITED,
            payload={"card_id": card_id, "card": c.card_data, "outlet": outlet}, batch=batch,
        )
        for card_id, c in cards
    ]  # fmt: skip


@dataclass(frozen=True)
class _Prepared:
    """A chunk's rows, built ahead of its writes: all that does not need the ids they return."""

    applicants: Sequence[Applicant]
    holders: list[HolderRecord]
    cards: list[tuple[int, NewCard]]  # (card id drawn ahead, card without holder and photo)
    jobs: list[NewJob]
    photos: asyncio.Future[list[int]]  # the photos' ids, in order, once written


@dataclass(frozen=True)
class _Writer:
    """Writes each chunk of checked applicants in the batch's open transaction.

    :meth:`prepare` (card numbers drawn on ``numbers``, a connection outside the
    transaction, and the rows built in a worker thread) runs for the next chunk
    while :meth:`store` writes this one, so the database and the building of
    rows work at the same time.
    """

    tx: Store
    numbers: Store
    photos: _Photos
    queue: Queue
    op: Operator
    batch_id: str
    site: str
    issue: _Issue

    async def prepare(self, applicants: Sequence[Applicant]) -> _Prepared:
        photos = self.photos.write(applicants)
        drawn = await self.numbers.next_card_sequences(len(applicants))
        return await asyncio.to_thread(self._build, applicants, drawn, photos)

    def _build(
        self,
        applicants: Sequence[Applicant],
        drawn: list[tuple[int, int]],
        photos: asyncio.Future[list[int]],
    ) -> _Prepared:
        bank = self.issue.bank
        holders = [holder_record(_holder_input(a), bank) for a in applicants]
        cards = [
            (card_id, _new_card(self.issue, a, sequence))
            for a, (sequence, card_id) in zip(applicants, drawn, strict=True)
        ]
        jobs = _jobs(self.batch_id, self.site, self.issue.outlet, cards)
        return _Prepared(applicants, holders, cards, jobs, photos)

    async def store(self, p: _Prepared) -> None:
        tx = self.tx
        holders = await tx.upsert_holders(p.holders, self.issue.bank)
        results = await self.queue.enqueue_many(p.jobs, conn=tx.connection)
        photos = await p.photos
        rows = [
            (card_id, replace(card, holder=holders[a.citizen_id], photo=photo), r.job_id)
            for a, (card_id, card), r, photo in zip(
                p.applicants, p.cards, results, photos, strict=True
            )
        ]
        await tx.insert_cards(rows, CardStatus.IN_PRODUCTION)
        card_ids = [i for i, _ in p.cards]
        await _events(tx, self.op, card_ids)
        await tx.insert_batch_cards(self.batch_id, card_ids, [a.line for a in p.applicants])
        audited = list(holders.values())
        await tx.audit_many(self.op, Purpose.APPLY.value, audited, AuditAction.CHANGE.value)


class _Stopped(Exception):
    """Raised in the checking thread once the writer has failed."""


async def _prepare_all(
    chunks: asyncio.Queue[list[Applicant] | None],
    prepared: asyncio.Queue[_Prepared | None],
    writer: _Writer,
) -> None:
    try:
        while (chunk := await chunks.get()) is not None:
            prepared.put_nowait(await writer.prepare(chunk))
    finally:
        prepared.put_nowait(None)


async def _check_and_write(
    lookups: Store, submission: Submission, photos: ZipPhotos | None, writer: _Writer
) -> BatchCheck:
    """Check in a worker thread; write each chunk as soon as it has passed every check.

    The check runs at most :data:`CHUNKS_AHEAD` chunks ahead of the writes: their
    photos' bytes are held until written, so a batch never sits in memory whole.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[list[Applicant] | None] = asyncio.Queue()
    prepared: asyncio.Queue[_Prepared | None] = asyncio.Queue()
    stop = threading.Event()
    room = threading.Semaphore(CHUNKS_AHEAD)

    def on_chunk(chunk: Sequence[Applicant]) -> None:
        while not room.acquire(timeout=STOP_POLL_SECONDS):
            if stop.is_set():
                raise _Stopped
        if stop.is_set():
            raise _Stopped
        loop.call_soon_threadsafe(chunks.put_nowait, list(chunk))

    s = submission
    checking = asyncio.ensure_future(asyncio.to_thread(
        check_batch, s.source, photos=photos, partial=s.partial,
        has_active_card=_active_lookup(lookups, loop), encoding=s.encoding, today=s.today,
        on_chunk=on_chunk,
    ))  # fmt: skip
    checking.add_done_callback(lambda _: chunks.put_nowait(None))
    preparing = asyncio.ensure_future(_prepare_all(chunks, prepared, writer))
    try:
        while (chunk := await prepared.get()) is not None:
            await writer.store(chunk)
            room.release()
        await preparing
    except BaseException:
        stop.set()
        preparing.cancel()
        with contextlib.suppress(BaseException):
            await preparing
        with contextlib.suppress(Exception):
            await checking
        raise
    return await checking


async def _open_batch(
    tx: Store, queue: Queue, op: Operator, outlet: OutletRecord, site: str, *, pool: Store,
    uploads: Store,
) -> _Writer:  # fmt: skip
    batch_id = await tx.next_batch_id()
    await uploads.open_upload(batch_id)
    kind = FileKind.CSV.value  # until the file has been read
    await tx.insert_batch(NewBatch(batch_id, outlet.bank, site, op.id, kind, 0, 0, 0))
    institution = await tx.institution_code(outlet.bank) or BEIJING_REGION.ljust(12, "0")
    issue = _Issue(outlet.bank, institution, outlet.code, now().date())
    return _Writer(tx, pool, _Photos(uploads, batch_id), queue, op, batch_id, site, issue)


async def _write_batch(
    tx: Store, queue: Queue, op: Operator, submission: Submission, photos: ZipPhotos | None,
    *, site: str, pool: Store, uploads: Store,
) -> Accepted:  # fmt: skip
    outlet = await counter_outlet(tx, op)
    await ensure_may_order(tx, outlet.bank, outlet)
    writer = await _open_batch(tx, queue, op, outlet, site, pool=pool, uploads=uploads)
    try:
        found = await _check_and_write(pool, submission, photos, writer)
        if not found.applicants:
            raise ConflictError("no row of the batch can be accepted", code="batch_empty")
        await tx.set_batch_counts(
            writer.batch_id, file_kind=found.kind.value, rows_read=found.rows_read,
            accepted=len(found.applicants), rejected=len(found.rejected_lines),
        )  # fmt: skip
    except BaseException:  # the upload's row is not locked by this transaction until below
        with contextlib.suppress(Exception):  # a dead upload is swept all the same, later
            await writer.photos.fail()
        raise
    await tx.close_upload(writer.batch_id)  # the photos are the cards' as the batch commits
    record = await tx.batch(writer.batch_id)
    assert record is not None
    return Accepted(record, found.problems)


async def submit(
    store: Store,
    queue: Queue,
    op: Operator,
    submission: Submission,
    *,
    lookups: Store | None = None,
) -> Accepted:
    """Check the file and write the batch, its cards and jobs in ONE transaction.

    Chunks of applicants are written as soon as they pass, while later rows
    are still being checked; a rejected batch rolls everything back.
    ``lookups`` runs the active-card queries and the photos' writes on
    connections of their own (a store over the pool; by default ``store``,
    which must then not be bound to a transaction). The photos are written
    ahead of the transaction (:class:`_Photos`); when ``store`` is bound to the
    caller's transaction, the caller runs :func:`sweep_uploads` once it has
    ended, or a failed batch's photos wait for the next submission's sweep.
    """
    check(op, Operation.APPLY, op.bank)
    pool = lookups or store
    site = await resolve_site(store, op, submission.site)
    joined = store.in_transaction  # the caller's transaction: the caller sweeps after it ends
    try:
        with _archive(submission.photos) as photos:
            async with pool.connected() as uploads:
                await sweep_uploads(uploads)
                async with store.transaction() as tx:
                    return await _write_batch(
                        tx, queue, op, submission, photos, site=site, pool=pool, uploads=uploads
                    )
    finally:
        if not joined:
            with contextlib.suppress(Exception):
                await sweep_uploads(pool)


def _archive(photos: bytes | Path | None) -> AbstractContextManager[ZipPhotos | None]:
    """The photo archive, opened and inspected now (a hostile one is refused here)."""
    return nullcontext() if photos is None else ZipPhotos(photos)


# --- progress, documents, failing a card ------------------------------------------------------


async def scoped_batch(
    store: Store, op: Operator, operation: Operation, batch_id: str
) -> BatchRecord:
    """The batch if ``op`` may see it; another bank's batch looks missing."""
    check(op, operation, None)
    found = await store.batch(batch_id)
    try:
        if found is not None:
            check(op, operation, found.bank)
    except (NotFound, Forbidden):  # the role was checked above: this is the bank scope
        found = None
    if found is None:
        raise NotFound(f"no batch {batch_id}", resource="batch")
    return found


def pace(completions: Sequence[tuple[datetime, str]]) -> float | None:
    """Cards per hour between the first and the last completion (None before two)."""
    if len(completions) < 2:
        return None
    span = (completions[-1][0] - completions[0][0]).total_seconds()
    return None if span <= 0 else (len(completions) - 1) * SECONDS_PER_HOUR / span


def estimate(counts: BatchCounts, rate: float | None) -> datetime | None:
    left = counts.remaining + counts.in_doubt
    if left == 0:
        return counts.at
    if rate is None:
        return None
    return counts.at + timedelta(hours=left / rate)


async def progress(store: Store, op: Operator, batch_id: str) -> Progress:
    """The batch's counts, pace and estimated finish; marks it complete when it is."""
    batch = await scoped_batch(store, op, Operation.QUERY_STATUS, batch_id)
    counts = await store.batch_counts(batch_id)
    finished = BatchStatus(batch.status) is BatchStatus.COMPLETE
    if counts.remaining == 0 and counts.in_doubt == 0 and not finished:
        await store.finish_batch(batch_id)
        batch = await scoped_batch(store, op, Operation.QUERY_STATUS, batch_id)
    rate = pace(await store.batch_completions(batch_id))
    return Progress(batch, counts, rate, estimate(counts, rate))


async def entries(
    store: Store, op: Operator, batch_id: str
) -> tuple[BatchRecord, list[BatchEntryRecord]]:
    batch = await scoped_batch(store, op, Operation.QUERY_STATUS, batch_id)
    return batch, await store.batch_entries(batch_id)


async def fail_card(
    store: Store, queue: Queue, op: Operator, batch_id: str, number: str, *, reason: str
) -> Progress:
    """A supervisor fails a card of the batch for good: its job is cancelled, the card spoiled."""
    async with store.transaction() as tx:
        batch = await scoped_batch(tx, op, Operation.CANCEL_CARD, batch_id)
        card = await tx.card_by_number(number)
        missing = NotFound(f"no card {number} in batch {batch_id}", resource="card")
        if card is None or card.job_id is None:
            raise missing
        if not await tx.fail_batch_card(batch.id, card.id, reason, op.id):
            raise missing
        await jobs.cancel(tx, queue, op, card.job_id, reason=reason)
    return await progress(store, op, batch_id)


# --- documents --------------------------------------------------------------------------------

BEIJING = timezone(timedelta(hours=8))


def entry_status(e: BatchEntryRecord) -> ManifestStatus:
    """A card's status on the manifest, from its job."""
    outcome = None if e.outcome is None else JobState(e.outcome)
    state = None if e.job_state is None else JobState(e.job_state)
    if outcome is JobState.SUCCEEDED:
        return ManifestStatus.ISSUED
    if (
        e.failed_reason is not None
        or JobState.CANCELLED in (outcome, state)
        or state is JobState.DEAD
    ):
        return ManifestStatus.FAILED
    return ManifestStatus.PENDING


async def _heading(store: Store, batch: BatchRecord) -> BatchHeading:
    outlet = await store.outlet(batch.site)
    place = outlet.name if outlet is not None else f"{batch.bank} 制卡线 {batch.site}"
    return BatchHeading(batch.id, place, batch.submitted_at.astimezone(BEIJING).date())


async def manifest(
    store: Store, op: Operator, batch_id: str
) -> tuple[BatchHeading, list[ManifestEntry]]:
    """The manifest's heading and one entry per card, in file order (names and citizen
    IDs: a read of each holder, audited)."""
    batch = await scoped_batch(store, op, Operation.QUERY_STATUS, batch_id)
    rows = await store.batch_entries(batch_id)
    await store.audit_batch(op, Purpose.BATCH_MANIFEST.value, batch_id)
    entries = [ManifestEntry(e.card_number, e.name, e.citizen_id, entry_status(e)) for e in rows]
    return await _heading(store, batch), entries


def printer_runs(
    completions: Sequence[tuple[datetime, str]], spoiled: dict[str, int]
) -> tuple[PrinterRun, ...]:
    """Each printer's cards, spoiled bodies and busy time, from its completion timestamps.

    The busy time is the span from the printer's first completion to its last,
    plus one mean interval for the first card (zero for a single card).
    """
    times: dict[str, list[datetime]] = {name: [] for name in spoiled}
    for at, printer in completions:
        times.setdefault(printer, []).append(at)
    runs = []
    for name in sorted(times):
        made = times[name]
        span = (made[-1] - made[0]) if len(made) > 1 else timedelta(0)
        busy = span * len(made) / (len(made) - 1) if len(made) > 1 else span
        runs.append(PrinterRun(name or "?", len(made), spoiled.get(name, 0), busy))
    return tuple(runs)


async def completion(store: Store, op: Operator, batch_id: str) -> Completion:
    """The completion report's figures."""
    done = await progress(store, op, batch_id)
    completions = await store.batch_completions(batch_id)
    spoiled = await store.batch_spoiled_by_printer(batch_id)
    c = done.counts
    heading = await _heading(store, done.batch)
    return Completion(heading, c.done, c.failed, c.spoiled, printer_runs(completions, spoiled))
