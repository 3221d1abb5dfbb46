"""The outlet agent: claims jobs from the service and runs them on the outlet's devices.

what happened               transient  spoiled  and
==========================  =========  =======  ====================================
chip failed (card rejected)  yes       yes      the next body may be good
station fault                yes       if fed   printer, reader or card stock at fault:
                                                marked faulted (PUT, with the action
                                                that clears it), out of service until
                                                the register says ok
bad photo, unprintable name  no        no       nothing was fed
lease lost before feeding    (none)    no       nothing done; the queue requeues it
==========================  =========  =======  ====================================

A job whose report cannot be delivered (the lease ran out, the service was
unreachable) stays in flight in the journal, and the reconciler settles it
once the queue holds it in doubt.

On start, before claiming, the agent reads the journal: for each run still in
flight it sends any body left inside that run's printer to the reject box
(recording ``rejected``, or ``not_fed`` if the printer held none), then
reports ``reconcile`` with :func:`~printers.agent.journal.verdict`. A run
with nothing physical is settled locally (the queue requeues it itself).
=======
Design notes: ``docs/agent.md`` (section ``printers.agent.loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from intake.photo import load_photo
from printers.agent.client import ApiUnavailable
from printers.agent.journal import Journal, Mark, Run, Settlement, verdict
from printers.agent.orders import ClaimedJob, JobFailure, PrinterReport, card_order, pin_order
from printers.agent.pinpad import PinDesk
from printers.agent.station import CardSpoiled, Station, StationFault
from printers.documents.face import render_face
from printers.documents.panels import CardSide
from printers.documents.raster import rasterise
from sscard_core.errors import (
    ChipError,
    DeviceError,
    InputError,
    JobNotFound,
    LeaseLost,
    NotFound,
    ProtocolError,
    SscardError,
)
from sscard_core.messages import JobKind, JobStep, PrinterHealth, Reconciliation

log = logging.getLogger(__name__)


class AgentApi(Protocol):
    """The endpoints the agent uses (:class:`~printers.agent.client.AgentClient`)."""

    async def claim(
        self, *, limit: int = 1, wait_seconds: float = 20.0, capabilities: tuple[str, ...] = ()
    ) -> list[ClaimedJob]: ...

    async def heartbeat(self, job_id: int, step: JobStep) -> None: ...

    async def complete(self, job_id: int, result: dict[str, Any]) -> None: ...

    async def fail(self, job_id: int, failure: JobFailure) -> None: ...

    async def reconcile(
        self, job_id: int, outcome: Reconciliation, note: str, result: dict[str, Any] | None = None
    ) -> None: ...

    async def photo(self, url: str) -> bytes: ...

    async def put_printer(self, name: str, status: PrinterHealth, fault: str | None) -> None: ...

    async def printers(self) -> list[PrinterReport]: ...


class EventKind(StrEnum):
    CLAIMED = "claimed"
    STEP = "step"
    MADE = "made"
    FAILED = "failed"
    PRINTER_FAULTED = "printer_faulted"
    PRINTER_BACK = "printer_back"
    RECONCILED = "reconciled"


@dataclass(frozen=True)
class AgentEvent:
    """Something that happened, for a console or a log."""

    kind: EventKind
    job_id: int | None
    printer: str | None
    detail: str
    result: dict[str, Any] | None = None


EventSink = Callable[[AgentEvent], None]


@dataclass(frozen=True)
class AgentConfig:
    wait_seconds: float = 20.0
    heartbeat_seconds: float = 5.0
    printer_poll_seconds: float = 2.0
    reconcile_retry_seconds: float = 1.0
    reconcile_patience_seconds: float = 600.0
    retry_seconds: float = 1.0
    colour_levels: int = 32


@dataclass(frozen=True)
class Failure:
    """How one kind of error is reported."""

    transient: bool
    fault_printer: bool


FAILURES: tuple[tuple[type[SscardError], Failure], ...] = (
    (StationFault, Failure(transient=True, fault_printer=True)),
    (CardSpoiled, Failure(transient=True, fault_printer=False)),
    (InputError, Failure(transient=False, fault_printer=False)),
    (ProtocolError, Failure(transient=False, fault_printer=False)),
    (ChipError, Failure(transient=False, fault_printer=False)),
    (DeviceError, Failure(transient=True, fault_printer=False)),
)


def failure_of(exc: SscardError) -> Failure:
    return next((f for kind, f in FAILURES if isinstance(exc, kind)), Failure(True, False))


class Abandoned(Exception):
    """The job was given up before anything physical happened."""


class Lease:
    """Heartbeats for one job: on each announced step and every ``interval`` seconds."""

    def __init__(self, api: AgentApi, job_id: int, interval: float) -> None:
        self.api = api
        self.job_id = job_id
        self.interval = interval
        self.step = JobStep.IDLE
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            with contextlib.suppress(ApiUnavailable, LeaseLost, JobNotFound):
                await self._send()

    async def _send(self) -> None:
        try:
            await self.api.heartbeat(self.job_id, self.step)
        except (LeaseLost, JobNotFound):
            self.lost = True
            raise

    async def announce(self, step: JobStep) -> None:
        """Heartbeat ``step`` before it starts; before feeding a failure abandons the job."""
        first_physical = self.step is JobStep.IDLE
        self.step = step
        try:
            await self._send()
        except (ApiUnavailable, LeaseLost, JobNotFound) as exc:
            if first_physical:
                raise Abandoned(exc.message) from exc
            log.warning("job %s: heartbeat for %s not delivered: %s", self.job_id, step, exc)


def render_side(card: Any, photo: bytes, colour_levels: int) -> CardSide:
    """The personal side of a card job, as panels (CPU work: run it in a thread)."""
    return rasterise(render_face(card, load_photo(photo).image), colour_levels)


class Agent:
    """The loop; see the module docstring."""

    def __init__(
        self,
        api: AgentApi,
        stations: Sequence[Station],
        journal: Journal,
        config: AgentConfig | None = None,
        *,
        desk: PinDesk | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.api = api
        self.stations = {s.name: s for s in stations}
        self.journal = journal
        self.config = config or AgentConfig()
        self.desk = desk
        self._events = events
        self._busy: set[str] = set()
        # faulted printers whose fault the register has acknowledged: only these may be
        # brought back by a later "ok" there (an older "ok" must not undo a new fault)
        self._fault_registered: set[str] = set()
        self._active_runs: set[int] = set()
        self._changed = asyncio.Condition()
        self._desk_lock = asyncio.Lock()
        self._desk_jobs = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _emit(self, kind: EventKind, job_id: int | None, printer: str | None, detail: str) -> None:
        if self._events is not None:
            self._events(AgentEvent(kind, job_id, printer, detail))

    # --- the main loop --------------------------------------------------------------

    async def run(self) -> None:
        """Recover from the journal, then serve until cancelled."""
        await self.register_printers()
        await self.recover()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch_printers())
            group.create_task(self._reconcile_loop())
            await self._claim_loop()

    def _free(self) -> list[Station]:
        return [s for s in self.stations.values() if s.in_service and s.name not in self._busy]

    def _offer(self) -> tuple[str, ...]:
        """The capabilities free now: stations for card jobs, an idle desk for PIN jobs."""
        stations = ("print_encode",) if self._free() else ()
        desk = ("encode",) if self.desk is not None and self._desk_jobs == 0 else ()
        return stations + desk

    async def _wait_free(self) -> tuple[list[Station], tuple[str, ...]]:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._offer()))
            return self._free(), self._offer()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _claim_loop(self) -> None:
        while True:
            free, offer = await self._wait_free()
            try:
                jobs = await self.api.claim(
                    limit=max(len(free), 1),
                    wait_seconds=self.config.wait_seconds,
                    capabilities=offer,
                )
            except SscardError as exc:
                log.warning("claim failed: %s", exc.message)
                await asyncio.sleep(self.config.retry_seconds)
                continue
            for job in jobs:
                self._dispatch(job, free)

    def _dispatch(self, job: ClaimedJob, free: list[Station]) -> None:
        if job.kind is JobKind.CARD:
            station = free.pop(0)
            self._busy.add(station.name)
            coro = self._card_job(station, job)
        else:
            self._desk_jobs += 1
            coro = self._pin_job(job)
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- one job ----------------------------------------------------------------------

    async def _card_job(self, station: Station, job: ClaimedJob) -> None:
        run = self.journal.begin(job.id, job.kind.value, station.name)
        self._active_runs.add(run)
        self._emit(EventKind.CLAIMED, job.id, station.name, "card job claimed")
        lease = Lease(self.api, job.id, self._heartbeat_interval(job))
        lease.start()
        try:
            await self._run_card(station, job, run, lease)
        finally:
            await lease.stop()
            self._active_runs.discard(run)
            self._busy.discard(station.name)
            await self._notify()

    def _heartbeat_interval(self, job: ClaimedJob) -> float:
        return max(0.2, min(self.config.heartbeat_seconds, job.lease_seconds / 3))

    async def _run_card(self, station: Station, job: ClaimedJob, run: int, lease: Lease) -> None:
        try:
            order = card_order(job)
            photo = await self.api.photo(order.photo_url)
            face = await asyncio.to_thread(
                render_side, order.card, photo, self.config.colour_levels
            )
            announce = self._announcer(job, lease, station.name)
            made = await station.make_card(run, order.card, face, announce)
        except Abandoned as exc:
            self._abandon(job, run, str(exc))
        except SscardError as exc:
            await self._failed(job, run, station, exc)
        else:
            result = {"card_id": order.card_id, **made.result()}
            await self._report_complete(job, run, result, station.name)

    def _announcer(
        self, job: ClaimedJob, lease: Lease, where: str | None
    ) -> Callable[[JobStep], Any]:
        async def announce(step: JobStep) -> None:
            await lease.announce(step)
            self._emit(EventKind.STEP, job.id, where, step.value)

        return announce

    def _abandon(self, job: ClaimedJob, run: int, why: str) -> None:
        self.journal.mark(run, Mark.NOT_FED)
        self.journal.settle(run, Settlement.ABANDONED)
        self._emit(EventKind.FAILED, job.id, None, f"abandoned before feeding: {why}")

    async def _failed(
        self, job: ClaimedJob, run: int, station: Station | None, exc: SscardError
    ) -> None:
        failure = failure_of(exc)
        name = station.name if station is not None else None
        if failure.fault_printer and station is not None:
            await self._printer_faulted(station)
        spoiled = Mark.FED in self.journal.run(run).marks
        report = JobFailure(exc.message, failure.transient, spoiled, name)
        self._emit(EventKind.FAILED, job.id, name, exc.message)
        await self._deliver(run, Settlement.FAILED, self.api.fail(job.id, report))

    async def _report_complete(
        self, job: ClaimedJob, run: int, result: dict[str, Any], printer: str | None
    ) -> None:
        event = AgentEvent(EventKind.MADE, job.id, printer, "job complete", result)
        if self._events is not None:
            self._events(event)
        await self._deliver(run, Settlement.COMPLETED, self.api.complete(job.id, result))

    async def _deliver(self, run: int, settlement: Settlement, report: Any) -> None:
        """Send a report; if it cannot be delivered the run stays in flight for the reconciler."""
        try:
            await report
        except (LeaseLost, JobNotFound, ApiUnavailable) as exc:
            log.warning("run %s: report not delivered (%s); left to reconcile", run, exc.message)
            return
        self.journal.settle(run, settlement)

    async def _pin_job(self, job: ClaimedJob) -> None:
        run = self.journal.begin(job.id, job.kind.value, None)
        self._active_runs.add(run)
        self._emit(EventKind.CLAIMED, job.id, None, f"{job.kind.value} job claimed")
        lease = Lease(self.api, job.id, self._heartbeat_interval(job))
        lease.start()
        try:
            async with self._desk_lock:
                await self._run_pin(job, run, lease)
        finally:
            await lease.stop()
            self._active_runs.discard(run)
            self._desk_jobs -= 1
            await self._notify()

    async def _run_pin(self, job: ClaimedJob, run: int, lease: Lease) -> None:
        try:
            if self.desk is None:
                raise InputError("this agent has no PIN pad")
            result = await self.desk.serve(run, pin_order(job), self._announcer(job, lease, None))
        except Abandoned as exc:
            self._abandon(job, run, str(exc))
        except SscardError as exc:
            await self._failed(job, run, None, exc)
        else:
            await self._report_complete(job, run, result, None)

    # --- printers -----------------------------------------------------------------------

    async def _printer_faulted(self, station: Station) -> None:
        report = station.fault_report
        self._emit(EventKind.PRINTER_FAULTED, None, station.name, report or "fault")
        self._fault_registered.discard(station.name)
        await self._register_fault(station)

    async def _register_fault(self, station: Station) -> None:
        try:
            await self.api.put_printer(station.name, PrinterHealth.FAULTED, station.fault_report)
        except SscardError as exc:
            log.warning("printer %s: fault not registered yet (%s)", station.name, exc.message)
            return
        self._fault_registered.add(station.name)

    async def register_printers(self) -> None:
        """Take the register's word on faulted printers; announce the others as ok."""
        known = {p.name: p for p in await self._register()}
        for station in self.stations.values():
            report = known.get(station.name)
            if report is not None and report.status is PrinterHealth.FAULTED:
                station.fault = report.fault or "faulted"
                self._fault_registered.add(station.name)
                continue
            with contextlib.suppress(SscardError):
                await self.api.put_printer(station.name, PrinterHealth.OK, None)

    async def _register(self) -> list[PrinterReport]:
        try:
            return await self.api.printers()
        except SscardError as exc:
            log.warning("printer register unavailable: %s", exc.message)
            return []

    async def _watch_printers(self) -> None:
        while True:
            await asyncio.sleep(self.config.printer_poll_seconds)
            faulted = [s for s in self.stations.values() if not s.in_service]
            for station in faulted:
                if station.name not in self._fault_registered:
                    await self._register_fault(station)
            # chosen before the register is read, so its answer is newer than their faults
            registered = [s for s in faulted if s.name in self._fault_registered]
            if registered:
                await self._recover_cleared(registered)

    async def _recover_cleared(self, faulted: list[Station]) -> None:
        cleared = {p.name for p in await self._register() if p.status is PrinterHealth.OK}
        for station in faulted:
            if station.name in cleared:
                await self._bring_back(station)

    async def _bring_back(self, station: Station) -> None:
        try:
            await station.recover()
        except DeviceError as exc:
            station.fault = exc.code
            await self._printer_faulted(station)
            return
        self._fault_registered.discard(station.name)
        self._emit(EventKind.PRINTER_BACK, None, station.name, "back in service")
        await self._notify()

    # --- recovery -----------------------------------------------------------------------

    async def recover(self) -> None:
        """Settle what the journal says was in flight when the agent last stopped."""
        for run in self.journal.in_flight():
            if run.physical:
                await self._check_leftover(run)
            await self._reconcile(self.journal.run(run.run))

    async def _check_leftover(self, run: Run) -> None:
        if {Mark.EJECTED, Mark.REJECTED} & set(run.marks):
            return
        station = self.stations.get(run.printer or "")
        if station is None or Mark.FEEDING not in run.marks:
            return
        try:
            found = await station.clear_leftover()
        except DeviceError as exc:
            log.warning("printer %s: cannot check for a leftover card: %s", station.name, exc)
            return
        if found:
            self.journal.mark(run.run, Mark.REJECTED)
        elif Mark.FED not in run.marks:
            self.journal.mark(run.run, Mark.NOT_FED)

    async def _reconcile(self, run: Run) -> bool:
        """Report ``run``'s verdict; True once settled."""
        answer = verdict(run)
        if not run.physical:
            self.journal.settle(run.run, Settlement.ABANDONED)
            return True
        result = dict(run.details.get(Mark.VERIFIED, {}))
        note = f"{answer.note} (printer {run.printer}); spoiled card: {answer.spoiled}"
        try:
            await self.api.reconcile(run.job_id, answer.outcome, note, result)
        except (NotFound, ApiUnavailable, LeaseLost):
            return False
        self.journal.settle(run.run, Settlement.RECONCILED)
        detail = f"{answer.outcome.value}: {note}"
        self._emit(EventKind.RECONCILED, run.job_id, run.printer, detail)
        return True

    async def _reconcile_loop(self) -> None:
        started = time.monotonic()
        while time.monotonic() - started < self.config.reconcile_patience_seconds:
            await asyncio.sleep(self.config.reconcile_retry_seconds)
            for run in self.journal.in_flight():
                if run.run not in self._active_runs:
                    await self._reconcile(run)
