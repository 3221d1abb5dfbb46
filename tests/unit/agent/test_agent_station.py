"""A station against the printer simulators and the simulated chip stations, in process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from issuance.cli import main as cli_main
from printers.agent.journal import Journal, Mark, verdict
from printers.agent.loop import render_side
from printers.agent.station import (
    PROBLEMS,
    CardSpoiled,
    FaultSource,
    PrintInDoubt,
    Station,
    StationFault,
    open_printer,
)
from printers.devices.chip.status import ReaderFault, Status
from printers.devices.evolis.commands import CommandReader
from printers.devices.simulators.chip_card import CardFaults
from printers.devices.simulators.evolis import CardPosition, PrinterMachine, SimConfig, SimFault
from printers.devices.simulators.outlet import OutletCard, SimChipReader, SimulatedOutlet
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
    for _ in range(6_000):  # a bound that only stops a hang
        cards = outlet.cards()
        if cards:
            return cards
        await asyncio.sleep(0.02)
    return []


@pytest.mark.parametrize(
    ("faults", "code", "words"),
    [
        (CardFaults(foreign=True), "chip_not_social_security_card", "not social security cards"),
        (CardFaults(card_number="A00000001"), "chip_not_blank", "personalised before"),
    ],
)
async def test_wrong_card_stock_stops_the_station_and_rejects_the_card(
    outlet: SimulatedOutlet, journal: Journal, faults: CardFaults, code: str, words: str
) -> None:
    card = applicant()
    outlet.stock.defect_next(faults)
    station = await station_for(outlet, "p1", journal)
    run = journal.begin(1, "card", "p1")
    with pytest.raises(StationFault) as caught:
        await station.make_card(run, card, render_side(card, photo_png(), 32), Announcements())
    problem = caught.value.problem
    assert (problem.source, problem.code) == (FaultSource.CARD_STOCK, code)
    assert words in problem.message and "social security cards" in problem.action
    assert not serving(station)
    assert station.fault == code
    report = station.fault_report
    assert report is not None and "to clear:" in report and words in report
    sim = outlet.simulator("p1")
    assert (sim.machine.hopper, sim.machine.reject_box, sim.machine.cards_fed) == (0, 1, 1)
    assert not sim.machine.active  # the printer itself is fine
    assert journal.run(run).marks[-2:] == (Mark.REJECTING, Mark.REJECTED)
    await station.printer.aclose()


async def test_no_card_in_the_reader_is_the_readers_fault_and_the_card_is_rejected(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = applicant()
    outlet.blind_reader("p1")
    station = await station_for(outlet, "p1", journal)
    run = journal.begin(1, "card", "p1")
    with pytest.raises(StationFault) as caught:
        await station.make_card(run, card, render_side(card, photo_png(), 32), Announcements())
    problem = caught.value.problem
    assert (problem.source, problem.code) == (FaultSource.READER, "reader_no_card")
    assert "reader" in problem.message and "contacts" in problem.action
    sim = outlet.simulator("p1")
    assert (sim.machine.reject_box, sim.machine.position) == (1, CardPosition.REJECTED)
    assert not sim.machine.active  # the printer was never at fault
    outlet.blind_reader("p1", blind=False)
    await station.recover()
    assert serving(station)
    made = await station.make_card(
        journal.begin(2, "card", "p1"), card, render_side(card, photo_png(), 32), Announcements()
    )
    assert made.printer == "p1"
    await station.printer.aclose()


async def test_a_printer_fault_names_the_action_that_clears_it(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    outlet.simulator("p1").inject(SimFault.COVER_OPEN)
    station = await station_for(outlet, "p1", journal)
    card = applicant()
    with pytest.raises(StationFault) as caught:
        await station.make_card(
            journal.begin(1, "card", "p1"),
            card,
            render_side(card, photo_png(), 32),
            Announcements(),
        )
    problem = caught.value.problem
    assert (problem.source, problem.code) == (FaultSource.PRINTER, "cover_open")
    assert problem.action.startswith("close the cover")
    assert caught.value.to_dict()["action"] == problem.action
    await station.printer.aclose()


def test_every_problem_has_a_message_and_an_action() -> None:
    for code, row in PROBLEMS.items():
        assert row.message and "clear the fault" in row.action, code
        assert isinstance(row.source, FaultSource)


async def test_each_printer_has_a_reader_of_its_own(outlet: SimulatedOutlet) -> None:
    assert outlet.station_port("p1") != outlet.station_port("p2")
    assert outlet.reader_spec("p1") != outlet.reader_spec("p2")
    p1_serial = outlet.reader("p1").serial
    crossed = SimChipReader(outlet.host, outlet.station_port("p2"), p1_serial)
    with pytest.raises(ReaderFault):
        await crossed.connection(applicant().card_identifier).connect()


async def test_printer_job_rebuilds_the_panels_a_station_printed(
    outlet: SimulatedOutlet, journal: Journal, tmp_path: Path
) -> None:
    """``sscard printer job`` on the card-<n>.json the outlet wrote gives what the printer got."""
    card = applicant()
    photo = tmp_path / "photo.png"
    photo.write_bytes(photo_png())
    station = await station_for(outlet, "p1", journal)
    await station.make_card(
        journal.begin(1, "card", "p1"), card, render_side(card, photo_png(), 32), Announcements()
    )
    await station.printer.aclose()
    (made,) = await _archived(outlet)
    job = tmp_path / "job.prn"
    args = ["--card", str(made.png.with_suffix(".json")), "--photo", str(photo)]
    assert cli_main(["printer", "job", *args, "--ribbon", "ymcko", "--out", str(job)]) == 0
    machine = PrinterMachine(SimConfig(time_scale=0.0))
    reader = CommandReader()
    reader.feed(job.read_bytes())
    for command in reader:
        machine.handle(command)
    assert machine.printed[0].front == outlet.simulator("p1").printed[0].front


class Garbled:
    """A reader whose card answers one byte to everything: no status word at all."""

    def connection(self, card_identifier: str) -> Garbled:
        return self

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    async def transmit(self, apdu: bytes) -> bytes:
        return b"\x01"


async def test_a_card_that_answers_nonsense_goes_to_the_reject_box(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    printer = await open_printer(outlet.printer_url("p1"))
    station = Station("p1", printer, Garbled(), outlet.psam, journal)
    card = applicant()
    face = render_side(card, photo_png(), 32)
    with pytest.raises(CardSpoiled):
        await station.make_card(journal.begin(1, "card", "p1"), card, face, Announcements())
    machine = outlet.simulator("p1").machine
    assert (machine.reject_box, machine.position) == (1, CardPosition.REJECTED)
    assert serving(station)
    await printer.aclose()
