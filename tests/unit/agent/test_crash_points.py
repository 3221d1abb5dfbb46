"""A card number is printed at most once, whatever step of the card the agent dies at.

The first agent's station makes the card and "dies" at one crash point: just
after a journal mark is on disk, or just after ``Se`` left for the printer
(before its answer). Nothing of that process runs afterwards; its journal and
the printers stay. A new agent on the same journal and worker identity then
starts, with the job still leased to that worker or (``expired``) after the
queue moved it on (a job reconciled failed is then redriven, as a supervisor
would). Whatever the crash point, the job ends made, the card's
number is in the printers' hoppers exactly once, and every body fed and not
delivered is reported spoiled exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from printers.agent.client import ApiUnavailable, ServiceUnavailable
from printers.agent.journal import Journal, Mark
from printers.agent.loop import Agent, AgentConfig, AgentEvent, render_side
from printers.agent.orders import card_order
from printers.agent.station import Station
from printers.devices.evolis import commands as cmd
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.card_data import card_data_to_json
from sscard_core.messages import JobStep

from .conftest import applicant, photo_png, station_for
from .service_double import ContractService

CONFIG = AgentConfig(
    wait_seconds=0.05,
    heartbeat_seconds=0.05,
    printer_poll_seconds=0.02,
    reconcile_retry_seconds=0.02,
    retry_seconds=0.02,
    gone_after_seconds=0.5,
)
SE_SENT = "se_sent"  # Se has left for the printer; the agent dies before the answer
CRASH_POINTS = (
    Mark.FEEDING,
    Mark.FED,
    Mark.ENCODING,
    Mark.ENCODED,
    Mark.VERIFIED,
    Mark.PRINTING,
    SE_SENT,
    Mark.EJECTED,
)


class Crash(BaseException):
    """The process died here (nothing after it runs)."""


class CrashingJournal(Journal):
    """A journal whose process dies just after ``at`` is on disk."""

    at: Mark | None = None

    def mark(self, run: int, mark: Mark, detail: Any = None) -> None:
        super().mark(run, mark, detail)
        if mark is self.at:
            raise Crash(mark.value)


def card_job(number: str) -> dict[str, object]:
    card = applicant(number=number)
    return {"card_id": "c1", "card": card_data_to_json(card), "photo_url": "/p", "outlet": "o1"}


async def die_after_se(station: Station) -> None:
    """Send ``Se`` and die before the printer answers."""

    async def eject() -> None:
        await station.printer.transport.send(cmd.end_sequence().encode())
        raise Crash(SE_SENT)

    station.printer.eject = eject  # type: ignore[method-assign]


async def first_agent_dies(
    outlet: SimulatedOutlet,
    journal: CrashingJournal,
    service: ContractService,
    point: str,
    lost: frozenset[JobStep] = frozenset(),
) -> None:
    """The first agent makes the card and dies at ``point``; the service never learns of
    the steps ``lost`` (their heartbeats did not reach it, or were overtaken by older ones)."""
    (job,) = await service.claim()
    station = await station_for(outlet, "p1", journal)
    order = card_order(job)
    face = render_side(order.card, photo_png(), 32)
    run = journal.begin(job.id, job.kind.value, station.name, job.attempts)

    async def announce(step: JobStep) -> None:
        if step not in lost:
            await service.heartbeat(job.id, step)

    if point == SE_SENT:
        await die_after_se(station)
    else:
        journal.at = Mark(point)
    with pytest.raises(Crash):
        await station.make_card(run, order.card, face, announce)
    journal.at = None
    await station.printer.transport.aclose()


@asynccontextmanager
async def restarted(
    outlet: SimulatedOutlet, journal: Journal, service: ContractService
) -> AsyncIterator[Agent]:
    stations = [await station_for(outlet, name, journal) for name in outlet.names]
    events: list[AgentEvent] = []
    agent = Agent(service, stations, journal, CONFIG, events=events.append)
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for station in stations:
            await station.printer.aclose()


async def hoppers(outlet: SimulatedOutlet, expected: int) -> list[str]:
    """The card numbers on the chips of the cards in every hopper (archived)."""
    numbers: list[str] = []
    for _ in range(500):
        numbers = [c.chip.card_number for c in outlet.cards() if c.chip is not None]
        printed = sum(len(outlet.simulator(n).printed) for n in outlet.names)
        if len(numbers) >= expected and len(outlet.cards()) == printed:
            break
        await asyncio.sleep(0.01)
    return numbers


@pytest.mark.parametrize("expired", [False, True], ids=["lease-held", "lease-expired"])
@pytest.mark.parametrize("point", CRASH_POINTS, ids=str)
async def test_a_card_number_is_printed_at_most_once_whatever_the_crash_point(
    outlet: SimulatedOutlet, tmp_path: Any, point: str, expired: bool
) -> None:
    service = ContractService(photo_png())
    service.add(1, card_job("A00000026"))
    with CrashingJournal(tmp_path / "journal.sqlite") as journal:
        await first_agent_dies(outlet, journal, service, point)
        if expired:
            service.expire(1)
        async with restarted(outlet, journal, service):
            row = await service.wait_for(1, "done", "dead")
            if row.state == "dead":  # reconciled failed (the body was spoiled): redriven
                service.redrive(1)
                row = await service.wait_for(1, "done")
            numbers = await hoppers(outlet, 1)
            for _ in range(500):  # the journal settles once the service acknowledged
                if not journal.in_flight():
                    break
                await asyncio.sleep(0.01)
        assert not journal.in_flight()
    assert numbers == ["A00000026"]  # printed once, never twice
    assert row.result is not None
    rejected = sum(outlet.simulator(n).machine.reject_box for n in outlet.names)
    spoiled_reports = sum(f.spoiled_card for f in row.failures) + row.spoiled_reported
    assert spoiled_reports == rejected  # every body fed and not delivered, once
    assert len(service.spoiled_bodies) == rejected


@pytest.mark.parametrize("elsewhere", [False, True], ids=["requeued", "made-elsewhere"])
async def test_a_body_fed_unknown_to_the_service_is_recorded_spoiled_once_after_a_rehand(
    outlet: SimulatedOutlet, tmp_path: Any, elsewhere: bool
) -> None:
    """The service never heard of the feed, so the expired lease sent the job back to the
    queue (and, ``elsewhere``, another worker made it); the restarted agent finds the old
    run's body in the printer, rejects it, and reports it spoiled under the old attempt."""
    service = ContractService(photo_png())
    service.add(1, card_job("A00000029"))
    with CrashingJournal(tmp_path / "journal.sqlite") as journal:
        await first_agent_dies(outlet, journal, service, Mark.FED, frozenset({JobStep.FED}))
        service.expire(1)
        assert service.jobs[1].state == "queued"  # nothing physical known: handed out again
        if elsewhere:
            (again,) = await service.claim()
            await service.complete(again.id, {"printer": "elsewhere"})
        async with restarted(outlet, journal, service):
            row = await service.wait_for(1, "done")
            made_here = await hoppers(outlet, 0 if elsewhere else 1)
            for _ in range(500):
                if service.spoiled_bodies and not journal.in_flight():
                    break
                await asyncio.sleep(0.01)
        assert not journal.in_flight()
    rejected = sum(outlet.simulator(n).machine.reject_box for n in outlet.names)
    assert rejected == 1  # the old run's body
    assert service.spoiled_bodies == {(1, 1): "p1"}  # once, under the attempt that fed it
    assert row.attempts == 2
    assert made_here == ([] if elsewhere else ["A00000029"])


