"""A production line simulated with time compressed: does dispatch keep every printer busy?

A production line is one site served by one agent driving N printers. This
module runs the REAL agent (:class:`printers.agent.loop.Agent`, its claim
loop and station dispatch, its stations, journal and lease heartbeats) over N
:class:`~printers.devices.simulators.outlet.SimulatedOutlet` printers whose mechanism
timings are the simulator's realistic ones (15-25 s a side, 1.5 s per card
movement) multiplied by ``time_scale`` (0.01 compresses time 100x). Only the
service is played in memory, by :class:`LineService`: an
:class:`~printers.agent.loop.AgentApi` over a first-in-first-out list of
card jobs, which requeues a transiently failed job at the back (as the real
queue does after its backoff) and dead-letters a permanent failure.

The host's own share of a card (rendering and rasterising the face, chip
personalisation through the simulated chip station, panel download) is not
compressed: it is real CPU time. At strong compression on a small machine it
may therefore dominate, and the figures say how the dispatch copes with it.

Utilisation is measured from the agent's events: a printer is busy from the
moment a job is dispatched to it (``claimed``) until the agent reports it
made or failed. The window runs from the first dispatch until the queue runs
dry (the last job handed out); each printer's busy time inside the window over
the window's length is its utilisation (:class:`PrinterUse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image

from issuance.domain.numbers import BEIJING_IDENTIFIERS, card_number
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig, AgentEvent, EventKind
from printers.agent.orders import ClaimedJob, JobFailure, PrinterReport
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import (
    DEFAULT_MOTION_SECONDS,
    DEFAULT_SIDE_SECONDS,
    SimConfig,
)
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.card_data import CardData, Gender, card_data_to_json
from sscard_core.messages import JobKind, JobStep, PrinterHealth, Reconciliation

PHOTO_URL = "line://photo"
LEASE_SECONDS = 30.0
TARGET_UTILISATION = 0.95


@dataclass(frozen=True)
class LineConfig:
    """The line to simulate."""

    printers: int = 6
    cards: int = 120
    time_scale: float = 0.01
    side_seconds: tuple[float, float] = DEFAULT_SIDE_SECONDS
    motion_seconds: float = DEFAULT_MOTION_SECONDS
    seed: int = 1


@dataclass(frozen=True)
class PrinterUse:
    """One printer's share of the run."""

    name: str
    cards: int
    busy_seconds: float
    window_seconds: float

    @property
    def utilisation(self) -> float:
        return self.busy_seconds / self.window_seconds if self.window_seconds > 0 else 0.0


@dataclass(frozen=True)
class LineReport:
    config: LineConfig
    printers: tuple[PrinterUse, ...]
    made: int
    dead: int
    wall_seconds: float
    dry_after_seconds: float

    @property
    def lowest_utilisation(self) -> float:
        return min((p.utilisation for p in self.printers), default=0.0)

    @property
    def cards_per_hour(self) -> float:
        """Cards per hour of simulated (uncompressed) time."""
        simulated = self.wall_seconds / self.config.time_scale if self.config.time_scale else 0.0
        return self.made * 3600.0 / simulated if simulated > 0 else 0.0


def sample_card(sequence: int) -> CardData:
    """A valid card for the ``sequence``-th job (unique number and chip identifier)."""
    return CardData(
        card_number=card_number(sequence), card_identifier=BEIJING_IDENTIFIERS.make(sequence),
        card_type="3", issuing_institution="110000000001", issue_date=date(2026, 11, 29),
        expiry_date=date(2036, 11, 29), citizen_id="11010519900307123X", name="张三丰",
        gender=Gender.MALE, ethnicity=1, birthplace="110105", birth_date=date(1990, 3, 7),
    )  # fmt: skip


