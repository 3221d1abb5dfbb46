"""The vpcd protocol: the pure message handler, and the bridge against a vpcd-speaking server."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from printers.devices.chip import apdu
from printers.devices.simulators.chip_card import ATR, SimulatedCard
from printers.devices.simulators.vicc import (
    DEFAULT_PORT,
    ViccBridge,
    _arguments,
    frame,
    handle,
    read_message,
    vpcd_port,
)
from sscard_core.errors import ProtocolError


def test_frame_is_a_big_endian_length_then_the_payload() -> None:
    assert frame(b"\x04") == b"\x00\x01\x04"
    assert frame(bytes(300))[:2] == b"\x01\x2c"


def test_get_atr_is_answered_with_the_atr(blank: SimulatedCard) -> None:
    assert handle(blank, b"\x04") == ATR


@pytest.mark.parametrize("code", [b"\x00", b"\x01", b"\x02"])
def test_power_codes_reset_the_card_and_get_no_answer(blank: SimulatedCard, code: bytes) -> None:
    handle(blank, apdu.select_aid().to_bytes())
    assert handle(blank, code) is None
    assert blank.transmit(apdu.get_challenge().to_bytes()) == bytes.fromhex("6985")


def test_an_unknown_control_code_is_a_protocol_error(blank: SimulatedCard) -> None:
    with pytest.raises(ProtocolError):
        handle(blank, b"\x03")


def test_longer_payloads_are_apdus(blank: SimulatedCard) -> None:
    assert handle(blank, apdu.select_aid().to_bytes()) == bytes.fromhex("6113")


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ('FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x8C7B\nCHANNELID 0x8C7B\n', 35963),
        ("DEVICENAME /dev/null:40000\n", 40000),
        ("# nothing\n", DEFAULT_PORT),
    ],
)
def test_vpcd_port_from_its_config(tmp_path: Path, text: str, port: int) -> None:
    config = tmp_path / "vpcd"
    config.write_text(text, encoding="utf-8")
    assert vpcd_port(config) == port


def test_vpcd_port_without_a_config(tmp_path: Path) -> None:
    assert vpcd_port(tmp_path / "absent") == DEFAULT_PORT


class FakeVpcd:
    """The server side of the vpcd protocol, scripted: sends messages, collects answers."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()
        self.clients: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.clients.put((reader, writer))


@pytest.fixture
async def vpcd() -> AsyncIterator[tuple[FakeVpcd, int]]:
    fake = FakeVpcd()
    server = await asyncio.start_server(fake.on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield fake, port


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> bytes:
    writer.write(struct.pack(">H", len(payload)) + payload)
    await writer.drain()
    return await read_message(reader)


async def test_bridge_serves_the_card_and_reconnects(
    vpcd: tuple[FakeVpcd, int], blank: SimulatedCard
) -> None:
    fake, port = vpcd
    bridge = ViccBridge(blank, "127.0.0.1", port, reconnect_delay=0.01)
    task = asyncio.create_task(bridge.serve_forever())
    try:
        reader, writer = await asyncio.wait_for(fake.clients.get(), 10)
        writer.write(frame(b"\x01"))  # power on: no answer expected
        assert await ask(reader, writer, b"\x04") == ATR
        assert await ask(reader, writer, apdu.select_aid().to_bytes()) == bytes.fromhex("6113")
        writer.close()
        await writer.wait_closed()
        reader, writer = await asyncio.wait_for(fake.clients.get(), 10)
        assert await ask(reader, writer, b"\x04") == ATR
        assert bridge.sessions == 2
        writer.close()
        await writer.wait_closed()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_bridge_keeps_trying_while_vpcd_is_down(blank: SimulatedCard) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    bridge = ViccBridge(blank, "127.0.0.1", port, reconnect_delay=0.01)
    task = asyncio.create_task(bridge.serve_forever())
    while bridge.attempts < 3:  # noqa: ASYNC110 - a counter the bridge advances
        await asyncio.sleep(0.005)
    assert not task.done()  # refused three times, and still trying
    assert bridge.sessions == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_command_line_arguments() -> None:
    args = _arguments(
        [
            "--card-identifier",
            "110000D156000005",
            "--auth-key",
            "00" * 16,
            "--mac-key",
            "11" * 16,
            "--pin-reload-key",
            "22" * 16,
        ]
    )
    assert args.mac_key == b"\x11" * 16
    assert args.port is None
    with pytest.raises(SystemExit):
        _arguments(
            ["--card-identifier", "x", "--auth-key", "00", "--mac-key", "", "--pin-reload-key", ""]
        )
