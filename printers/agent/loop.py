"""The outlet agent: claims jobs from the service and runs them on the outlet's devices.

Design notes: ``docs/agent.md`` (section ``printers.agent.loop``); how a card is
made exactly once whatever crashes, and how the agent survives its dependencies:
``docs/exactly-once.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from intake.photo import load_photo
from printers.agent.client import ApiUnavailable
from printers.agent.journal import Journal, Mark, Run, Settlement, verdict
from printers.agent.orders import ClaimedJob, JobFailure, PrinterReport, card_order, pin_order
from printers.agent.pinpad import PinDesk
from printers.agent.station import (
    BENIGN,
    UNREACHABLE,
    CardSpoiled,
    Finding,
    PrintInDoubt,
    PrintRefused,
    Station,
    StationFault,
)
from printers.documents.face import render_face
from printers.documents.panels import CardSide
from printers.documents.raster import rasterise
from sscard_core.errors import (
    ChipError,
    DatabaseError,
    DeviceError,
    InputError,
    JobNotFound,
    LeaseLost,
    NotFound,
    ProtocolError,
    SscardError,
    TransportError,
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
        self,
        job_id: int,
        outcome: Reconciliation,
        note: str,
        result: dict[str, Any] | None = None,
        *,
        spoiled_card: bool = False,
        printer: str | None = None,
        attempt: int | None = None,
    ) -> None: ...

    async def spoiled(self, job_id: int, attempt: int, printer: str | None, cause: str) -> None: ...

    async def release(self, keep: Sequence[int] = ()) -> list[int]: ...

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
    HANDED_OVER = "handed_over"


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
    retry_cap_seconds: float = 10.0
    gone_after_seconds: float = 60.0
    print_announce_seconds: float = 20.0
    colour_levels: int = 32


# The service or its database cannot answer now: retried with a jittered back-off.
RETRYABLE: tuple[type[SscardError], ...] = (ApiUnavailable, DatabaseError)
# The service no longer holds the job for this worker.
NOT_OURS: tuple[type[SscardError], ...] = (LeaseLost, JobNotFound, NotFound)


def jittered(seconds: float) -> float:
    """``seconds`` spread over 50-150 %, so that restarted agents do not retry in step."""
    return seconds * (0.5 + random.random())


class Backoff:
    """Doubling delays from ``base`` up to ``cap``, each jittered; reset on success."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap
        self.delay = base

    def reset(self) -> None:
        self.delay = self.base

    def next(self) -> float:
        delay = jittered(self.delay)
        self.delay = min(self.cap, self.delay * 2)
        return delay


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

    def __init__(self, api: AgentApi, job_id: int, interval: float, patience: float = 20.0) -> None:
        self.api = api
        self.job_id = job_id
        self.interval = interval
        self.patience = patience
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
            with contextlib.suppress(*RETRYABLE, *NOT_OURS):
                await self._send()

    async def _send(self) -> None:
        try:
            await self.api.heartbeat(self.job_id, self.step)
        except (LeaseLost, JobNotFound):
            self.lost = True
            raise

    async def announce(self, step: JobStep) -> None:
        """Heartbeat ``step`` before it starts; before feeding a failure abandons the job.

        ``printing`` must be delivered (the service records the print before it
        answers): retried while the service is unavailable, up to ``patience``
        seconds; PrintRefused when it is refused or never delivered.
        """
        first_physical = self.step is JobStep.IDLE
        self.step = step
        if step is JobStep.PRINTING:
            await self._deliver_print()
            return
        try:
            await self._send()
        except (*RETRYABLE, *NOT_OURS) as exc:
            if first_physical:
                raise Abandoned(exc.message) from exc
            log.warning("job %s: heartbeat for %s not delivered: %s", self.job_id, step, exc)

    async def _deliver_print(self) -> None:
        deadline = time.monotonic() + self.patience
        backoff = Backoff(0.2, 2.0)
        while True:
            try:
                await self._send()
                return
            except NOT_OURS as exc:
                raise PrintRefused(exc.message, code=exc.code, job_id=self.job_id) from exc
            except RETRYABLE as exc:
                delay = backoff.next()
                if time.monotonic() + delay > deadline:
                    raise PrintRefused(
                        f"the print was not announced: {exc.message}", job_id=self.job_id
                    ) from exc
                await asyncio.sleep(delay)


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
        self._not_ours_since: dict[int, float] = {}
        self._reconnect_at: dict[str, tuple[float, Backoff]] = {}

    def _emit(self, kind: EventKind, job_id: int | None, printer: str | None, detail: str) -> None:
        if self._events is not None:
            self._events(AgentEvent(kind, job_id, printer, detail))

    # --- the main loop --------------------------------------------------------------

    async def run(self) -> None:
        """Recover from the journal, take back this worker's jobs, then serve until cancelled."""
        await self.register_printers()
        await self.recover()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._supervised("printers", self._watch_printers))
            group.create_task(self._supervised("reconcile", self._reconcile_loop))
            await self._supervised("claim", self._serve)

    async def _serve(self) -> None:
        await self._release()
        await self._claim_loop()

    async def _supervised(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run ``loop`` for ever: an error is logged and the loop restarted after a back-off."""
        backoff = Backoff(self.config.retry_seconds, self.config.retry_cap_seconds)
        while True:
            try:
                await loop()
                return
            except Exception:
                log.exception("agent loop %s failed; restarting it", name)
            await asyncio.sleep(backoff.next())

    async def _release(self) -> None:
        """Give back the jobs this worker holds with nothing physical started (retried)."""
        backoff = Backoff(self.config.retry_seconds, self.config.retry_cap_seconds)
        while True:
            keep = [run.job_id for run in self.journal.in_flight()]
            try:
                released = await self.api.release(keep)
            except RETRYABLE as exc:
                log.warning("release not delivered: %s", exc.message)
                await asyncio.sleep(backoff.next())
                continue
            if released:
                log.info("released jobs %s held by a previous run of this worker", released)
            return

    def _free(self) -> list[Station]:
        """Stations that may take a card: in service, idle, and holding no run left in flight
        whose body only the printer can account for (its counter must not move first)."""
        blocked = self._blocked_stations()
        return [
            s
            for s in self.stations.values()
            if s.in_service and s.name not in self._busy and s.name not in blocked
        ]

    def _blocked_stations(self) -> set[str]:
        return {
            run.printer or ""
            for run in self.journal.in_flight()
            if run.run not in self._active_runs and self._needs_printer(run)
        }

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
        backoff = Backoff(self.config.retry_seconds, self.config.retry_cap_seconds)
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
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
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
        task = asyncio.create_task(self._logged(job.id, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(job_id: int, job: Awaitable[None]) -> None:
        """A job task never dies silently: its run stays in flight for the reconciler."""
        try:
            await job
        except Exception:
            log.exception("job %s: unexpected error; its run is left to the reconciler", job_id)

    # --- one job ----------------------------------------------------------------------

    async def _card_job(self, station: Station, job: ClaimedJob) -> None:
        run = self.journal.begin(job.id, job.kind.value, station.name, job.attempts)
        self._active_runs.add(run)
        self._emit(EventKind.CLAIMED, job.id, station.name, "card job claimed")
        lease = Lease(
            self.api, job.id, self._heartbeat_interval(job), self.config.print_announce_seconds
        )
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
        except PrintInDoubt as exc:
            await self._printer_faulted(station)
            self._emit(EventKind.FAILED, job.id, station.name, f"{exc.message}; asking the printer")
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
        except (*NOT_OURS, *RETRYABLE) as exc:
            log.warning("run %s: report not delivered (%s); left to reconcile", run, exc.message)
            return
        self.journal.settle(run, settlement)

    async def _pin_job(self, job: ClaimedJob) -> None:
        run = self.journal.begin(job.id, job.kind.value, None, job.attempts)
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
        """Take the register's word on faulted printers; announce the others as ok.

        A printer registered as unreachable answered just now: it is back. A printer
        whose own status shows a fault (a card stuck inside after a power cut) is
        faulted whatever the register says.
        """
        known = {p.name: p for p in await self._register()}
        for station in self.stations.values():
            if await self._printer_says_faulted(station):
                continue
            report = known.get(station.name)
            faulted = report is not None and report.status is PrinterHealth.FAULTED
            if report is not None and faulted and UNREACHABLE not in (report.fault or ""):
                station.fault = report.fault or "faulted"
                self._fault_registered.add(station.name)
                continue
            with contextlib.suppress(SscardError):
                await self.api.put_printer(station.name, PrinterHealth.OK, None)

    async def _printer_says_faulted(self, station: Station) -> bool:
        if station.unreachable:
            return False
        try:
            status = await station.printer.status()
        except (DeviceError, OSError, RuntimeError):
            station.unreachable_now()
            await self._printer_faulted(station)
            return True
        if status in BENIGN:
            return False
        station.faulted_by(status)
        await self._printer_faulted(station)
        return True

    async def _register(self) -> list[PrinterReport]:
        try:
            return await self.api.printers()
        except SscardError as exc:
            log.warning("printer register unavailable: %s", exc.message)
            return []

    async def _watch_printers(self) -> None:
        while True:
            await asyncio.sleep(self.config.printer_poll_seconds)
            for station in [s for s in self.stations.values() if s.unreachable]:
                await self._reconnect(station)
            faulted = [s for s in self.stations.values() if not s.in_service]
            for station in faulted:
                if station.name not in self._fault_registered:
                    await self._register_fault(station)
            blocked = self._blocked_stations()  # the printer must account for a run first
            # chosen before the register is read, so its answer is newer than their faults
            registered = [
                s
                for s in faulted
                if s.name in self._fault_registered and not s.unreachable and s.name not in blocked
            ]
            if registered:
                await self._recover_cleared(registered)

    async def _reconnect(self, station: Station) -> None:
        """Connect again to a printer that stopped answering, with a jittered back-off."""
        due, backoff = self._reconnect_at.get(
            station.name, (0.0, Backoff(self.config.retry_seconds, self.config.retry_cap_seconds))
        )
        if time.monotonic() < due:
            return
        try:
            status = await station.reconnect()
        except (DeviceError, OSError, RuntimeError) as exc:
            self._reconnect_at[station.name] = (time.monotonic() + backoff.next(), backoff)
            log.info("printer %s: not back yet (%s)", station.name, exc)
            return
        self._reconnect_at.pop(station.name, None)
        if status not in BENIGN:
            station.faulted_by(status)
            await self._printer_faulted(station)
            return
        station.back_in_service()
        with contextlib.suppress(SscardError):
            await self.api.put_printer(station.name, PrinterHealth.OK, None)
        self._fault_registered.discard(station.name)
        self._emit(EventKind.PRINTER_BACK, None, station.name, "answers again, back in service")
        await self._notify()

    async def _recover_cleared(self, faulted: list[Station]) -> None:
        cleared = {p.name for p in await self._register() if p.status is PrinterHealth.OK}
        for station in faulted:
            if station.name in cleared:
                await self._bring_back(station)

    async def _bring_back(self, station: Station) -> None:
        try:
            await station.recover()
        except (DeviceError, RuntimeError, OSError) as exc:
            if isinstance(exc, DeviceError) and not isinstance(exc, TransportError):
                station.faulted_by(exc)
            else:
                station.unreachable_now()
            await self._printer_faulted(station)
            return
        self._fault_registered.discard(station.name)
        self._emit(EventKind.PRINTER_BACK, None, station.name, "back in service")
        await self._notify()

    # --- recovery -----------------------------------------------------------------------

    async def recover(self) -> None:
        """Settle what the journal says was in flight when the agent last stopped."""
        await self._settle_in_flight()

    async def _settle_in_flight(self) -> None:
        settled_any = False
        for snapshot in self.journal.in_flight():
            if snapshot.run in self._active_runs:
                continue
            # read again: while earlier runs were settled, a job task may have ended with
            # more marks than the snapshot holds, or settled it
            if self.journal.settlement(snapshot.run) is not None:
                continue
            run = self.journal.run(snapshot.run)
            try:
                settled_any |= await self._settle(run)
            except (SscardError, OSError, RuntimeError) as exc:
                log.warning("run %s: not settled yet: %s", run.run, exc)
        if settled_any:
            await self._notify()

    def _running_again(self, run: Run) -> bool:
        """Whether this agent runs ``run``'s job again in a newer run (the queue requeued it)."""
        active = {r.job_id for r in self.journal.in_flight() if r.run in self._active_runs}
        return run.job_id in active

    @staticmethod
    def _needs_printer(run: Run) -> bool:
        """Whether only the printer can still say where ``run``'s body is."""
        settled = {Mark.FOUND, Mark.EJECTED, Mark.REJECTED, Mark.NOT_FED}
        return run.kind == JobKind.CARD.value and run.physical and not settled & set(run.marks)

    async def _settle(self, run: Run) -> bool:
        """Find out what happened to ``run`` and report it; True once settled."""
        if not run.physical:
            self.journal.settle(run.run, Settlement.ABANDONED)
            return True
        finding = await self._finding(run)
        if finding is None:
            return False
        if self._running_again(run):
            # the service saw nothing physical of this attempt and gave the job out again:
            # a report now would land on the newer attempt; its spoiled body is its own
            if not await self._report_spoiled(self.journal.run(run.run), finding):
                return False
            self.journal.settle(run.run, Settlement.GONE)
            log.warning("run %s: job %s runs again; finding kept: %s", run.run, run.job_id, finding)
            return True
        if finding.outcome is None:
            self.journal.settle(run.run, Settlement.HANDED_OVER)
            self._emit(EventKind.HANDED_OVER, run.job_id, run.printer, finding.note)
            return True
        return await self._report(self.journal.run(run.run), finding)

    async def _finding(self, run: Run) -> Finding | None:
        """What the journal, or else the printer, shows; None while the printer cannot answer."""
        if Mark.FOUND in run.details:
            return Finding.from_detail(run.details[Mark.FOUND])
        if run.kind != JobKind.CARD.value:
            answer = verdict(run)
            return Finding(answer.outcome, answer.note)
        station = self.stations.get(run.printer or "")
        if station is None:
            return Finding(
                None, f"printer {run.printer} is not driven by this agent any more: look for "
                f"job {run.job_id}'s card in its output hopper and reject box",
            )  # fmt: skip
        if station.unreachable or station.name in self._busy:
            return None
        try:
            finding = await station.inquire(run)
        except TransportError:
            station.unreachable_now()
            await self._printer_faulted(station)
            return None
        if finding.outcome is not None:
            self.journal.mark(run.run, Mark.FOUND, finding.detail())
        if station.fault is not None:
            await self._printer_faulted(station)
        return finding

    async def _report(self, run: Run, finding: Finding) -> bool:
        """Deliver ``finding``: under this worker's lease if it still holds the job, else as
        a reconciliation of the job in doubt. True once the service acknowledged it."""
        assert finding.outcome is not None
        result = self._result(run)
        try:
            await self._report_own(run, finding, result)
            self.journal.settle(run.run, Settlement.COMPLETED)
        except NOT_OURS:
            return await self._report_in_doubt(run, finding, result)
        except RETRYABLE:
            return False
        self._settled(run, finding)
        return True

    @staticmethod
    def _result(run: Run) -> dict[str, Any]:
        verified = dict(run.details.get(Mark.VERIFIED, {}))
        read_back = verified.get("read_back") or {}
        return {
            "printer": run.printer,
            "card_number": read_back.get("card_number"),
            "card_identifier": read_back.get("card_identifier"),
            **verified,
        }

    async def _report_own(self, run: Run, finding: Finding, result: dict[str, Any]) -> None:
        if finding.outcome is Reconciliation.MADE:
            await self.api.complete(run.job_id, result)
            return
        failure = JobFailure(finding.note, True, finding.spoiled is not None, run.printer)
        await self.api.fail(run.job_id, failure)

    async def _report_in_doubt(self, run: Run, finding: Finding, result: dict[str, Any]) -> bool:
        assert finding.outcome is not None
        note = f"{finding.note} (printer {run.printer})"
        if finding.spoiled is not None:
            note = f"{note}; spoiled: {finding.spoiled}"
        try:
            await self.api.reconcile(
                run.job_id, finding.outcome, note, result,
                spoiled_card=finding.spoiled is not None, printer=run.printer,
                attempt=run.attempt,
            )  # fmt: skip
        except NOT_OURS:
            return await self._not_in_doubt(run, finding)
        except RETRYABLE:
            return False
        self.journal.settle(run.run, Settlement.RECONCILED)
        self._settled(run, finding)
        return True

    async def _not_in_doubt(self, run: Run, finding: Finding) -> bool:
        """The job moved on without this run (handed out again, settled): the run's spoiled
        body is still reported, and the run given up after a while (the job may not be
        reaped yet)."""
        if not await self._report_spoiled(run, finding):
            return False
        return self._maybe_gone(run)

    async def _report_spoiled(self, run: Run, finding: Finding) -> bool:
        """Report ``run``'s spoiled body on its own, keyed by the run's attempt (recorded
        once however often sent); True once the service has it or nothing is to be sent."""
        if finding.spoiled is None or Mark.SPOILED_REPORTED in run.marks:
            return True
        if run.attempt is None:
            log.warning("run %s: spoiled body of job %s has no attempt", run.run, run.job_id)
            return True
        cause = f"{finding.note}; spoiled: {finding.spoiled}"
        try:
            await self.api.spoiled(run.job_id, run.attempt, run.printer, cause)
        except RETRYABLE:
            return False
        except NOT_OURS as exc:
            log.warning("run %s: spoiled body not recorded: %s", run.run, exc.message)
            return True
        self.journal.mark(run.run, Mark.SPOILED_REPORTED)
        return True

    def _maybe_gone(self, run: Run) -> bool:
        """Neither ours nor in doubt: not reaped yet, or settled elsewhere (after a while)."""
        since = self._not_ours_since.setdefault(run.run, time.monotonic())
        if time.monotonic() - since < self.config.gone_after_seconds:
            return False
        self._not_ours_since.pop(run.run, None)
        self.journal.settle(run.run, Settlement.GONE)
        log.warning("run %s: job %s is no longer held for this agent", run.run, run.job_id)
        return True

    def _settled(self, run: Run, finding: Finding) -> None:
        self._not_ours_since.pop(run.run, None)
        assert finding.outcome is not None
        detail = f"{finding.outcome.value}: {finding.note} (printer {run.printer})"
        if finding.spoiled is not None:
            detail = f"{detail}; spoiled card: {finding.spoiled}"
        self._emit(EventKind.RECONCILED, run.job_id, run.printer, detail)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_retry_seconds)
            await self._settle_in_flight()
