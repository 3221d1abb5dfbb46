"""A station against the printer simulators and the simulated chip stations, in process."""

from __future__ import annotations

import asyncio

import pytest

from printers.agent.journal import Journal, Mark, verdict
from printers.agent.loop import render_side
from printers.agent.station import CardSpoiled, PrintInDoubt, StationFault
from printers.devices.chip.status import Status
from printers.devices.simulators.chip_card import CardFaults
from printers.devices.simulators.evolis import SimFault
from printers.devices.simulators.outlet import OutletCard, SimulatedOutlet
from sscard_core.messages import JobStep, Reconciliation

from .conftest import applicant, photo_png, serving, station_for


class Announcements:
    def __init__(self) -> None:
        self.steps: list[JobStep] = []

    async def __call__(self, step: JobStep) -> None:
        self.steps.append(step)


async def test_a_card_is_encoded_verified_printed_and_ejected(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = applicant()
    station = await station_for(outlet, "p1", journal)
    run = journal.begin(1, "card", "p1")
    said = Announcements()
    made = await station.make_card(run, card, render_side(card, photo_png(), 32), said)
    assert made.read_back == card
    assert said.steps == [JobStep.FED, JobStep.ENCODING, JobStep.PRINTING]
    assert journal.run(run).last is Mark.EJECTED
    assert verdict(journal.run(run)).outcome is Reconciliation.MADE
    sim = outlet.simulator("p1")
    assert (sim.machine.hopper, sim.machine.reject_box) == (1, 0)
    await station.printer.aclose()


@pytest.mark.parametrize(
    "faults",
    [CardFaults(fail_write_at=3, write_failure=Status.MEMORY_FAILURE), CardFaults(mute=True)],
)
async def test_a_failed_chip_sends_the_card_to_the_reject_box(
    outlet: SimulatedOutlet, journal: Journal, faults: CardFaults
) -> None:
    card = applicant()
    outlet.stock.defect_next(faults)
    station = await station_for(outlet, "p1", journal)
    run = journal.begin(1, "card", "p1")
    said = Announcements()
    with pytest.raises(CardSpoiled):
        await station.make_card(run, card, render_side(card, photo_png(), 32), said)
    sim = outlet.simulator("p1")
    assert (sim.machine.hopper, sim.machine.reject_box, len(sim.printed)) == (0, 1, 0)
    assert said.steps == [JobStep.FED, JobStep.ENCODING, JobStep.EJECTING]
    assert journal.run(run).marks[-2:] == (Mark.REJECTING, Mark.REJECTED)
    assert verdict(journal.run(run)).spoiled
    assert serving(station)
    await station.printer.aclose()


async def test_a_jam_faults_the_printer_and_the_other_one_prints(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = applicant()
    face = render_side(card, photo_png(), 32)
    outlet.simulator("p1").inject(SimFault.JAM)
    first = await station_for(outlet, "p1", journal)
    second = await station_for(outlet, "p2", journal)
    run = journal.begin(1, "card", "p1")
    with pytest.raises(StationFault) as raised:
        await first.make_card(run, card, face, Announcements())
    assert isinstance(raised.value, PrintInDoubt)  # it jammed on Se: only the printer knows
    assert not serving(first)
    assert first.fault == "card_stuck"
    assert outlet.simulator("p1").printed == []
    retry = journal.begin(1, "card", "p2")
    made = await second.make_card(retry, card, face, Announcements())
    assert made.printer == "p2"
    assert [c.printer for c in await _archived(outlet)] == ["p2"]
    outlet.simulator("p1").clear_faults()
    await first.recover()
    assert serving(first)
    await first.printer.aclose()
    await second.printer.aclose()


async def _archived(outlet: SimulatedOutlet) -> list[OutletCard]:
    for _ in range(100):
        cards = outlet.cards()
        if cards:
            return cards
        await asyncio.sleep(0.02)
    return []
