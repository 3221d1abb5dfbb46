"""Checking a whole batch file before anything is enqueued.

Design notes: ``docs/batches.md`` (section ``issuance.batches.check``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rich.table import Table

from intake.photo import DEFAULT_LIMITS, PhotoLimits
from issuance.batches.archive import ZipPhotos
from issuance.batches.formats import (
    FILE_FIELD,
    BatchSource,
    FileKind,
    FormatProblem,
    RawRow,
    Record,
    open_batch,
)
from issuance.batches.parallel import FIRST_CHUNK_ROWS, FIRST_CHUNKS, Checked, check_records
from issuance.batches.rows import Applicant, RowContext, RowResult
from sscard_core.errors import BatchRejected, FieldProblem

MAX_ROWS = 10_000
ACTIVE_CARD_CHUNK = 1_000
# The first applicants are handed on as soon as the first (small) worker chunks are back, so that
# the writes start early.
FIRST_CHUNK = FIRST_CHUNK_ROWS * FIRST_CHUNKS
REJECTS_HEADER = ("line", "field", "code", "message")

HasActiveCard = Callable[[Sequence[str]], AbstractSet[str]]
OnChunk = Callable[[Sequence[Applicant]], None]


class BatchProblem(StrEnum):
    """Problems found across rows (the FieldProblem code)."""

    TOO_MANY_ROWS = "too_many_rows"
    DUPLICATE = "duplicate_in_batch"
    ACTIVE_CARD = "active_card"


@dataclass(frozen=True)
class BatchCheck:
    """The outcome of a check: the valid applicants and the problems of the rest."""

    kind: FileKind
    encoding: str
    rows_read: int
    applicants: tuple[Applicant, ...]
    problems: tuple[FieldProblem, ...]

    @property
    def rejected_lines(self) -> frozenset[int]:
        return frozenset(p.line for p in self.problems if p.line is not None)


@dataclass(frozen=True)
class _Pending:
    """A row whose citizen ID is valid, waiting for the active-card lookup; ``applicant``
    when the row is valid otherwise (and not a duplicate)."""

    citizen_id: str
    line: int
    applicant: Applicant | None


class _Tally:
    """Applicants and problems gathered while the rows stream past."""

    def __init__(
        self,
        header_problems: Iterable[FieldProblem],
        has_active_card: HasActiveCard | None = None,
        on_chunk: OnChunk | None = None,
        *,
        partial: bool = False,
    ) -> None:
        self.problems: list[FieldProblem] = list(header_problems)
        self.applicants: list[Applicant] = []
        self.pending: list[_Pending] = []
        self.flushed = False
        self.first_line: dict[str, int] = {}
        self.has_active_card = has_active_card
        self.on_chunk = on_chunk
        self.partial = partial

    def row(self, raw: RawRow, result: RowResult) -> None:
        self.problems.extend(result.problems)
        if result.citizen_id is None:
            return
        duplicate = self._is_duplicate(result.citizen_id, raw.line)
        applicant = None if duplicate else result.applicant
        self.pending.append(_Pending(result.citizen_id, raw.line, applicant))
        if len(self.pending) >= (ACTIVE_CARD_CHUNK if self.flushed else FIRST_CHUNK):
            self.flush()

    def flush(self) -> None:
        """Flag the active cards of the pending rows (valid or not); hand the valid ones on."""
        chunk, self.pending = self.pending, []
        self.flushed = True
        flagged: AbstractSet[str] = frozenset()
        if self.has_active_card is not None:
            flagged = _flag_active(chunk, self.problems, self.has_active_card)
        valid = [p.applicant for p in chunk
                 if p.applicant is not None and p.citizen_id not in flagged]  # fmt: skip
        self.applicants.extend(valid)
        doomed = self.problems and not self.partial  # the batch will be rejected
        if valid and self.on_chunk is not None and not doomed:
            self.on_chunk(valid)

    def _is_duplicate(self, citizen_id: str, line: int) -> bool:
        first = self.first_line.setdefault(citizen_id, line)
        if first == line:
            return False
        message = f"the same citizen ID as line {first}"
        self.problems.append(FieldProblem("citizen_id", BatchProblem.DUPLICATE, message, line))
        return True


class _Limit:
    """Counts the rows read; past ``max_rows`` a problem ends the stream."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.rows = 0

    def apply(self, records: Iterator[Record]) -> Iterator[Record]:
        for record in records:
            if isinstance(record, RawRow):
                self.rows += 1
                if self.rows > self.max_rows:
                    message = f"a batch holds at most {self.max_rows} applicants"
                    yield FieldProblem(FILE_FIELD, BatchProblem.TOO_MANY_ROWS, message, record.line)
                    return
            yield record


