"""The Evolis printer driver: commands out, replies in, faults raised.

:class:`EvolisPrinter` is a thin orchestration of three pure or dumb parts:
:mod:`~printers.devices.evolis.commands` builds the bytes, a
:class:`~printers.devices.evolis.transport.Transport` moves them and
:mod:`~printers.devices.evolis.replies` reads the answers. It first switches the
printer to ACK/NACK mode (``Pem``) so every command is answered; commands are
then sent one at a time, each waiting for its reply (a lock serialises
callers). A NACK becomes :class:`~printers.devices.evolis.replies.EvolisFault`; the
driver asks ``Rlr;p`` for the detail, so a NACK ``T`` surfaces as
``HOPPER_FULL`` or ``CARD_STUCK`` when the printer says so.

Operations are checked against the model's capabilities
(:mod:`~printers.devices.evolis.models`) before any byte is sent: a back face needs a
duplex printer, parking needs a chip station, rejecting needs a reject box
or ``Seb``.

One card, step by step::

    await printer.feed_and_park()      # Sis: the card waits under the chip contacts
    ...                                # the encoder personalises the chip
    await printer.print_side(front)    # Pr, Ss, Sr, the panel downloads
    await printer.eject()              # Se: print and eject to the hopper
    # or, if the chip failed:  await printer.reject()   # Ser (or Seb)

or all at once with :meth:`EvolisPrinter.print_card`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType, TracebackType
from typing import Self

from printers.devices.evolis import commands as cmd
from printers.devices.evolis import replies
from printers.devices.evolis.commands import Command, CommandName, Counter, ErrorMode, Face
from printers.devices.evolis.models import CapabilityError, ModelSpec, RibbonType
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.evolis.transport import Transport
from printers.documents.panels import CardSide
from sscard_core.errors import DeviceError, ProtocolError

DEFAULT_TIMEOUT = 5.0
REPLY_TIMEOUTS: Mapping[CommandName, float] = MappingProxyType(
    {
        CommandName.END_SEQUENCE: 180.0,  # prints every face, then ejects
        CommandName.INSERT: 30.0,
        CommandName.INSERT_AND_PARK: 30.0,
        CommandName.REJECT: 30.0,
        CommandName.REJECT_UNDER_FEEDER: 30.0,
        CommandName.SOFTWARE_RESET: 60.0,
        CommandName.DOWNLOAD: 30.0,
        CommandName.DOWNLOAD_COMPRESSED: 30.0,
    }
)

Encoder = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class PrinterIdentity:
    model: str
    firmware: str
    serial: str


@dataclass(frozen=True)
class RibbonState:
    ribbon: RibbonType
    panels_left: int


class CardOutcome(StrEnum):
    PRINTED = "printed"
    REJECTED = "rejected"


class EvolisPrinter:
    """One Evolis printer behind a transport."""

    def __init__(
        self, transport: Transport, model: ModelSpec, *, ribbon: RibbonType = RibbonType.YMCKO
    ) -> None:
        if not model.supports(ribbon):
            raise CapabilityError(f"a {model.model} cannot use a {ribbon} ribbon")
        self.transport = transport
        self.model = model
        self.ribbon = ribbon
        self._sequence_open = False

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Switch the printer to ACK/NACK mode so every command is answered."""
        await self.execute(cmd.error_mode(ErrorMode.ACK_NACK))

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def _exchange(self, command: Command) -> bytes:
        await self.transport.send(command.encode())
        timeout = REPLY_TIMEOUTS.get(command.name, DEFAULT_TIMEOUT)
        return await self.transport.receive_reply(timeout)

    async def execute(self, command: Command) -> str:
        """Send one command; its text for a read, "" for an ACK. A NACK raises."""
        raw = await self._exchange(command)
        try:
            if command.is_read:
                return replies.expect_text(raw, command.name.value)
            replies.expect_ack(raw, command.name.value)
        except EvolisFault as fault:
            raise await self._detailed(fault) from None
        return ""

    async def _detailed(self, fault: EvolisFault) -> EvolisFault:
        """The fault with the ``Rlr;p`` detail when the printer gives a more precise one."""
        try:
            detail = replies.parse_status(await self._exchange(cmd.read_last_answer()))
        except DeviceError:
            return fault
        if detail not in replies.FAULTS or detail is fault.status:
            return fault
        return EvolisFault(detail, nack=fault.nack, command=fault.command)

    async def identify(self) -> PrinterIdentity:
        model = await self.execute(cmd.read_model())
        firmware = await self.execute(cmd.read_firmware())
        serial = await self.execute(cmd.read_serial())
        return PrinterIdentity(model=model, firmware=firmware, serial=serial)

    async def status(self) -> PrinterStatus:
        """The printer's last answer (``Rlr;p``) as a status."""
        return replies.parse_status(await self._exchange(cmd.read_last_answer()))

    async def feeder(self) -> PrinterStatus:
        """The feeder state (``Sk;f``)."""
        return replies.parse_feeder(await self._exchange(cmd.read_feeder()))

    async def counter(self, counter: Counter) -> int:
        return replies.parse_int(await self._exchange(cmd.read_counter(counter)))

    async def counters(self) -> Mapping[Counter, int]:
        return MappingProxyType({c: await self.counter(c) for c in Counter})

    async def ribbon_state(self) -> RibbonState:
        name = await self.execute(cmd.read_ribbon())
        try:
            ribbon = RibbonType(name)
        except ValueError as exc:
            raise ProtocolError(f"unknown ribbon {name!r}") from exc
        left = replies.parse_int(await self._exchange(cmd.read_ribbon_status()))
        return RibbonState(ribbon=ribbon, panels_left=left)

    async def feed_and_park(self) -> None:
        """``Sis``: take a card from the feeder and park it under the chip contacts."""
        if not self.model.chip_station:
            raise CapabilityError(f"a {self.model.model} has no chip station")
        await self.execute(cmd.insert_and_park())

    async def print_side(self, side: CardSide, face: Face = Face.FRONT) -> None:
        """Download one face's panels; :meth:`eject` prints them."""
        if face is Face.BACK and not self.model.duplex:
            raise CapabilityError(f"a {self.model.model} prints one side only")
        face_commands = cmd.face_commands(side, face, self.ribbon)
        if not self._sequence_open:
            await self.execute(cmd.set_ribbon(self.ribbon))
            await self.execute(cmd.start_sequence())
            self._sequence_open = True
        for command in face_commands:
            await self.execute(command)

    async def eject(self) -> None:
        """``Se``: print what was downloaded and eject the card to the hopper."""
        self._sequence_open = False
        await self.execute(cmd.end_sequence())

    def _reject_command(self) -> Command:
        if self.model.reject_box:
            return cmd.reject()
        if self.model.seb:
            return cmd.reject_under_feeder()
        raise CapabilityError(f"a {self.model.model} has no reject box")

    async def reject(self) -> None:
        """Send the card in the printer to the reject box (``Ser``, else ``Seb``)."""
        command = self._reject_command()
        self._sequence_open = False
        await self.execute(command)

    async def clear_error(self) -> None:
        """``Scs``: clear the reported error status."""
        self._sequence_open = False
        await self.execute(cmd.clear_status())

    async def reset(self) -> None:
        """``Srs``: software reset; ACK/NACK mode is set again afterwards."""
        self._sequence_open = False
        await self.execute(cmd.software_reset())
        await self.open()

    async def print_card(self, side: CardSide, encode: Encoder | None = None) -> CardOutcome:
        """One single-sided card; with ``encode``, park it first and reject it if encoding fails.

        ``encode`` runs while the card is parked and returns whether the chip
        was personalised; if it returns False or raises, the card goes to the
        reject box and is never printed.
        """
        sequence = cmd.print_card_sequence(side, self.ribbon, park_for_chip=encode is not None)
        if encode is not None:
            self._reject_command()
            await self.feed_and_park()
            if not await self._encode_or_reject(encode):
                return CardOutcome.REJECTED
            sequence = sequence[1:]
        for command in sequence:
            await self.execute(command)
        return CardOutcome.PRINTED

    async def _encode_or_reject(self, encode: Encoder) -> bool:
        try:
            encoded = await encode()
        except Exception:
            await self.reject()
            raise
        if not encoded:
            await self.reject()
        return encoded