def sample_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (358, 441), (200, 180, 160)).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class LineService:
    """The service side of the line, in memory: the agent's API over a FIFO of card jobs."""

    cards: int
    image: bytes = field(default_factory=sample_photo)
    queued: deque[int] = field(default_factory=deque)
    made: set[int] = field(default_factory=set)
    dead: set[int] = field(default_factory=set)
    faulted: dict[str, str | None] = field(default_factory=dict)
    dry_at: float | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queued.extend(range(1, self.cards + 1))

    def _job(self, job_id: int) -> ClaimedJob:
        payload = {"card_id": job_id, "card": card_data_to_json(sample_card(job_id)),
                   "photo_url": PHOTO_URL, "outlet": "LINE"}  # fmt: skip
        return ClaimedJob(job_id, JobKind.CARD, 1, 1, LEASE_SECONDS, payload)

    async def claim(
        self, *, limit: int = 1, wait_seconds: float = 20.0, capabilities: tuple[str, ...] = ()
    ) -> list[ClaimedJob]:
        if not self.queued:
            await asyncio.sleep(min(wait_seconds, 0.05))
            return []
        taken = [self.queued.popleft() for _ in range(min(limit, len(self.queued)))]
        if not self.queued:
            self.dry_at = time.monotonic()
        return [self._job(j) for j in taken]

    async def heartbeat(self, job_id: int, step: JobStep) -> None:
        return None

    def _settle(self, job_id: int, into: set[int]) -> None:
        into.add(job_id)
        if len(self.made) + len(self.dead) >= self.cards:
            self.finished.set()

    async def complete(self, job_id: int, result: dict[str, Any]) -> None:
        self._settle(job_id, self.made)

    async def fail(self, job_id: int, failure: JobFailure) -> None:
        if failure.transient:
            self.queued.append(job_id)
            self.dry_at = None
        else:
            self._settle(job_id, self.dead)

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
        return None

    async def spoiled(self, job_id: int, attempt: int, printer: str | None, cause: str) -> None:
        return None

    async def release(self, keep: Sequence[int] = ()) -> list[int]:
        return []

    async def photo(self, url: str) -> bytes:
        return self.image

    async def put_printer(self, name: str, status: PrinterHealth, fault: str | None) -> None:
        if status is PrinterHealth.FAULTED:
            self.faulted[name] = fault
        else:
            self.faulted.pop(name, None)

    async def printers(self) -> list[PrinterReport]:
        return [PrinterReport(n, PrinterHealth.FAULTED, f) for n, f in self.faulted.items()]


class BusyClock:
    """Busy intervals per printer, from the agent's events."""

    def __init__(self) -> None:
        self.started: dict[int, tuple[str, float]] = {}
        self.intervals: dict[str, list[tuple[float, float]]] = {}
        self.first: float | None = None

    def __call__(self, event: AgentEvent) -> None:
        at = time.monotonic()
        if event.kind is EventKind.CLAIMED and event.job_id is not None and event.printer:
            self.started[event.job_id] = (event.printer, at)
            self.first = at if self.first is None else self.first
        elif event.kind in (EventKind.MADE, EventKind.FAILED) and event.job_id in self.started:
            printer, began = self.started.pop(event.job_id)
            self.intervals.setdefault(printer, []).append((began, at))

    def use(self, name: str, start: float, end: float) -> PrinterUse:
        spans = self.intervals.get(name, [])
        open_job = [(b, end) for p, b in self.started.values() if p == name]
        busy = sum(max(0.0, min(e, end) - max(b, start)) for b, e in [*spans, *open_job])
        return PrinterUse(name, len(spans), busy, end - start)


async def _stations(outlet: SimulatedOutlet, journal: Journal) -> list[Station]:
    return [
        Station(n, await open_printer(outlet.printer_url(n)), outlet.reader(n), outlet.psam,
                journal)
        for n in outlet.names
    ]  # fmt: skip


def _sim_config(config: LineConfig) -> SimConfig:
    return SimConfig(side_seconds=config.side_seconds, motion_seconds=config.motion_seconds,
                     time_scale=config.time_scale, seed=config.seed)  # fmt: skip


async def _drive(agent: Agent, service: LineService) -> None:
    task = asyncio.create_task(agent.run())
    try:
        await service.finished.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_line(config: LineConfig, workdir: Path) -> LineReport:
    """Make ``config.cards`` cards on ``config.printers`` simulated printers; the figures."""
    service = LineService(config.cards)
    clock = BusyClock()
    sim = SimulatedOutlet(workdir / "line", printers=config.printers,
                          blanks=config.cards * 2 + 10, config=_sim_config(config))  # fmt: skip
    began = time.monotonic()
    async with sim as outlet:
        with Journal(workdir / "journal.sqlite") as journal:
            stations = await _stations(outlet, journal)
            agent = Agent(service, stations, journal, AgentConfig(wait_seconds=0.05),
                          events=clock)  # fmt: skip
            try:
                await _drive(agent, service)
            finally:
                for station in stations:
                    await station.printer.aclose()
    ended = time.monotonic()
    start = clock.first or began
    dry = service.dry_at or ended
    uses = tuple(clock.use(name, start, dry) for name in sim.names)
    return LineReport(config, uses, len(service.made), len(service.dead), ended - began,
                      dry - start)  # fmt: skip