def _read(checked: Iterator[Checked], tally: _Tally) -> None:
    for item in checked:
        if isinstance(item, FieldProblem):
            tally.problems.append(item)
        else:
            tally.row(*item)


def _flag_active(
    chunk: list[_Pending], problems: list[FieldProblem], has_active_card: HasActiveCard
) -> AbstractSet[str]:
    """Report every row of ``chunk`` (at most one lookup's worth) whose applicant holds an
    active card, whatever else is wrong with the row; the IDs found."""
    ids = tuple(dict.fromkeys(p.citizen_id for p in chunk))
    flagged = set(has_active_card(ids)) & set(ids) if ids else set()
    for row in chunk:
        if row.citizen_id in flagged:
            message = "the applicant already holds an active card"
            problems.append(FieldProblem("citizen_id", BatchProblem.ACTIVE_CARD, message, row.line))
    return flagged


def _is_empty(tally: _Tally, rows: int) -> bool:
    already = any(p.code == FormatProblem.EMPTY_FILE for p in tally.problems)
    return rows == 0 and not already


def check_batch(
    source: BatchSource,
    *,
    photos: ZipPhotos | None = None,
    partial: bool = False,
    has_active_card: HasActiveCard | None = None,
    encoding: str | None = None,
    today: date | None = None,
    max_rows: int = MAX_ROWS,
    photo_limits: PhotoLimits = DEFAULT_LIMITS,
    on_chunk: OnChunk | None = None,
    workers: int | None = None,
) -> BatchCheck:
    """Check every row of ``source``; raise :class:`BatchRejected` unless ``partial``.

    ``workers`` processes check the rows of a large batch (by default one per
    core; 1 checks serially in this thread), with the same outcome.
    """
    batch = open_batch(source, encoding=encoding)
    tally = _Tally(batch.header_problems, has_active_card, on_chunk, partial=partial)
    ctx = RowContext(photos=photos, declared=batch.columns, today=today, photo_limits=photo_limits)
    limit = _Limit(max_rows)
    count = (os.cpu_count() or 1) if workers is None else workers
    _read(check_records(limit.apply(batch.records), ctx, count), tally)
    tally.flush()
    if _is_empty(tally, limit.rows):
        message = "the file holds no applicant"
        tally.problems.append(FieldProblem(FILE_FIELD, FormatProblem.EMPTY_FILE, message))
    problems = sorted(tally.problems, key=lambda p: p.line or 0)
    if problems and not partial:
        raise BatchRejected(problems)
    return BatchCheck(
        batch.kind, batch.encoding, limit.rows, tuple(tally.applicants), tuple(problems)
    )


def rejects_csv(problems: Iterable[FieldProblem]) -> str:
    """The problems as CSV (line, field, code, message), one per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REJECTS_HEADER)
    for p in problems:
        writer.writerow(("" if p.line is None else p.line, p.field, p.code, p.message))
    return out.getvalue()


def problems_table(problems: Sequence[FieldProblem], *, title: str = "Rejected rows") -> Table:
    """The problems as a rich table for the terminal."""
    table = Table(title=f"{title} ({len(problems)})", show_lines=False)
    table.add_column("Line", justify="right")
    for heading in ("Field", "Code", "Message"):
        table.add_column(heading)
    for p in problems:
        table.add_row("" if p.line is None else str(p.line), p.field, p.code, p.message)
    return table
