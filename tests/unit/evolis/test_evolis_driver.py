"""The driver against the simulator over real loopback TCP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from printers.devices.evolis.commands import Counter, ErrorMode, Face
from printers.devices.evolis.driver import EvolisPrinter, PrinterIdentity, RibbonState
from printers.devices.evolis.models import CapabilityError, PrinterModel, RibbonType
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.simulators.evolis import CardPosition, EvolisSimulator, SimFault
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH, CardSide, Panel

from .conftest import Rig, RigFactory
from .evolis_panels import Rect, blank_side, filled

S = PrinterStatus

YELLOW = Rect(100, 50, 300, 200)
CYAN = Rect(600, 400, 900, 600)
BLACK = Rect(150, 100, 250, 150)  # printed over the yellow
GREEN = Rect(700, 450, 800, 500)  # yellow over the cyan


def designed_side() -> CardSide:
    return CardSide(
        (
            filled(Panel.Y, 128, [YELLOW, GREEN]),
            filled(Panel.M, 128, []),
            filled(Panel.C, 128, [CYAN]),
            filled(Panel.K, 2, [BLACK]),
            filled(Panel.O, 2, [Rect(0, 0, CARD_WIDTH, CARD_HEIGHT)]),
        )
    )


def expected_picture() -> np.ndarray:
    picture = np.full((CARD_HEIGHT, CARD_WIDTH, 3), 255, dtype=np.uint8)
    for rect, colour in ((YELLOW, (255, 255, 0)), (CYAN, (0, 255, 255)), (GREEN, (0, 255, 0))):
        picture[rect.y0 : rect.y1, rect.x0 : rect.x1] = colour
    picture[BLACK.y0 : BLACK.y1, BLACK.x0 : BLACK.x1] = 0
    return picture


async def print_one(printer: EvolisPrinter, side: CardSide) -> None:
    """Download one face and print it: the printing half of what the agent's station does."""
    await printer.print_side(side)
    await printer.eject()


def card_png(sim: EvolisSimulator, number: int, suffix: str = "") -> Path:
    assert sim.out_dir is not None
    return sim.out_dir / f"card-{number}{suffix}.png"


async def test_identify(rig: Rig) -> None:
    _, printer = rig
    assert await printer.identify() == PrinterIdentity("Primacy", "SIM-1.0.0", "SIM0000001")


async def test_a_printed_card_becomes_a_png_of_its_panels(rig: Rig) -> None:
    sim, printer = rig
    side = designed_side()
    await print_one(printer, side)
    picture = np.asarray(Image.open(card_png(sim, 1)).convert("RGB"))
    assert picture.shape == (CARD_HEIGHT, CARD_WIDTH, 3)
    assert np.array_equal(picture, expected_picture())
    assert sim.printed[0].front == side.panels
    assert sim.machine.position is CardPosition.EJECTED


async def test_the_simulator_receives_random_panels_exactly(rig: Rig, side: CardSide) -> None:
    sim, printer = rig
    await printer.print_side(side)
    await printer.eject()
    assert sim.printed[0].front == side.panels


async def test_chip_flow_parks_the_card_then_prints_it(rig: Rig) -> None:
    sim, printer = rig
    await printer.feed_and_park()
    assert sim.card_parked and sim.parked.is_set()  # under the contacts, for the encoder
    await print_one(printer, blank_side())
    assert not sim.card_parked
    assert sim.machine.hopper == 1
    assert card_png(sim, 1).exists()


async def test_the_park_callback_names_the_card(rig: Rig) -> None:
    sim, printer = rig
    parked: list[int] = []
    sim.machine.on_park.append(parked.append)
    await printer.feed_and_park()
    await printer.reject()
    await printer.feed_and_park()
    assert parked == [1, 2]


async def test_a_parked_card_is_sent_to_the_reject_box(rig: Rig) -> None:
    sim, printer = rig
    await printer.feed_and_park()
    await printer.reject()
    assert (sim.machine.reject_box, sim.machine.hopper, sim.printed) == (1, 0, [])
    assert await printer.counter(Counter.REJECTED) == 1
    assert not card_png(sim, 1).exists()


