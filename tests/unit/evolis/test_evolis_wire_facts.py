"""Golden byte streams written by hand from the protocol document's measured facts.

Nothing here is produced by the driver's own packer first and then compared with
itself: every expected stream is spelled out from ``docs/evolis-protocol.md``
(the ``Pem`` table, 1016 lines of 81 bytes, the bottom row first, the vendor's
``Dbc;k;2;83312;``), and the simulator is fed streams built the same way, as
another driver would send them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from printers.devices.evolis import commands as c
from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.evolis.models import MODELS, PrinterModel, RibbonType
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.simulators.evolis import EvolisSimulator, SimConfig, render_side
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH, CardSide, Panel

from .evolis_panels import Rect, filled

ESC, CR = b"\x1b", b"\r"
LINE = 81  # bytes of a 2-level line: 648 dots
LINES = 1016
ACK = b"\x06\r"


def bottom_left_dot_k() -> CardSide:
    """Resin black on the one dot at the card's bottom-left corner (x 0, y 647)."""
    return CardSide((filled(Panel.K, 2, [Rect(0, CARD_HEIGHT - 1, 1, CARD_HEIGHT)]),))


def top_left_dot_k() -> CardSide:
    return CardSide((filled(Panel.K, 2, [Rect(0, 0, 1, 1)]),))


def test_db_golden_the_bottom_row_is_the_first_dot_of_the_first_line() -> None:
    wire = c.download(bottom_left_dot_k().panels[0]).encode()
    assert wire == ESC + b"Db;k;2;" + b"\x80" + bytes(LINES * LINE - 1) + CR


def test_db_golden_the_top_row_is_the_last_dot_of_its_line() -> None:
    wire = c.download(top_left_dot_k().panels[0]).encode()
    assert wire == ESC + b"Db;k;2;" + bytes(LINE - 1) + b"\x01" + bytes((LINES - 1) * LINE) + CR


def test_dbc_golden_as_the_vendor_driver_sends_it() -> None:
    wire = c.download_compressed(bottom_left_dot_k().panels[0]).encode()
    first = b"\x51\x80" + bytes(LINE - 1)
    rest = (b"\x51" + bytes(LINE)) * (LINES - 1)
    assert wire == ESC + b"Dbc;k;2;83312;" + first + rest + CR


@pytest.mark.parametrize(
    ("levels", "size"), [(2, 82_296), (32, 411_480), (64, 493_776), (128, 576_072)]
)
def test_db_golden_sizes(levels: int, size: int) -> None:
    panel = Panel.K if levels == 2 else Panel.M
    wire = c.download(filled(panel, levels, [])).encode()
    header = ESC + f"Db;{panel.value};{levels};".encode()
    assert wire == header + bytes(size) + CR


def test_a_black_ribbon_job_golden() -> None:
    sequence = c.print_card_sequence(bottom_left_dot_k(), RibbonType.KB, park_for_chip=False)
    stream = b"".join(command.encode() for command in sequence)
    dbc = ESC + b"Dbc;k;2;83312;" + b"\x51\x80" + bytes(80) + (b"\x51" + bytes(81)) * 1015 + CR
    assert stream == ESC + b"Pr;kb\r" + ESC + b"Ss\r" + ESC + b"Sr\r" + dbc + ESC + b"Se\r"


class Recorder:
    """A transport that records what is sent and answers from a script."""

    def __init__(self, answers: list[bytes]) -> None:
        self.sent = bytearray()
        self.answers = answers

    async def send(self, data: bytes) -> None:
        self.sent += data

    async def receive_reply(self, timeout: float) -> bytes:  # noqa: ASYNC109
        return self.answers.pop(0)

    async def aclose(self) -> None:
        return None


async def test_open_golden_pem_2_then_pem_4() -> None:
    transport = Recorder([ACK])
    await EvolisPrinter(transport, MODELS[PrinterModel.PRIMACY]).open()
    assert bytes(transport.sent) == ESC + b"Pem;2\r" + ESC + b"Pem;4\r"
    assert b"Pem;1" not in transport.sent


async def test_an_undocumented_last_answer_is_kept_in_the_fault() -> None:
    transport = Recorder([b"\x15T\r", b"ERR FEEDER JAM 12\r"])
    printer = EvolisPrinter(transport, MODELS[PrinterModel.PRIMACY])
    with pytest.raises(EvolisFault) as caught:
        await printer.execute(c.end_sequence())
    fault = caught.value
    assert (fault.status, fault.nack) == (PrinterStatus.MECHANICAL_ERROR,) * 2
    assert fault.printer_text == "ERR FEEDER JAM 12"
    assert "ERR FEEDER JAM 12" in fault.message
    assert bytes(transport.sent) == ESC + b"Se\r" + ESC + b"Rlr;p\r"


