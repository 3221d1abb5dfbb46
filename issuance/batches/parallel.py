"""Checking a batch's rows serially or in a pool of worker processes.

Design notes: ``docs/batches.md`` (section ``issuance.batches.parallel``).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import chain, islice, repeat

from intake.fonts import font_coverage
from intake.photo import PhotoLimits
from issuance.batches.archive import SharedArchive, ZipPhotos
from issuance.batches.formats import Column, RawRow, Record
from issuance.batches.rows import (
    Applicant,
    ArchivePhoto,
    InlinePhoto,
    PhotoRef,
    RowContext,
    RowResult,
    check_row,
)
from sscard_core.card_data import Gender
from sscard_core.errors import FieldProblem

PARALLEL_MIN_ROWS = 500
CHUNK_ROWS = 500
# The first chunks are small, so that the first checked rows come back (and their writes can
# begin) soon after the workers start.
FIRST_CHUNK_ROWS = 125
FIRST_CHUNKS = 2
IN_FLIGHT_PER_WORKER = 2
# A chunk's photos come back to the caller as bytes (about 10 MB for 500 ID photos): the
# chunks in flight, and the worker processes, are bounded whatever the number of cores, so
# that a batch's peak memory is the same on a 2-core and on a 64-core host.
MAX_WORKERS = 4
MAX_IN_FLIGHT = MAX_WORKERS * IN_FLIGHT_PER_WORKER
# The workers yield the CPU to everything else in the machine: the batch's own writes (the
# submitting process and its database backend) and the counters' requests.
WORKER_NICENESS = 10
# Forked workers start in milliseconds and import nothing. From Python 3.12 forking a
# process that runs threads (the check runs in a worker thread) is deprecated, so there the
# workers come from a fork server: a clean process that has imported this module once.
START_METHOD = "fork" if sys.version_info < (3, 12) else "forkserver"

Checked = FieldProblem | tuple[RawRow, RowResult]
_Fields = tuple[int, str, str, Gender, date, int, str]


def check_serially(records: Iterator[Record], ctx: RowContext) -> Iterator[Checked]:
    """Each file-level problem as it is, each row with its result, in file order."""
    for record in records:
        yield record if isinstance(record, FieldProblem) else (record, check_row(record, ctx))


def check_records(records: Iterator[Record], ctx: RowContext, workers: int) -> Iterator[Checked]:
    """As :func:`check_serially`, in a pool of ``workers`` processes when that pays."""
    first = list(islice(records, CHUNK_ROWS))
    rest = chain(first, records)
    if workers < 2 or len(first) < PARALLEL_MIN_ROWS:
        return check_serially(rest, ctx)
    return _in_pool(_chunks(rest), ctx, workers)


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    """:data:`FIRST_CHUNKS` chunks of :data:`FIRST_CHUNK_ROWS` records, then :data:`CHUNK_ROWS`."""
    sizes = chain(repeat(FIRST_CHUNK_ROWS, FIRST_CHUNKS), repeat(CHUNK_ROWS))
    while chunk := list(islice(records, next(sizes))):
        yield chunk


# --- the worker side ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """What a worker needs to build its own :class:`RowContext`."""

    archive: SharedArchive | None
    declared: frozenset[Column] | None
    today: date | None
    photo_limits: PhotoLimits

    @classmethod
    def of(cls, ctx: RowContext) -> _Setup:
        archive = None if ctx.photos is None else ctx.photos.shared()
        return cls(archive, ctx.declared, ctx.today, ctx.photo_limits)

    def context(self) -> RowContext:
        photos = None if self.archive is None else ZipPhotos.adopt(self.archive)
        return RowContext(photos, self.declared, self.today, self.photo_limits)


# A row's result as it crosses back from a worker: (citizen ID, problems, the Applicant's fields
# but its photo, an archive photo's bytes). A plain tuple, not a dataclass: a dataclass is
# pickled through its __reduce_ex__ and costs twice as much per row, both ways.
_Sent = tuple[str | None, tuple[FieldProblem, ...], _Fields | None, bytes | None]


class _Worker:
    """The worker process's context, set once by the pool's initializer."""

    ctx: RowContext | None = None


def _start(setup: _Setup) -> None:
    os.nice(WORKER_NICENESS)
    _Worker.ctx = setup.context()


def _send(result: RowResult) -> _Sent:
    a = result.applicant
    if a is None:
        return (result.citizen_id, result.problems, None, None)
    fields = (a.line, a.citizen_id, a.name, a.gender, a.birth_date, a.ethnicity, a.phone)
    archived = a.photo.read() if isinstance(a.photo, ArchivePhoto) else None
    return (result.citizen_id, result.problems, fields, archived)


def _check_chunk(rows: list[RawRow]) -> list[_Sent]:
    ctx = _Worker.ctx
    assert ctx is not None, "the pool's initializer sets the worker's context"
    return [_send(check_row(raw, ctx)) for raw in rows]


# --- the caller's side --------------------------------------------------------------------


def _photo(raw: RawRow, archived: bytes | None, photos: ZipPhotos | None) -> PhotoRef:
    if archived is None:
        return InlinePhoto(raw.cells[Column.PHOTO_BASE64])
    assert photos is not None, "an archive photo was checked, so there is an archive"
    member = raw.cells[Column.PHOTO]
    photos.keep(member, archived)
    return ArchivePhoto(photos, member)


def _receive(raw: RawRow, sent: _Sent, photos: ZipPhotos | None) -> RowResult:
    citizen_id, problems, fields, archived = sent
    if fields is None:
        return RowResult(None, citizen_id, problems)
    applicant = Applicant(*fields, photo=_photo(raw, archived, photos))
    return RowResult(applicant, citizen_id, problems)


def _merge(
    chunk: list[Record], done: Future[list[_Sent]], photos: ZipPhotos | None
) -> Iterator[Checked]:
    sent = iter(done.result())
    for record in chunk:
        if isinstance(record, FieldProblem):
            yield record
        else:
            yield record, _receive(record, next(sent), photos)


def _submit(
    pool: ProcessPoolExecutor, chunk: list[Record], *, starts_workers: bool
) -> Future[list[_Sent]]:
    """Send a chunk's rows; the first submission forks the workers from a frozen heap."""
    rows = [r for r in chunk if isinstance(r, RawRow)]
    if not starts_workers:
        return pool.submit(_check_chunk, rows)
    gc.freeze()  # the workers' collector then never writes to (and copies) the caller's pages
    try:
        return pool.submit(_check_chunk, rows)
    finally:
        gc.unfreeze()


