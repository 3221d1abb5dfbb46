"""The central service's agent contract, in memory, for testing the agent loop alone.

It keeps the states the queue keeps (queued, running, in doubt, finished)
and the printer register, and answers as the HTTP contract says: a job the
worker no longer holds is LeaseLost, a reconcile of a job not in doubt is
JobNotFound. Leases do not expire by themselves; :meth:`expire` does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from printers.agent.orders import ClaimedJob, JobFailure, PrinterReport
from sscard_core.errors import JobNotFound, LeaseLost
from sscard_core.messages import JobKind, JobStep, PrinterHealth, Reconciliation

# The capability each kind of job needs (as the service enqueues them).
NEEDS: dict[JobKind, str] = {
    JobKind.CARD: "print_encode",
    JobKind.PIN_CHANGE: "encode",
    JobKind.PIN_RESET: "encode",
}


@dataclass
class JobRow:
    id: int
    payload: dict[str, Any]
    kind: JobKind = JobKind.CARD
    state: str = "queued"
    step: JobStep = JobStep.IDLE
    attempts: int = 0
    result: dict[str, Any] | None = None
    failures: list[JobFailure] = field(default_factory=list)
    reconciled: tuple[Reconciliation, str] | None = None
    spoiled_reported: bool = False


class ContractService:
    def __init__(self, photo: bytes) -> None:
        self.jobs: dict[int, JobRow] = {}
        self.register: dict[str, PrinterReport] = {}
        self.steps: list[tuple[int, JobStep]] = []
        self.claims: list[tuple[str, ...]] = []
        self.releases: list[list[int]] = []
        # spoiled bodies as the service records them: once per (job, attempt)
        self.spoiled_bodies: dict[tuple[int, int], str | None] = {}
        self._photo = photo
        self._new = asyncio.Event()

    def add(self, job_id: int, payload: dict[str, Any], kind: JobKind = JobKind.CARD) -> None:
        self.jobs[job_id] = JobRow(job_id, payload, kind)
        self._new.set()

    def redrive(self, job_id: int) -> None:
        """A supervisor sends a dead job back to the queue."""
        row = self.jobs[job_id]
        assert row.state == "dead", row.state
        row.state = "queued"
        self._new.set()

    async def wait_for(self, job_id: int, *states: str) -> JobRow:
        """Until the job is in one of ``states``; the bound (two minutes) only stops a hang."""
        for _ in range(12_000):
            if self.jobs[job_id].state in states:
                return self.jobs[job_id]
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} is {self.jobs[job_id].state}, not {states}")

    async def claim(
        self, *, limit: int = 1, wait_seconds: float = 20.0, capabilities: tuple[str, ...] = ()
    ) -> list[ClaimedJob]:
        capabilities = capabilities or ("print_encode",)  # as the HTTP client defaults
        self.claims.append(capabilities)
        for _ in range(int(wait_seconds * 100) + 1):
            queued = [
                j
                for j in self.jobs.values()
                if j.state == "queued" and NEEDS[j.kind] in capabilities
            ][:limit]
            if queued:
                return [self._lease(j) for j in queued]
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), 0.01)
            except TimeoutError:
                continue
        return []

    def _lease(self, row: JobRow) -> ClaimedJob:
        row.state, row.step = "running", JobStep.IDLE
        row.attempts += 1
        return ClaimedJob(row.id, row.kind, 0, row.attempts, 30.0, row.payload)

    def _held(self, job_id: int) -> JobRow:
        row = self.jobs.get(job_id)
        if row is None or row.state != "running":
            raise LeaseLost(f"job {job_id} is not held")
        return row

    async def heartbeat(self, job_id: int, step: JobStep) -> None:
        self._held(job_id).step = step
        self.steps.append((job_id, step))

    async def complete(self, job_id: int, result: dict[str, Any]) -> None:
        row = self._held(job_id)
        row.state, row.result = "done", result

    async def fail(self, job_id: int, failure: JobFailure) -> None:
        row = self._held(job_id)
        row.failures.append(failure)
        if failure.spoiled_card:
            self.spoiled_bodies.setdefault((job_id, row.attempts), failure.printer)
        row.state = "queued" if failure.transient else "dead"
        self._new.set()

    def expire(self, job_id: int) -> None:
        row = self.jobs[job_id]
        row.state = "in_doubt" if row.step is not JobStep.IDLE else "queued"

    async def reconcile(
        self,
        job_id: int,
        outcome: Reconciliation,
        note: str,
        result: dict[str, Any] | None = None,
        *,
        spoiled_card: bool = False,
        printer: str | None = None,
        attempt: int | None = None,
    ) -> None:
        row = self.jobs.get(job_id)
        if row is None or row.state != "in_doubt":
            raise JobNotFound(f"no in_doubt job {job_id}")
        if attempt is not None and attempt != row.attempts:
            raise JobNotFound(f"no job {job_id} in doubt for attempt {attempt}")
        if spoiled_card:
            self.spoiled_bodies.setdefault((job_id, row.attempts), printer)
        row.reconciled = (outcome, note)
        row.spoiled_reported = spoiled_card
        row.result = result
        row.state = {Reconciliation.MADE: "done", Reconciliation.NOT_STARTED: "queued"}.get(
            outcome, "dead"
        )

    async def spoiled(self, job_id: int, attempt: int, printer: str | None, cause: str) -> None:
        """A body ``attempt`` fed and did not deliver, whatever the job's state now."""
        if job_id not in self.jobs:
            raise JobNotFound(f"no job {job_id}")
        self.spoiled_bodies.setdefault((job_id, attempt), printer)

    async def release(self, keep: Sequence[int] = ()) -> list[int]:
        """What a restarted worker held at step idle goes back to the queue (attempt uncounted)."""
        released = [
            j for j in self.jobs.values()
            if j.state == "running" and j.step is JobStep.IDLE and j.id not in keep
        ]  # fmt: skip
        for row in released:
            row.state = "queued"  # the number is not reused: the next run is a new attempt
        self.releases.append([row.id for row in released])
        self._new.set()
        return [row.id for row in released]

    async def photo(self, url: str) -> bytes:
        return self._photo

    async def put_printer(self, name: str, status: PrinterHealth, fault: str | None) -> None:
        self.register[name] = PrinterReport(name, status, fault)

    async def printers(self) -> list[PrinterReport]:
        return list(self.register.values())
