"""One printing station: an Evolis printer with a chip station and its PC/SC encoder.

Design notes: ``docs/agent.md`` (section ``printers.agent.station``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from printers.agent.journal import Journal, Mark
from printers.devices.chip.encoder import (
    CardConnection,
    ChipEncoder,
    EncodeResult,
    mismatched_fields,
)
from printers.devices.chip.psam import Psam
from printers.devices.chip.status import ReadBackMismatch
from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.evolis.models import MODELS, PrinterModel
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.evolis.transport import open_transport
from printers.documents.panels import CardSide
from sscard_core.card_data import CardData, card_data_to_json
from sscard_core.errors import ChipError, DeviceError, PrinterFault, TransportError
from sscard_core.messages import JobStep

Announce = Callable[[JobStep], Awaitable[None]]


class ChipReader(Protocol):
    """The reader of a printer's chip station."""

    def connection(self, card_identifier: str) -> CardConnection:
        """A connection to the card now under the contacts (expected: ``card_identifier``)."""
        ...


class CardSpoiled(ChipError):
    """The chip failed; the card went to the reject box and must not be handed out."""

    code = "card_spoiled"


class StationFault(PrinterFault):
    """The printer failed mid-card; the station is out of service until the fault is cleared."""

    code = "printer_faulted"


@dataclass(frozen=True)
class CardMade:
    """A card that was encoded, verified, printed and ejected to the hopper."""

    printer: str
    read_back: CardData
    encoded: EncodeResult

    def result(self) -> dict[str, Any]:
        """The ``complete`` result reported to the service."""
        return {
            "printer": self.printer,
            "card_identifier": self.read_back.card_identifier,
            "card_number": self.read_back.card_number,
            "psam_counter_before": self.encoded.psam_counter_before,
            "psam_counter_after": self.encoded.psam_counter_after,
            "apdu_count": self.encoded.apdu_count,
            "read_back": card_data_to_json(self.read_back),
        }


def fault_name(exc: DeviceError) -> str:
    """A short name for a printer fault (the printer's status when it gave one)."""
    if isinstance(exc, EvolisFault):
        return exc.status.value
    return exc.code


class Station:
    """One printer and its encoder; one card at a time (the agent guarantees it)."""

    def __init__(
        self, name: str, printer: EvolisPrinter, reader: ChipReader, psam: Psam, journal: Journal
    ) -> None:
        self.name = name
        self.printer = printer
        self.reader = reader
        self.psam = psam
        self.journal = journal
        self.fault: str | None = None
        self.card_inside = False

    @property
    def in_service(self) -> bool:
        return self.fault is None

    async def make_card(
        self, run: int, card: CardData, face: CardSide, announce: Announce
    ) -> CardMade:
        """Feed, encode, verify, print and eject one card; see the module docstring."""
        try:
            await self._feed(run, announce)
            encoded = await self._encode_or_reject(run, card, announce)
            await self._print(run, face, announce)
        except (PrinterFault, TransportError) as exc:
            raise self._faulted(exc) from exc
        return CardMade(self.name, encoded.read_back, encoded)

    def _faulted(self, exc: DeviceError) -> StationFault:
        self.fault = fault_name(exc)
        return StationFault(
            f"printer {self.name}: {exc.message}", printer=self.name, fault=self.fault
        )

    async def _feed(self, run: int, announce: Announce) -> None:
        self.journal.mark(run, Mark.FEEDING)
        await announce(JobStep.FED)
        await self.printer.feed_and_park()
        self.card_inside = True
        self.journal.mark(run, Mark.FED)

    async def _encode_or_reject(self, run: int, card: CardData, announce: Announce) -> EncodeResult:
        try:
            return await self._encode(run, card, announce)
        except ChipError as exc:
            await self._reject(run, exc, announce)
            raise CardSpoiled(
                f"printer {self.name}: the chip failed ({exc.message}); the card was rejected",
                printer=self.name,
                cause=exc.code,
            ) from exc

    async def _encode(self, run: int, card: CardData, announce: Announce) -> EncodeResult:
        self.journal.mark(run, Mark.ENCODING)
        await announce(JobStep.ENCODING)
        encoder = ChipEncoder(self.reader.connection(card.card_identifier), self.psam)
        encoded = await encoder.personalise(card)
        self.journal.mark(run, Mark.ENCODED)
        read = await encoder.read_card()
        different = mismatched_fields(card, read)
        if different:
            raise ReadBackMismatch(different)
        self.journal.mark(run, Mark.VERIFIED, {"read_back": card_data_to_json(read)})
        return encoded

    async def _reject(self, run: int, cause: ChipError, announce: Announce) -> None:
        self.journal.mark(run, Mark.REJECTING, {"cause": cause.code})
        await announce(JobStep.EJECTING)
        await self.printer.reject()
        self.card_inside = False
        self.journal.mark(run, Mark.REJECTED, {"cause": cause.code})

    async def _print(self, run: int, face: CardSide, announce: Announce) -> None:
        self.journal.mark(run, Mark.PRINTING)
        await announce(JobStep.PRINTING)
        await self.printer.print_side(face)
        await self.printer.eject()
        self.card_inside = False
        self.journal.mark(run, Mark.EJECTED)

    async def recover(self) -> None:
        """After a supervisor cleared the fault: clear the status, reject any body left inside."""
        await self.printer.clear_error()
        if self.card_inside:
            await self.clear_leftover()
        self.fault = None

    async def clear_leftover(self) -> bool:
        """Send a body that may be inside the printer to the reject box; whether there was one."""
        try:
            await self.printer.reject()
        except EvolisFault as exc:
            if exc.status not in LEFTOVER_ABSENT:
                raise
            with contextlib.suppress(DeviceError):
                await self.printer.clear_error()
            return False
        finally:
            self.card_inside = False
        return True


LEFTOVER_ABSENT = frozenset({PrinterStatus.NO_CARD, PrinterStatus.COMMAND_ERROR})


async def open_printer(url: str, model: PrinterModel = PrinterModel.PRIMACY) -> EvolisPrinter:
    """Connect to ``tcp://HOST:PORT`` (or a USB device file path) and switch to ACK/NACK."""
    printer = EvolisPrinter(await open_transport(url), MODELS[model])
    await printer.open()
    return printer
