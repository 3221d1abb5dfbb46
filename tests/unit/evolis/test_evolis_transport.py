"""Transports: TCP against a small loopback server, USB against a pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import socket
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from printers.devices.evolis.transport import TcpTransport, UsbTransport
from sscard_core.errors import TransportError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_tcp_sends_and_splits_replies_at_cr(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r"))
        writer.write(b"\x06\rPrimacy\r")
        await writer.drain()
        await reader.read()
        writer.close()

    port = await serve(handler)
    async with TcpTransport("127.0.0.1", port) as transport:
        await transport.send(b"\x1bSs\r")
        assert await transport.receive_reply(1.0) == b"\x06\r"
        assert await transport.receive_reply(1.0) == b"Primacy\r"
    assert received == [b"\x1bSs\r"]


async def test_tcp_time_out_is_a_transport_error(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async with TcpTransport("127.0.0.1", await serve(silent)) as transport:
        with pytest.raises(TransportError, match=r"no reply within 0\.05 s") as caught:
            await transport.receive_reply(0.05)
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_tcp_closed_connection_is_a_transport_error(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"half a reply")
        writer.close()

    async with TcpTransport("127.0.0.1", await serve(hang_up)) as transport:
        with pytest.raises(TransportError, match="closed the connection"):
            await transport.receive_reply(1.0)


async def test_tcp_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = TcpTransport("127.0.0.1", port)
    with pytest.raises(TransportError, match="cannot connect") as caught:
        await transport.connect()
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.fields["port"] == port


async def test_tcp_use_before_connect_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="not connected"):
        await TcpTransport("127.0.0.1", 1).send(b"\x1bSs\r")


@pytest.fixture
def pty_device() -> Iterator[tuple[int, str]]:
    """A raw pseudo-terminal standing in for /dev/usb/lp0: (the printer's end, device path)."""
    printer_end, device = os.openpty()
    tty.setraw(device)
    path = os.ttyname(device)
    yield printer_end, path
    os.close(printer_end)
    os.close(device)


async def test_usb_sends_and_receives_through_the_device(pty_device: tuple[int, str]) -> None:
    printer_end, path = pty_device
    async with UsbTransport(path) as transport:
        await transport.send(b"\x1bRtp\r")
        assert os.read(printer_end, 100) == b"\x1bRtp\r"
        os.write(printer_end, b"Primacy\r\x06")
        assert await transport.receive_reply(1.0) == b"Primacy\r"
        os.write(printer_end, b"\r")
        assert await transport.receive_reply(1.0) == b"\x06\r"


async def test_usb_time_out_is_a_transport_error(pty_device: tuple[int, str]) -> None:
    _, path = pty_device
    async with UsbTransport(path) as transport:
        with pytest.raises(TransportError, match="timed out"):
            await transport.receive_reply(0.05)


async def test_usb_missing_device_is_a_transport_error(tmp_path: Path) -> None:
    transport = UsbTransport(str(tmp_path / "lp9"))
    with pytest.raises(TransportError, match="cannot open") as caught:
        await transport.__aenter__()
    assert isinstance(caught.value.__cause__, FileNotFoundError)


async def test_usb_use_before_open_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="not open"):
        await UsbTransport("/dev/usb/lp0").receive_reply(1.0)