def pool_bounds(workers: int) -> tuple[int, int]:
    """The worker processes and the chunks in flight for ``workers`` asked: both bounded."""
    processes = max(1, min(workers, MAX_WORKERS))
    return processes, min(processes * IN_FLIGHT_PER_WORKER, MAX_IN_FLIGHT)


def _in_pool(chunks: Iterator[list[Record]], ctx: RowContext, workers: int) -> Iterator[Checked]:
    processes, in_flight = pool_bounds(workers)
    mp = multiprocessing.get_context(START_METHOD)
    font_coverage()  # loaded once here, inherited by forked workers instead of read in each
    if START_METHOD == "forkserver":
        mp.set_forkserver_preload([__name__])
    setup = _Setup.of(ctx)
    pending: deque[tuple[list[Record], Future[list[_Sent]]]] = deque()
    executor = ProcessPoolExecutor(processes, mp_context=mp, initializer=_start, initargs=(setup,))
    with executor as pool:
        try:
            for index, chunk in enumerate(chunks):
                pending.append((chunk, _submit(pool, chunk, starts_workers=index == 0)))
                if len(pending) > in_flight:
                    yield from _merge(*pending.popleft(), ctx.photos)
            while pending:
                yield from _merge(*pending.popleft(), ctx.photos)
        finally:
            for _, future in pending:
                future.cancel()