async def test_reject_without_a_card_is_a_no_card_fault(rig: Rig) -> None:
    _, printer = rig
    with pytest.raises(EvolisFault) as caught:
        await printer.reject()
    assert (caught.value.status, caught.value.nack) == (S.NO_CARD, S.COMMAND_ERROR)


async def test_the_feeder_counts_down_then_runs_empty(make_rig: RigFactory) -> None:
    sim, printer = await make_rig(feeder_cards=2)
    for _ in range(2):
        await print_one(printer, blank_side())
    assert sim.machine.feeder == 0
    assert await printer.feeder() is S.FEEDER_EMPTY
    with pytest.raises(EvolisFault) as caught:
        await print_one(printer, blank_side())
    assert caught.value.status is S.FEEDER_EMPTY
    sim.machine.load_cards(5)
    assert await printer.feeder() is S.READY
    await printer.clear_error()
    await print_one(printer, blank_side())
    assert sim.machine.feeder == 4


async def test_the_ribbon_runs_out_after_its_sets(make_rig: RigFactory) -> None:
    sim, printer = await make_rig(ribbon_sets=3)
    for _ in range(3):
        await print_one(printer, blank_side())
    assert await printer.ribbon_state() == RibbonState(RibbonType.YMCKO, 0)
    with pytest.raises(EvolisFault) as caught:
        await print_one(printer, blank_side())
    assert (caught.value.status, caught.value.nack) == (S.RIBBON_ERROR, S.RIBBON_ERROR)
    sim.machine.replace_ribbon(200)
    await printer.clear_error()
    await print_one(printer, blank_side())
    assert await printer.ribbon_state() == RibbonState(RibbonType.YMCKO, 995)


async def test_the_hopper_fills_up(make_rig: RigFactory) -> None:
    sim, printer = await make_rig(PrinterModel.ZENIUS)
    sim.machine.hopper = sim.machine.spec.hopper_capacity - 1
    await print_one(printer, blank_side())
    with pytest.raises(EvolisFault) as caught:
        await print_one(printer, blank_side())
    assert (caught.value.status, caught.value.nack) == (S.MECHANICAL_ERROR, S.MECHANICAL_ERROR)
    assert sim.machine.feeder == 99  # refused before a card was taken
    sim.machine.empty_hopper()
    await printer.clear_error()
    await print_one(printer, blank_side())


Operation = Callable[[EvolisPrinter], Awaitable[object]]


async def print_blank(printer: EvolisPrinter) -> object:
    await print_one(printer, blank_side())
    return None


async def park(printer: EvolisPrinter) -> object:
    await printer.feed_and_park()
    await printer.reject()
    return None


@dataclass(frozen=True)
class FaultCase:
    fault: SimFault
    at_card: int | None
    operation: Operation
    status: PrinterStatus
    nack: PrinterStatus


INJECTED = [
    FaultCase(SimFault.COVER_OPEN, None, print_blank, S.COVER_OPEN, S.COVER_OPEN),
    FaultCase(SimFault.HOPPER_FULL, None, print_blank, S.MECHANICAL_ERROR, S.MECHANICAL_ERROR),
    FaultCase(SimFault.FEEDER_EMPTY, None, print_blank, S.FEEDER_EMPTY, S.FEEDER_EMPTY),
    FaultCase(SimFault.RIBBON_OUT, None, print_blank, S.RIBBON_ERROR, S.RIBBON_ERROR),
    FaultCase(SimFault.JAM, 2, print_blank, S.CARD_STUCK, S.MECHANICAL_ERROR),
    FaultCase(SimFault.CHIP_STATION, 2, park, S.MECHANICAL_ERROR, S.MECHANICAL_ERROR),
]


@pytest.mark.parametrize("case", INJECTED, ids=[case.fault.value for case in INJECTED])
async def test_an_injected_fault_surfaces_and_stays_until_cleared(
    rig: Rig, case: FaultCase
) -> None:
    sim, printer = rig
    sim.inject(case.fault, case.at_card)
    if case.at_card is not None:
        await case.operation(printer)  # card 1 goes through
    with pytest.raises(EvolisFault) as caught:
        await case.operation(printer)
    assert (caught.value.status, caught.value.nack) == (case.status, case.nack)
    assert await printer.status() is case.status
    with pytest.raises(EvolisFault) as again:
        await print_one(printer, blank_side())
    assert again.value.status is case.status
    await printer.clear_error()
    assert await printer.status() is S.READY
    if sim.machine.position is CardPosition.PARKED:
        await printer.reject()  # the card whose chip would not power up
    await case.operation(printer)


