"""Serve a simulated card to the real PC/SC stack through vpcd (the vsmartcard virtual reader).

vpcd is a pcscd reader driver (Debian package ``vsmartcard-vpcd``). It listens on a
TCP port (``DEVICENAME /dev/null:0x8C7B`` in ``/etc/reader.conf.d/vpcd``, i.e. 35963;
reader ``Virtual PCD 00 00``) and the *virtual card* connects to it as a client.
The wire protocol, both ways: a 2-byte big-endian length, then the payload.

* From vpcd, a 1-byte payload is a control code: ``00`` power off, ``01`` power on,
  ``02`` reset (none of these is answered) and ``04`` get ATR (answered with the ATR).
* Any longer payload is a command APDU, answered with the response APDU.

:func:`handle` is that protocol as a pure function over a card; :class:`ViccBridge`
is the asyncio client around it, which connects, serves until vpcd hangs up (pcscd
restarted, say) and connects again. Run it from a shell with::

    python -m printers.devices.simulators.vicc --card-identifier 110000D156000005 \\
        --auth-key HEX --mac-key HEX --pin-reload-key HEX
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import struct
from collections.abc import Sequence
from enum import IntEnum, unique
from pathlib import Path
from typing import Protocol

from printers.devices.chip.crypto import CipherSuite, KeyUsage
from printers.devices.simulators.chip_card import SimulatedCard
from sscard_core.errors import ProtocolError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0x8C7B  # 35963
VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")
LENGTH = struct.Struct(">H")
_DEVICENAME = re.compile(r"^\s*DEVICENAME\s+\S*:(0x[0-9A-Fa-f]+|\d+)\s*$", re.MULTILINE)


@unique
class Control(IntEnum):
    """vpcd control codes (1-byte payloads)."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    GET_ATR = 0x04


class VirtualCard(Protocol):
    """What the bridge needs of a card."""

    @property
    def atr(self) -> bytes: ...

    def reset(self) -> None: ...

    def transmit(self, raw: bytes) -> bytes: ...


def vpcd_port(config: Path = VPCD_CONFIG) -> int:
    """The TCP port vpcd listens on, from its reader.conf entry (35963 when absent)."""
    try:
        match = _DEVICENAME.search(config.read_text(encoding="utf-8"))
    except OSError:
        return DEFAULT_PORT
    return int(match.group(1), 0) if match else DEFAULT_PORT


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def handle(card: VirtualCard, payload: bytes) -> bytes | None:
    """The answer to one message from vpcd, or None when it expects none."""
    if len(payload) != 1:
        return card.transmit(payload)
    try:
        control = Control(payload[0])
    except ValueError as exc:
        raise ProtocolError(f"unknown vpcd control code {payload[0]:#04x}") from exc
    if control is Control.GET_ATR:
        return card.atr
    card.reset()  # power off, power on and reset all drop the card's volatile state
    return None


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """One length-prefixed message; raises IncompleteReadError when vpcd hangs up."""
    (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    return await reader.readexactly(length)


class ViccBridge:
    """Connects a card to vpcd and keeps it connected."""

    def __init__(
        self,
        card: VirtualCard,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        reconnect_delay: float = 0.5,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.reconnect_delay = reconnect_delay
        self.connected = asyncio.Event()
        self.sessions = 0
        self.attempts = 0  # connections tried, refused ones included

    async def serve_forever(self) -> None:
        """Serve, reconnecting after each hang-up or refused connection, until cancelled."""
        while True:
            try:
                await self.serve_once()
            except (OSError, asyncio.IncompleteReadError) as exc:
                log.info("vpcd at %s:%d: %s; retrying", self.host, self.port, exc)
            self.connected.clear()
            await asyncio.sleep(self.reconnect_delay)

    async def serve_once(self) -> None:
        """One connection to vpcd, served until vpcd closes it."""
        self.attempts += 1
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.sessions += 1
        self.connected.set()
        log.info("card connected to vpcd at %s:%d", self.host, self.port)
        try:
            await self._serve(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                payload = await read_message(reader)
            except asyncio.IncompleteReadError:
                return
            answer = handle(self.card, payload)
            if answer is not None:
                writer.write(frame(answer))
                await writer.drain()


def _key(text: str) -> bytes:
    key = bytes.fromhex(text)
    if len(key) != 16:
        raise argparse.ArgumentTypeError("a key is 16 bytes (32 hex digits)")
    return key


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve a simulated social security card to vpcd.")
    parser.add_argument("--card-identifier", required=True, help="16-character 卡识别码")
    parser.add_argument("--auth-key", type=_key, required=True, help="external auth master key")
    parser.add_argument("--mac-key", type=_key, required=True, help="line protection master key")
    parser.add_argument("--pin-reload-key", type=_key, required=True, help="PIN reload master key")
    parser.add_argument("--suite", choices=[s.value for s in CipherSuite], default="sm4")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=None, help="default: from the vpcd config")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    keys = {
        KeyUsage.EXTERNAL_AUTH: args.auth_key,
        KeyUsage.LINE_MAC: args.mac_key,
        KeyUsage.PIN_RELOAD: args.pin_reload_key,
    }
    card = SimulatedCard.issue_blank(keys, args.card_identifier, suite=CipherSuite(args.suite))
    bridge = ViccBridge(card, args.host, args.port or vpcd_port())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(bridge.serve_forever())


if __name__ == "__main__":
    main()
