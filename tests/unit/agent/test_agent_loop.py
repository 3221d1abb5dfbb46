"""The agent loop against the contract, in memory, and the simulated outlet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from printers.agent.journal import Journal, Mark, Settlement
from printers.agent.loop import Agent, AgentConfig, AgentEvent
from printers.agent.orders import PrinterReport
from printers.devices.simulators.chip_card import CardFaults
from printers.devices.simulators.evolis import SimFault
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.card_data import CardData, card_data_to_json
from sscard_core.messages import JobStep, PrinterHealth, Reconciliation

from .conftest import applicant, photo_png, serving, station_for
from .service_double import ContractService

CONFIG = AgentConfig(
    wait_seconds=0.05,
    heartbeat_seconds=0.05,
    printer_poll_seconds=0.02,
    reconcile_retry_seconds=0.02,
)


def card_job(card: CardData) -> dict[str, object]:
    return {"card_id": "c1", "card": card_data_to_json(card), "photo_url": "/p", "outlet": "o1"}


@asynccontextmanager
async def running(
    outlet: SimulatedOutlet, journal: Journal, service: ContractService, events: list[AgentEvent]
) -> AsyncIterator[Agent]:
    stations = [await station_for(outlet, name, journal) for name in outlet.names]
    agent = Agent(service, stations, journal, CONFIG, events=events.append)
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for station in stations:
            await station.printer.aclose()


async def test_a_jam_faults_the_printer_and_the_job_moves_to_the_other(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    service = ContractService(photo_png())
    events: list[AgentEvent] = []
    outlet.simulator("p1").inject(SimFault.JAM)
    async with running(outlet, journal, service, events) as agent:
        service.add(1, card_job(applicant()))
        row = await service.wait_for(1, "done")
        assert row.attempts == 2
        (failure,) = row.failures
        assert (failure.transient, failure.spoiled_card, failure.printer) == (True, True, "p1")
        assert row.result is not None and row.result["printer"] == "p2"
        assert service.register["p1"].status is PrinterHealth.FAULTED
        assert not serving(agent.stations["p1"])
        assert outlet.simulator("p1").printed == []
        assert len(outlet.simulator("p2").printed) == 1
        # a supervisor clears the fault in the register; the agent puts p1 back in service
        outlet.simulator("p1").clear_faults()
        await service.put_printer("p1", PrinterHealth.OK, None)
        for _ in range(12_000):  # a bound that only stops a hang
            if serving(agent.stations["p1"]):
                break
            await asyncio.sleep(0.01)
        assert serving(agent.stations["p1"])
    # announced steps in order (background heartbeats repeat the current one)
    beats = [step for job, step in service.steps if job == 1 and step is not JobStep.IDLE]
    steps = [step for i, step in enumerate(beats) if i == 0 or beats[i - 1] is not step]
    assert steps[:3] == [JobStep.FED, JobStep.ENCODING, JobStep.PRINTING]
    assert not journal.in_flight()


async def test_a_restarted_agent_reconciles_what_its_journal_left_in_flight(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    service = ContractService(photo_png())
    service.add(5, card_job(applicant()))
    (claimed,) = await service.claim()
    await service.heartbeat(claimed.id, JobStep.ENCODING)
    # the previous agent fed a card on p1 and died while encoding it
    station = await station_for(outlet, "p1", journal)
    await station.printer.feed_and_park()
    await station.printer.aclose()
    run = journal.begin(5, "card", "p1")
    for mark in (Mark.FEEDING, Mark.FED, Mark.ENCODING):
        journal.mark(run, mark)
    service.expire(5)
    events: list[AgentEvent] = []
    async with running(outlet, journal, service, events):
        row = await service.wait_for(5, "dead")
    assert row.reconciled is not None and row.reconciled[0] is Reconciliation.FAILED
    assert outlet.simulator("p1").machine.reject_box == 1
    assert outlet.simulator("p1").printed == []
    assert journal.settlement(run) is Settlement.RECONCILED
    assert Mark.REJECTED in journal.run(run).marks


async def test_wrong_card_stock_stops_one_station_without_spoiling_its_hopper(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    service = ContractService(photo_png())
    events: list[AgentEvent] = []
    outlet.stock.defect_next(CardFaults(foreign=True))
    async with running(outlet, journal, service, events) as agent:
        service.add(1, card_job(applicant()))
        row = await service.wait_for(1, "done")
        (failure,) = row.failures
        assert (failure.transient, failure.spoiled_card) == (True, True)
        assert "not social security cards" in failure.error
        assert row.result is not None
        stopped = next(s for s in agent.stations.values() if not serving(s))
        other = next(s for s in agent.stations.values() if serving(s))
        assert row.result["printer"] == other.name
        report = service.register[stopped.name]
        assert report.status is PrinterHealth.FAULTED
        assert report.fault is not None and "card_stock" in report.fault
        assert "replace the card stock" in report.fault
        machine = outlet.simulator(stopped.name).machine
        assert (machine.cards_fed, machine.reject_box, machine.hopper) == (1, 1, 0)
        assert not machine.active  # the printer itself is not at fault


class SlowRegister(ContractService):
    """A register whose fault reports hang until released; it counts what the agent asks."""

    def __init__(self, photo: bytes) -> None:
        super().__init__(photo)
        self.let_go = asyncio.Event()
        self.pending = 0
        self.calls_while_pending = 0
        self.reads_after_release = 0

    async def put_printer(self, name: str, status: PrinterHealth, fault: str | None) -> None:
        if status is PrinterHealth.FAULTED and not self.let_go.is_set():
            self.calls_while_pending += self.pending
            self.pending += 1
            await self.let_go.wait()
        await super().put_printer(name, status, fault)

    async def printers(self) -> list[PrinterReport]:
        if self.pending and not self.let_go.is_set():
            self.calls_while_pending += 1
        elif self.let_go.is_set():
            self.reads_after_release += 1
        return await super().printers()


async def _until(check: Callable[[], bool]) -> None:
    while not check():  # noqa: ASYNC110 - counters the agent's own calls advance
        await asyncio.sleep(0.005)


async def test_a_register_that_still_says_ok_does_not_undo_a_new_fault(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    service = SlowRegister(photo_png())
    events: list[AgentEvent] = []
    outlet.simulator("p1").inject(SimFault.JAM)
    async with running(outlet, journal, service, events) as agent:
        service.add(1, card_job(applicant()))
        # p1 jammed; its fault is not registered yet and the register still says "ok"
        await asyncio.wait_for(_until(lambda: service.calls_while_pending > 0), 30)
        assert not serving(agent.stations["p1"])
        service.let_go.set()
        await service.wait_for(1, "done")
        await asyncio.wait_for(_until(lambda: service.reads_after_release > 2), 30)
        assert service.register["p1"].status is PrinterHealth.FAULTED
        assert not serving(agent.stations["p1"])  # out of service until a supervisor clears it
        outlet.simulator("p1").clear_faults()
        await service.put_printer("p1", PrinterHealth.OK, None)
        await asyncio.wait_for(_until(lambda: serving(agent.stations["p1"])), 30)