async def test_a_chip_station_failure_leaves_the_card_unsignalled_for_rejection(rig: Rig) -> None:
    sim, printer = rig
    sim.inject(SimFault.CHIP_STATION)
    with pytest.raises(EvolisFault):
        await printer.feed_and_park()
    assert sim.machine.position is CardPosition.PARKED
    assert not sim.card_parked
    await printer.clear_error()
    await printer.reject()
    assert sim.machine.reject_box == 1


async def test_a_jammed_card_is_removed_when_the_error_is_cleared(rig: Rig) -> None:
    sim, printer = rig
    sim.inject(SimFault.JAM, at_card=1)
    with pytest.raises(EvolisFault):
        await print_one(printer, blank_side())
    positions = [sim.machine.position]
    await printer.clear_error()
    positions.append(sim.machine.position)
    assert positions == [CardPosition.JAMMED, CardPosition.NONE]
    await print_one(printer, blank_side())
    assert [card.number for card in sim.printed] == [2]


async def test_the_test_api_clears_faults_too(rig: Rig) -> None:
    sim, printer = rig
    sim.inject(SimFault.COVER_OPEN)
    with pytest.raises(EvolisFault):
        await print_one(printer, blank_side())
    sim.clear_faults()
    await print_one(printer, blank_side())


async def test_duplex_prints_both_faces(rig: Rig) -> None:
    sim, printer = rig
    await printer.print_side(designed_side(), Face.FRONT)
    await printer.print_side(blank_side(), Face.BACK)
    await printer.eject()
    assert card_png(sim, 1).exists() and card_png(sim, 1, "-back").exists()
    assert await printer.ribbon_state() == RibbonState(RibbonType.YMCKO, 990)
    assert await printer.counters() == {
        Counter.CARDS: 1,
        Counter.PANELS: 10,
        Counter.REJECTED: 0,
        Counter.CLEANING: 1,
    }


async def test_ymckok_spends_one_set_on_both_faces(make_rig: RigFactory) -> None:
    _, printer = await make_rig(ribbon=RibbonType.YMCKOK, ribbon_sets=10)
    await printer.print_side(blank_side(), Face.FRONT)
    await printer.print_side(CardSide((filled(Panel.K, 2, []),)), Face.BACK)
    await printer.eject()
    assert await printer.ribbon_state() == RibbonState(RibbonType.YMCKOK, 54)


async def test_a_single_sided_model_cannot_print_a_back(make_rig: RigFactory) -> None:
    _, printer = await make_rig(PrinterModel.PEBBLE)
    with pytest.raises(CapabilityError, match="one side"):
        await printer.print_side(blank_side(), Face.BACK)
    with pytest.raises(CapabilityError, match="no reject box"):
        await printer.reject()


def test_a_model_refuses_a_ribbon_it_cannot_take(rig: Rig) -> None:
    _, printer = rig
    from printers.devices.evolis.models import MODELS

    with pytest.raises(CapabilityError):
        EvolisPrinter(printer.transport, MODELS[PrinterModel.PEBBLE], ribbon=RibbonType.YMCKOK)


async def test_a_wrong_ribbon_is_a_ribbon_error(make_rig: RigFactory) -> None:
    sim, printer = await make_rig()
    sim.machine.replace_ribbon(10, RibbonType.KB)
    with pytest.raises(EvolisFault) as caught:
        await print_one(printer, blank_side())
    assert caught.value.status is S.RIBBON_ERROR


async def test_reset_returns_to_ack_nack_mode(rig: Rig) -> None:
    sim, printer = rig
    await printer.reset()
    await print_one(printer, blank_side())
    assert (sim.machine.mode, sim.machine.ack_nack) == (ErrorMode.HOST, True)
    assert sim.machine.cover_detection
    assert sim.machine.modes_set == [ErrorMode.HOST, ErrorMode.ACK_NACK] * 2  # open, then reset
