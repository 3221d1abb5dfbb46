"""The outlet agent's local journal: every physical step of every job, on disk first.

Design notes: ``docs/agent.md`` (section ``printers.agent.journal``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self

from sscard_core.errors import DeviceError
from sscard_core.messages import Reconciliation

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    printer TEXT,
    opened_at REAL NOT NULL,
    settled_at REAL,
    settlement TEXT
);
CREATE TABLE IF NOT EXISTS marks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run INTEGER NOT NULL REFERENCES runs(run),
    mark TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS runs_in_flight ON runs(run) WHERE settled_at IS NULL;
"""


class JournalError(DeviceError):
    """The journal file cannot be opened or written."""

    code = "agent_journal"


class Mark(StrEnum):
    """A fact about one job's card, written when it becomes true."""

    CLAIMED = "claimed"
    FEEDING = "feeding"  # the feed command is about to be sent
    NOT_FED = "not_fed"  # after a crash: the printer held no card, so the feed never happened
    FED = "fed"  # a body is parked under the chip contacts
    ENCODING = "encoding"
    ENCODED = "encoded"
    VERIFIED = "verified"  # detail: the chip read-back
    PRINTING = "printing"  # the panels and Se are about to be sent
    EJECTED = "ejected"  # printed and in the output hopper
    REJECTING = "rejecting"
    REJECTED = "rejected"  # in the reject box
    FOUND = "found"  # after a crash: what the printer showed (detail: a station Finding)
    SPOILED_REPORTED = "spoiled_reported"  # the service recorded this run's spoiled body


class Settlement(StrEnum):
    """How a run left the in-flight list."""

    COMPLETED = "completed"
    FAILED = "failed"
    RECONCILED = "reconciled"
    ABANDONED = "abandoned"  # nothing physical happened and the service needs no report
    GONE = "gone"  # the service no longer holds the job for this agent (settled elsewhere)
    HANDED_OVER = "handed_over"  # the printer cannot tell: a supervisor settles it by evidence


@dataclass(frozen=True)
class Verdict:
    outcome: Reconciliation
    spoiled: bool
    note: str


VERDICTS: tuple[tuple[Mark, Verdict], ...] = (
    (Mark.EJECTED, Verdict(Reconciliation.MADE, False, "the card was printed and ejected")),
    (Mark.REJECTED, Verdict(Reconciliation.FAILED, True, "the card body went to the reject box")),
    (Mark.FED, Verdict(Reconciliation.FAILED, True, "a card body was fed and never ejected")),
    (Mark.NOT_FED, Verdict(Reconciliation.NOT_STARTED, False, "the printer never took a card")),
    (
        Mark.FEEDING,
        Verdict(Reconciliation.FAILED, False, "a feed was ordered; its result is unknown"),
    ),
    (Mark.ENCODED, Verdict(Reconciliation.MADE, False, "the card accepted the PIN operation")),
    (Mark.ENCODING, Verdict(Reconciliation.FAILED, False, "a PIN operation's result is unknown")),
)
NOTHING_HAPPENED = Verdict(Reconciliation.NOT_STARTED, False, "nothing physical happened")


@dataclass(frozen=True)
class Run:
    """One claimed job as the journal knows it."""

    run: int
    job_id: int
    kind: str
    printer: str | None
    marks: tuple[Mark, ...]
    details: Mapping[Mark, Mapping[str, Any]]

    @property
    def last(self) -> Mark:
        return self.marks[-1] if self.marks else Mark.CLAIMED

    @property
    def attempt(self) -> int | None:
        """The service's attempt number of this run (None in runs journaled without it)."""
        value = self.details.get(Mark.CLAIMED, {}).get("attempt")
        return value if isinstance(value, int) else None

    @property
    def physical(self) -> bool:
        """Whether anything beyond the claim was started (the service may hold it in doubt)."""
        return any(mark is not Mark.CLAIMED for mark in self.marks)


def verdict(run: Run) -> Verdict:
    """What really happened to ``run`` (see the module docstring's table)."""
    present = set(run.marks)
    for mark, answer in VERDICTS:
        if mark in present:
            return answer
    return NOTHING_HAPPENED


class Journal:
    """The journal file; one writer (the agent) at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {path}", path=str(path)) from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        try:
            cursor = self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}") from exc
        return int(cursor.lastrowid or 0)

    def begin(self, job_id: int, kind: str, printer: str | None, attempt: int | None = None) -> int:
        """Open a run for a claimed job (the service's ``attempt``); returns the run number."""
        sql = "INSERT INTO runs (job_id, kind, printer, opened_at) VALUES (?, ?, ?, ?)"
        run = self._write(sql, (job_id, kind, printer, time.time()))
        self.mark(run, Mark.CLAIMED, None if attempt is None else {"attempt": attempt})
        return run

    def mark(self, run: int, mark: Mark, detail: Mapping[str, Any] | None = None) -> None:
        """Record ``mark``; it is on disk when this returns."""
        text = None if detail is None else json.dumps(dict(detail), ensure_ascii=False)
        sql = "INSERT INTO marks (run, mark, at, detail) VALUES (?, ?, ?, ?)"
        self._write(sql, (run, mark.value, time.time(), text))

    def settle(self, run: int, settlement: Settlement) -> None:
        sql = "UPDATE runs SET settled_at = ?, settlement = ? WHERE run = ?"
        self._write(sql, (time.time(), settlement.value, run))

    def in_flight(self) -> list[Run]:
        """Every run not yet settled, oldest first, with its marks."""
        try:
            rows = self._db.execute(
                "SELECT run, job_id, kind, printer FROM runs WHERE settled_at IS NULL ORDER BY run"
            ).fetchall()
            return [self._run(*row) for row in rows]
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}") from exc

    def run(self, run: int) -> Run:
        row = self._db.execute(
            "SELECT run, job_id, kind, printer FROM runs WHERE run = ?", (run,)
        ).fetchone()
        if row is None:
            raise JournalError(f"no run {run} in the journal", run=run)
        return self._run(*row)

    def _run(self, run: int, job_id: int, kind: str, printer: str | None) -> Run:
        rows = self._db.execute(
            "SELECT mark, detail FROM marks WHERE run = ? ORDER BY seq", (run,)
        ).fetchall()
        marks = tuple(Mark(mark) for mark, _ in rows)
        details = {Mark(mark): json.loads(text) for mark, text in rows if text is not None}
        return Run(run, job_id, kind, printer, marks, MappingProxyType(details))

    def settlement(self, run: int) -> Settlement | None:
        row = self._db.execute("SELECT settlement FROM runs WHERE run = ?", (run,)).fetchone()
        return None if row is None or row[0] is None else Settlement(row[0])