async def test_a_documented_last_answer_makes_the_fault_precise() -> None:
    transport = Recorder([b"\x15T\r", b"ERR CARD\r"])
    printer = EvolisPrinter(transport, MODELS[PrinterModel.PRIMACY])
    with pytest.raises(EvolisFault) as caught:
        await printer.execute(c.end_sequence())
    assert (caught.value.status, caught.value.nack) == (
        PrinterStatus.CARD_STUCK,
        PrinterStatus.MECHANICAL_ERROR,
    )
    assert caught.value.printer_text is None


# --- the simulator fed by another driver's bytes ------------------------------------


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[EvolisSimulator, Talk]]:
    config = SimConfig(time_scale=0.0, download_timeout=0.2, ribbon=RibbonType.YMCKO)
    sim = EvolisSimulator(config, out_dir=tmp_path)
    await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        yield sim, Talk(reader, writer)
    finally:
        writer.close()
        await sim.aclose()


class Talk:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def __call__(self, data: bytes) -> bytes:
        self.writer.write(data)
        await self.writer.drain()
        return await asyncio.wait_for(self.reader.readuntil(CR), 10)


async def start_front(talk: Talk) -> None:
    assert await talk(ESC + b"Pem;2\r" + ESC + b"Pem;4\r") == ACK  # only Pem;4 is answered
    for command in (b"Pr;ymcko", b"Ss", b"Sr"):
        assert await talk(ESC + command + CR) == ACK


async def test_the_simulator_prints_another_drivers_82296_byte_panel(
    served: tuple[EvolisSimulator, Talk],
) -> None:
    sim, talk = served
    await start_front(talk)
    assert await talk(ESC + b"Db;k;2;" + b"\x80" + bytes(82_295) + CR) == ACK
    assert await talk(ESC + b"Se\r") == ACK
    rgb = render_side(sim.printed[0].front)
    black = np.argwhere(rgb.sum(axis=2) == 0)
    assert black.tolist() == [[CARD_HEIGHT - 1, 0]]  # the bottom-left dot
    assert rgb.shape == (CARD_HEIGHT, CARD_WIDTH, 3)


async def test_a_guide_sized_panel_is_refused_and_the_next_command_survives(
    served: tuple[EvolisSimulator, Talk],
) -> None:
    sim, talk = served
    await start_front(talk)
    assert await talk(ESC + b"Db;k;2;" + bytes(84_624) + CR) == b"\x152\r"
    assert await talk(ESC + b"Rlr;p\r") == b"\x152\r"
    assert await talk(ESC + b"Se\r") == ACK
    assert len(sim.printed) == 1
    assert sim.printed[0].front == ()  # nothing of the refused panel was kept


async def test_a_short_panel_is_refused_not_waited_for(
    served: tuple[EvolisSimulator, Talk],
) -> None:
    sim, talk = served
    await start_front(talk)
    assert await talk(ESC + b"Db;k;2;" + bytes(80_000) + CR) == b"\x152\r"
    assert await talk(ESC + b"Sk;f\r") == b"0\r"
    assert sim.printed == []


async def test_the_simulator_reads_every_dbc_line_form(
    served: tuple[EvolisSimulator, Talk],
) -> None:
    sim, talk = served
    await start_front(talk)
    # line 0: black (0xFF); line 1: 1 useful byte; every other line white (0x00)
    data = b"\xff" + b"\x01\x80" + b"\x00" * (LINES - 2)
    header = ESC + f"Dbc;k;2;{len(data)};".encode()
    assert await talk(header + data + CR) == ACK
    assert await talk(ESC + b"Se\r") == ACK
    black = render_side(sim.printed[0].front).sum(axis=2) == 0
    assert black[:, 0].all()  # column 0 all black
    assert black[:, 1].tolist() == [False] * (CARD_HEIGHT - 1) + [True]  # column 1: the bottom dot
    assert int(black.sum()) == CARD_HEIGHT + 1


async def test_a_dbc_whose_lines_do_not_add_up_is_a_parameter_error(
    served: tuple[EvolisSimulator, Talk],
) -> None:
    _, talk = served
    await start_front(talk)
    data = b"\x00" * (LINES - 1)  # one line short
    assert await talk(ESC + f"Dbc;k;2;{len(data)};".encode() + data + CR) == b"\x152\r"
