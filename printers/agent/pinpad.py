"""PIN services at the counter: the PIN pad and the desk reader.

The PIN never travels through the API: a ``pin_change`` or ``pin_reset`` job
names the card only, and the holder types the PIN on the pad wired to the
agent's machine. :class:`PinPad` is that pad: a real PIN pad is a device
behind this Protocol (its vendor's driver, wrapped in a class with
``read_pin``); the simulated ones are :class:`SimulatedPinPad`, which replays
PINs given to it in advance (tests), and :class:`KeyboardPinPad`, the agent
machine's own keyboard read without echo (``sscard agent --pinpad sim``).
:class:`PinDesk` runs one job: it reads the presented card, checks it is
the card the job names, asks the pad and sends CHANGE PIN or RELOAD PIN
(the latter authorised by a MAC from the PSAM) through a
:class:`~printers.devices.chip.encoder.ChipEncoder`.

PIN entries are strings handed straight to the encoder, which encodes them as
BCD at once; nothing here logs or stores them.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from printers.agent.journal import Journal, Mark
from printers.agent.orders import PinOrder
from printers.devices.chip.encoder import CardConnection, ChipEncoder
from printers.devices.chip.psam import Psam
from printers.devices.chip.status import WrongCard
from sscard_core.errors import InputError
from sscard_core.messages import JobStep

Announce = Callable[[JobStep], Awaitable[None]]


class PinPrompt(StrEnum):
    CURRENT = "enter the current PIN"
    NEW = "enter the new PIN"
    CONFIRM = "enter the new PIN again"


class PinMismatch(InputError):
    """The two entries of the new PIN differ."""

    code = "pin_confirmation_mismatch"


class PinPad(Protocol):
    async def read_pin(self, prompt: PinPrompt) -> str:
        """What the holder typed after ``prompt``."""
        ...


class DeskReader(Protocol):
    def connection(self) -> CardConnection:
        """A connection to the card the holder put in the desk reader."""
        ...


class SimulatedPinPad:
    """A pad whose holder types the queued entries, in order."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._entries: asyncio.Queue[str] = asyncio.Queue()
        self.type(*entries)

    def type(self, *entries: str) -> None:
        for entry in entries:
            self._entries.put_nowait(entry)

    async def read_pin(self, prompt: PinPrompt) -> str:
        return await self._entries.get()


class KeyboardPinPad:
    """The agent's terminal plays the PIN pad: each entry is read without echo."""

    def __init__(self, read: Callable[[str], str] = getpass.getpass) -> None:
        self._read = read

    async def read_pin(self, prompt: PinPrompt) -> str:
        return await asyncio.to_thread(self._read, f"PIN pad: {prompt.value}: ")


async def _new_pin(pad: PinPad) -> str:
    new = await pad.read_pin(PinPrompt.NEW)
    if await pad.read_pin(PinPrompt.CONFIRM) != new:
        raise PinMismatch("the two entries of the new PIN differ")
    return new


async def _change(encoder: ChipEncoder, pad: PinPad) -> None:
    old = await pad.read_pin(PinPrompt.CURRENT)
    await encoder.change_pin(old, await _new_pin(pad))


async def _reset(encoder: ChipEncoder, pad: PinPad) -> None:
    await encoder.reset_pin(await _new_pin(pad))


OPERATIONS: Mapping[str, Callable[[ChipEncoder, PinPad], Awaitable[None]]] = MappingProxyType(
    {"change": _change, "pin_change": _change, "reset": _reset, "pin_reset": _reset}
)


class PinDesk:
    """The desk reader, the PIN pad and the PSAM that serve PIN jobs."""

    def __init__(self, reader: DeskReader, pad: PinPad, psam: Psam, journal: Journal) -> None:
        self.reader = reader
        self.pad = pad
        self.psam = psam
        self.journal = journal

    async def serve(self, run: int, order: PinOrder, announce: Announce) -> dict[str, Any]:
        """Run one PIN job on the presented card; the ``complete`` result."""
        operation = OPERATIONS.get(order.operation)
        if operation is None:
            raise InputError(f"unknown PIN operation {order.operation!r}")
        encoder = ChipEncoder(self.reader.connection(), self.psam)
        presented = await encoder.read_card()
        if presented.card_number != order.card_number:
            raise WrongCard(f"the card presented is not card {order.card_number}")
        self.journal.mark(run, Mark.ENCODING)
        await announce(JobStep.ENCODING)
        await operation(encoder, self.pad)
        self.journal.mark(run, Mark.ENCODED)
        return {"card_number": order.card_number, "operation": order.operation}