async def test_a_restarted_agent_takes_back_its_own_jobs_without_waiting_for_their_leases(
    outlet: SimulatedOutlet, tmp_path: Any
) -> None:
    """The old agent claimed a job and died before journaling it: the lease never expires
    here (the double has no clock), so only the new agent's release lets it run again."""
    service = ContractService(photo_png())
    service.add(1, card_job("A00000027"))
    (old,) = await service.claim()
    with Journal(tmp_path / "journal.sqlite") as journal:
        async with restarted(outlet, journal, service):
            row = await service.wait_for(1, "done")
    assert service.releases[0] == [old.id]
    assert row.attempts == 2  # a new attempt number: spoiled bodies and prints are keyed by it


class Unavailable(ContractService):
    """A service whose every endpoint fails ``fails`` times (503, connection refused) first."""

    def __init__(self, photo: bytes, fails: int) -> None:
        super().__init__(photo)
        self.left: dict[str, int] = {}
        self.fails = fails

    def _flaky(self, name: str) -> None:
        left = self.left.setdefault(name, self.fails)
        if left:
            self.left[name] = left - 1
            error = ServiceUnavailable if left % 2 else ApiUnavailable
            raise error(f"{name}: the database is restarting")

    async def claim(self, **kw: Any) -> list[Any]:
        self._flaky("claim")
        return await super().claim(**kw)

    async def release(self, keep: Sequence[int] = ()) -> list[int]:
        self._flaky("release")
        return await super().release(keep)

    async def complete(self, job_id: int, result: dict[str, Any]) -> None:
        self._flaky("complete")
        await super().complete(job_id, result)

    async def printers(self) -> list[Any]:
        self._flaky("printers")
        return await super().printers()


async def test_an_unavailable_service_is_waited_for_and_the_report_kept_until_acknowledged(
    outlet: SimulatedOutlet, tmp_path: Any
) -> None:
    service = Unavailable(photo_png(), fails=3)
    service.add(1, card_job("A00000028"))
    with Journal(tmp_path / "journal.sqlite") as journal:
        async with restarted(outlet, journal, service):
            row = await service.wait_for(1, "done")
            for _ in range(500):
                if not journal.in_flight():
                    break
                await asyncio.sleep(0.01)
        assert not journal.in_flight()
    assert row.result is not None and row.result["card_number"] == "A00000028"
    # every failure of the endpoints production needs was met, and outlived
    assert [service.left[n] for n in ("release", "claim", "complete")] == [0, 0, 0]
