"""The Evolis printer driver: commands out, replies in, faults raised.

:class:`EvolisPrinter` is a thin orchestration of three pure or dumb parts:
:mod:`~printers.devices.evolis.commands` builds the bytes, a
:class:`~printers.devices.evolis.transport.Transport` moves them and
:mod:`~printers.devices.evolis.replies` reads the answers. It first sets the error
mode as the guide's ``Pem`` table says: ``Pem;2`` (the host handles errors,
cover-open detection kept; a mode change is not answered, so nothing is
awaited) then ``Pem;4`` (ACK/NACK answers on, answered with ACK). Commands
are then sent one at a time, each waiting for its reply. A NACK becomes
:class:`~printers.devices.evolis.replies.EvolisFault` named by its code; the driver
asks ``Rlr;p`` for the detail, so a NACK ``T`` surfaces as ``CARD_STUCK``
when the printer answers ``ERR CARD``, and an answer outside the guide's
table is kept as the fault's ``printer_text``.

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

The agent's station (:mod:`printers.agent.station`) is the one place that runs these steps
for a card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PrinterIdentity:
    model: str
    firmware: str
    serial: str


@dataclass(frozen=True)
class RibbonState:
    ribbon: RibbonType
    panels_left: int


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
        """``Pem;2`` then ``Pem;4``: the host handles errors and every command is answered."""
        await self.transport.send(cmd.error_mode(ErrorMode.HOST).encode())
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
        """The fault with the ``Rlr;p`` detail: a documented, more precise status, or the
        printer's own text when it answers outside the guide's table."""
        try:
            detail = replies.parse_last_answer(await self._exchange(cmd.read_last_answer()))
        except DeviceError:
            return fault
        if not detail.documented:
            return EvolisFault(
                fault.status, nack=fault.nack, command=fault.command, printer_text=detail.text
            )
        if detail.status not in replies.FAULTS or detail.status is fault.status:
            return fault
        return EvolisFault(detail.status, nack=fault.nack, command=fault.command)

    async def identify(self) -> PrinterIdentity:
        model = await self.execute(cmd.read_model())
        firmware = await self.execute(cmd.read_firmware())
        serial = await self.execute(cmd.read_serial())
        return PrinterIdentity(model=model, firmware=firmware, serial=serial)

    async def status(self) -> PrinterStatus:
        """The printer's last answer (``Rlr;p``) as a status (UNKNOWN outside the guide)."""
        return (await self.last_answer()).status

    async def last_answer(self) -> replies.LastAnswer:
        """The printer's last answer (``Rlr;p``), its text kept."""
        return replies.parse_last_answer(await self._exchange(cmd.read_last_answer()))

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
