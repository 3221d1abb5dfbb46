"""The simulated printer on its own: error modes, command checks, rendering, the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from printers.devices.evolis import commands as c
from printers.devices.evolis.commands import Command, CommandName, ErrorMode, Face
from printers.devices.evolis.models import PrinterModel
from printers.devices.evolis.replies import PrinterStatus
from printers.devices.evolis.transport import TcpTransport
from printers.devices.simulators.evolis import (
    CardPosition,
    PrinterMachine,
    SimConfig,
    SimFault,
    render_side,
)
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH, Panel
from sscard_core.errors import ProtocolError

from .evolis_panels import Rect, blank_side, filled

ACK = b"\x06\r"


def machine(
    model: PrinterModel = PrinterModel.PRIMACY, *, time_scale: float = 0.0, seed: int = 1
) -> PrinterMachine:
    return PrinterMachine(SimConfig(model=model, time_scale=time_scale, seed=seed))


def acked(model: PrinterModel = PrinterModel.PRIMACY) -> PrinterMachine:
    m = machine(model)
    assert m.handle(c.error_mode(ErrorMode.HOST)).reply is None
    assert m.handle(c.error_mode(ErrorMode.ACK_NACK)).reply == ACK
    return m


def nack(code: bytes) -> bytes:
    return b"\x15" + code + b"\r"


def test_printer_mode_answers_only_reads() -> None:
    m = machine()
    assert m.handle(c.start_sequence()).reply is None
    assert m.handle(c.reject()).reply is None  # no card: silently refused
    assert m.handle(c.read_model()).reply == b"Primacy\r"
    assert m.handle(c.read_last_answer()).reply == b"NO CARD\r"
    assert m.unreadable(ProtocolError("junk")).reply is None


def test_ack_nack_mode_answers_everything() -> None:
    m = acked()
    assert m.handle(c.start_sequence()).reply == ACK
    assert m.handle(c.reject()).reply == nack(b"1")
    assert m.unreadable(ProtocolError("junk")).reply == nack(b"1")
    assert m.unreadable(c.DownloadSizeError("short")).reply == nack(b"2")


def test_pem_follows_the_guide_table() -> None:
    m = machine()
    assert m.handle(c.error_mode(ErrorMode.ACK_NACK)).reply == ACK  # 4: ACK/NACK on
    assert m.handle(c.error_mode(ErrorMode.HOST)).reply is None  # 2: a new mode, ACK/NACK off
    assert (m.mode, m.ack_nack, m.cover_detection) == (ErrorMode.HOST, False, True)
    assert m.handle(c.error_mode(ErrorMode.ACK_NACK)).reply == ACK
    assert (m.mode, m.ack_nack) == (ErrorMode.HOST, True)  # 4 keeps the mode


def test_pem_1_switches_cover_detection_off_and_gives_no_acks() -> None:
    m = machine()
    assert m.handle(c.error_mode(ErrorMode.HOST_NO_COVER_DETECTION)).reply is None
    assert (m.ack_nack, m.cover_detection) == (False, False)
    assert m.handle(c.start_sequence()).reply is None
    m.inject(SimFault.COVER_OPEN)
    m.handle(c.end_sequence())
    assert len(m.printed) == 1  # the open cover went unnoticed


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (Command(CommandName.SET_RIBBON, ("xyz",)), nack(b"2")),
        (Command(CommandName.SET_RIBBON, ()), nack(b"2")),
        (Command(CommandName.CONTRAST, ("q", "1")), nack(b"2")),
        (Command(CommandName.CONTRAST, ("k", "lots")), nack(b"2")),
        (Command(CommandName.ERROR_MODE, ("9",)), nack(b"2")),
        (Command(CommandName.CHIP_OFFSET, ("+", "10")), nack(b"2")),
        (Command(CommandName.READ_COUNTER, ("z",)), nack(b"2")),
        (c.select_face(Face.FRONT), nack(b"1")),  # no sequence started
        (c.download(filled(Panel.K, 2, [])), nack(b"1")),  # no face selected
        (c.contrast(Panel.K, -3), ACK),
        (c.speed(Panel.Y, c.TuningStep.UP), ACK),
        (c.chip_offset(), ACK),
    ],
)
def test_commands_are_checked(command: Command, reply: bytes) -> None:
    assert acked().handle(command).reply == reply


def test_a_single_sided_model_refuses_the_back() -> None:
    m = acked(PrinterModel.PEBBLE)
    m.handle(c.start_sequence())
    assert m.handle(c.select_face(Face.BACK)).reply == nack(b"1")
    assert m.handle(c.reject()).reply == nack(b"1")
    assert m.handle(c.reject_under_feeder()).reply == nack(b"1")


def test_a_download_of_the_wrong_size_is_a_parameter_error() -> None:
    m = acked()
    m.handle(c.start_sequence())
    m.handle(c.select_face(Face.FRONT))
    good = c.download(filled(Panel.K, 2, []))
    assert good.data is not None
    bad = Command(good.name, good.params, good.data + bytes(2_328))
    assert m.handle(bad).reply == nack(b"2")
    assert m.handle(c.read_last_answer()).reply == nack(b"2")
    assert m.handle(good).reply == ACK


def test_a_compressed_colour_download_is_a_parameter_error() -> None:
    m = acked()
    m.handle(c.start_sequence())
    m.handle(c.select_face(Face.FRONT))
    bogus = Command(CommandName.DOWNLOAD_COMPRESSED, ("y", "32", "1"), b"\x00")
    assert m.handle(bogus).reply == nack(b"2")


def test_seb_rejects_under_the_feeder() -> None:
    m = acked(PrinterModel.PRIMACY)
    assert m.handle(c.insert()).reply == ACK
    assert m.position is CardPosition.INSERTED
    assert not m.card_parked
    assert m.handle(c.insert()).reply == nack(b"1")  # one card at a time
    assert m.handle(c.read_last_answer()).reply == b"ERR CARD\r"
    assert m.handle(c.reject_under_feeder()).reply == ACK
    assert (m.rejected_under_feeder, m.reject_box, m.position) == (1, 0, CardPosition.REJECTED)


def test_a_card_without_downloads_is_ejected_blank() -> None:
    m = acked()
    result = m.handle(c.end_sequence())
    assert result.reply == ACK and result.card is not None
    assert (result.card.front, result.card.back) == ((), ())
    assert m.ribbon_panels_left == 1000
    positions = [m.position]
    m.settle(result)
    assert [*positions, m.position] == [CardPosition.PRINTING, CardPosition.EJECTED]


def test_timings_are_scaled() -> None:
    m = machine(time_scale=0.5, seed=3)
    m.handle(c.start_sequence())
    m.handle(c.select_face(Face.FRONT))
    for command in c.face_commands(blank_side(), Face.FRONT, m.ribbon)[1:]:
        m.handle(command)
    printed = m.handle(c.end_sequence())
    m.settle(printed)
    delay = printed.delay
    assert 0.5 * (15 + 1.5) <= delay <= 0.5 * (25 + 1.5)
    assert m.handle(c.insert_and_park()).delay == 0.5 * 1.5


def test_render_composites_subtractive_inks_under_black() -> None:
    half = Rect(0, 0, CARD_WIDTH, CARD_HEIGHT // 2)
    rgb = render_side(
        [
            filled(Panel.M, 64, [half], value=21),  # a third of full magenta
            filled(Panel.K, 2, [Rect(0, 0, 10, 10)]),
            filled(Panel.O, 2, [Rect(0, 0, CARD_WIDTH, CARD_HEIGHT)]),
        ]
    )
    assert rgb.shape == (CARD_HEIGHT, CARD_WIDTH, 3)
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    assert tuple(rgb[100, 500]) == (255, 170, 255)
    assert tuple(rgb[CARD_HEIGHT - 1, 500]) == (255, 255, 255)
    assert np.array_equal(render_side([]), np.full_like(rgb, 255))


async def test_the_command_line_entry_serves_the_protocol(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "printers.devices.simulators.evolis",
        "--port",
        "0",
        "--out",
        str(tmp_path),
        "--model",
        "Dualys",
        "--time-scale",
        "0",
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        port = int(banner.split(":")[1].split(",")[0])
        async with TcpTransport("127.0.0.1", port) as transport:
            await transport.send(c.read_model().encode())
            assert await transport.receive_reply(5.0) == b"Dualys\r"
    finally:
        process.terminate()
        await process.wait()


def test_status_of_a_fresh_printer_is_ready() -> None:
    m = machine()
    assert m.handle(c.read_last_answer()).reply == b"OK\r"
    assert m.handle(c.read_feeder()).reply == b"0\r"
    assert PrinterStatus.READY.value == "ready"


@pytest.mark.parametrize(
    "params",
    [("k", "x", "1"), ("k", "2"), ("q", "2", "1")],
)
def test_malformed_compressed_download_parameters(params: tuple[str, ...]) -> None:
    m = acked()
    m.handle(c.start_sequence())
    m.handle(c.select_face(Face.FRONT))
    bogus = Command(CommandName.DOWNLOAD_COMPRESSED, params, b"\x00")
    assert m.handle(bogus).reply == nack(b"2")
