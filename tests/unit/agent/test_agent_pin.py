"""PIN change and reset through the agent loop: the desk reader, the PIN pad and the chip.

The holder's card sits in the simulated outlet's desk reader; the pad is a
:class:`SimulatedPinPad` replaying what the holder types. The checks read the
chip afterwards with the encoder's own VERIFY PIN, and look for the PINs in
everything the agent sent to the service and in its logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

import pytest

from printers.agent.journal import Journal, Settlement
from printers.agent.loop import Agent, AgentConfig
from printers.agent.pinpad import KeyboardPinPad, PinDesk, PinPrompt, SimulatedPinPad
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.status import CardStatusError, NoCardInReader
from printers.devices.simulators.chip_card import DEFAULT_PIN, InProcessConnection, SimulatedCard
from printers.devices.simulators.outlet import SimDeskReader, SimulatedOutlet
from sscard_core.messages import JobKind, PrinterHealth

from .conftest import applicant, photo_png, station_for
from .service_double import ContractService

CONFIG = AgentConfig(wait_seconds=0.05, heartbeat_seconds=0.05, printer_poll_seconds=0.02)
NUMBER = "A12345678"
OLD_PIN = "365024"  # set at the start of each test, so it appears nowhere by chance
NEW_PIN = "908172"


async def desk_card(outlet: SimulatedOutlet) -> SimulatedCard:
    """A personalised card of ``NUMBER``, PIN ``OLD_PIN``, in the outlet's desk reader."""
    card = SimulatedCard.issue_blank(outlet.master_keys, applicant().card_identifier)
    encoder = ChipEncoder(InProcessConnection(card), outlet.psam)
    await encoder.personalise(applicant())
    await encoder.change_pin(DEFAULT_PIN, OLD_PIN)
    outlet.desk_card = card
    return card


async def pin_works(outlet: SimulatedOutlet, card: SimulatedCard, pin: str) -> bool:
    try:
        await ChipEncoder(InProcessConnection(card), outlet.psam).verify_pin(pin)
    except CardStatusError:
        return False
    return True


@asynccontextmanager
async def agent_with_desk(
    outlet: SimulatedOutlet, journal: Journal, service: ContractService, pad: SimulatedPinPad
) -> AsyncIterator[Agent]:
    stations = [await station_for(outlet, name, journal) for name in outlet.names]
    desk = PinDesk(outlet, pad, outlet.psam, journal)
    agent = Agent(service, stations, journal, CONFIG, desk=desk)
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for station in stations:
            await station.printer.aclose()


def pin_job(operation: str) -> dict[str, object]:
    return {"card_number": NUMBER, "operation": operation}


def sent_to_service(service: ContractService) -> str:
    rows = [(r.payload, r.result, [asdict(f) for f in r.failures]) for r in service.jobs.values()]
    return repr(rows)


async def test_a_pin_change_on_the_desk(
    outlet: SimulatedOutlet, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card = await desk_card(outlet)
    service = ContractService(photo_png())
    pad = SimulatedPinPad([OLD_PIN, NEW_PIN, NEW_PIN])
    async with agent_with_desk(outlet, journal, service, pad):
        service.add(1, pin_job("pin_change"), JobKind.PIN_CHANGE)
        row = await service.wait_for(1, "done")
    assert row.result == {"card_number": NUMBER, "operation": "pin_change"}
    assert await pin_works(outlet, card, NEW_PIN)
    assert not await pin_works(outlet, card, OLD_PIN)
    assert journal.run(1).job_id == 1
    assert journal.settlement(1) is Settlement.COMPLETED
    assert not journal.in_flight()
    for pin in (NEW_PIN, OLD_PIN):
        assert pin not in sent_to_service(service)
        assert pin not in caplog.text


async def test_a_pin_reset_needs_no_old_pin(outlet: SimulatedOutlet, journal: Journal) -> None:
    card = await desk_card(outlet)
    service = ContractService(photo_png())
    pad = SimulatedPinPad([NEW_PIN, NEW_PIN])
    async with agent_with_desk(outlet, journal, service, pad):
        service.add(1, pin_job("pin_reset"), JobKind.PIN_RESET)
        await service.wait_for(1, "done")
    assert await pin_works(outlet, card, NEW_PIN)


async def test_a_mismatched_confirmation_fails_the_job_and_keeps_the_pin(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = await desk_card(outlet)
    service = ContractService(photo_png())
    pad = SimulatedPinPad([OLD_PIN, NEW_PIN, "111111"])
    async with agent_with_desk(outlet, journal, service, pad):
        service.add(1, pin_job("pin_change"), JobKind.PIN_CHANGE)
        row = await service.wait_for(1, "dead")
    (failure,) = row.failures
    assert (failure.transient, failure.spoiled_card) == (False, False)
    assert "differ" in failure.error
    assert await pin_works(outlet, card, OLD_PIN)


async def test_another_card_on_the_desk_is_refused(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = await desk_card(outlet)
    service = ContractService(photo_png())
    pad = SimulatedPinPad([NEW_PIN, NEW_PIN])
    async with agent_with_desk(outlet, journal, service, pad):
        service.add(1, {"card_number": "A99999997", "operation": "pin_reset"}, JobKind.PIN_RESET)
        row = await service.wait_for(1, "dead")
    assert "not card A99999997" in row.failures[0].error
    assert await pin_works(outlet, card, OLD_PIN)


async def test_pin_jobs_are_served_while_every_printer_is_faulted(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    card = await desk_card(outlet)
    service = ContractService(photo_png())
    for name in outlet.names:
        await service.put_printer(name, PrinterHealth.FAULTED, "ribbon out")
    pad = SimulatedPinPad([NEW_PIN, NEW_PIN])
    async with agent_with_desk(outlet, journal, service, pad):
        service.add(1, pin_job("pin_reset"), JobKind.PIN_RESET)
        await service.wait_for(1, "done")
    assert await pin_works(outlet, card, NEW_PIN)
    assert ("encode",) in service.claims  # asked for PIN jobs only: no printer was free


async def test_an_agent_without_a_desk_never_claims_pin_jobs(
    outlet: SimulatedOutlet, journal: Journal
) -> None:
    service = ContractService(photo_png())
    stations = [await station_for(outlet, name, journal) for name in outlet.names]
    task = asyncio.create_task(Agent(service, stations, journal, CONFIG).run())
    service.add(1, pin_job("pin_reset"), JobKind.PIN_RESET)
    while len(service.claims) < 3:  # noqa: ASYNC110 - three claims made while the PIN job waits
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for station in stations:
        await station.printer.aclose()
    assert service.jobs[1].state == "queued"
    assert service.claims and all(c == ("print_encode",) for c in service.claims)


async def test_the_desk_reader_over_tcp_reaches_the_presented_card(
    outlet: SimulatedOutlet,
) -> None:
    card = await desk_card(outlet)
    reader = SimDeskReader(outlet.host, outlet.chip_port)
    encoder = ChipEncoder(reader.connection(), outlet.psam)
    assert (await encoder.read_card()).card_number == NUMBER
    await encoder.change_pin(OLD_PIN, NEW_PIN)
    assert await pin_works(outlet, card, NEW_PIN)
    outlet.desk_card = None
    with pytest.raises(NoCardInReader):
        await ChipEncoder(reader.connection(), outlet.psam).read_card()


async def test_the_keyboard_pad_prompts_without_echo() -> None:
    prompts: list[str] = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return NEW_PIN

    assert await KeyboardPinPad(typed).read_pin(PinPrompt.NEW) == NEW_PIN
    assert prompts == ["PIN pad: enter the new PIN: "]
