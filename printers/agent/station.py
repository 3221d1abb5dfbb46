"""One printing station: an Evolis printer with a chip station and its PC/SC encoder.

Design notes: ``docs/agent.md`` (section ``printers.agent.station``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit

from printers.agent.journal import Journal, Mark, Run
from printers.devices.chip.encoder import (
    CardConnection,
    ChipEncoder,
    EncodeResult,
    mismatched_fields,
)
from printers.devices.chip.psam import Psam
from printers.devices.chip.status import ReadBackMismatch, ReaderFault, WrongCard
from printers.devices.evolis.commands import Counter
from printers.devices.evolis.driver import EvolisPrinter
from printers.devices.evolis.models import MODELS, PrinterModel
from printers.devices.evolis.replies import EvolisFault, PrinterStatus
from printers.devices.evolis.transport import TcpTransport, Transport, UsbTransport, open_transport
from printers.documents.panels import CardSide
from sscard_core.card_data import CardData, card_data_to_json
from sscard_core.errors import (
    ChipError,
    DeviceError,
    PrinterFault,
    SscardError,
    TransportError,
)
from sscard_core.messages import JobStep, Reconciliation

Announce = Callable[[JobStep], Awaitable[None]]
Connect = Callable[[], Awaitable[EvolisPrinter]]

# What the printer says when it holds no fault that needs a person (a refused command
# or an absent card leaves its last answer so, and clears with the next good one).
BENIGN = frozenset({PrinterStatus.READY, PrinterStatus.NEED_CLEANING}) | frozenset(
    {PrinterStatus.NO_CARD, PrinterStatus.COMMAND_ERROR, PrinterStatus.PARAMETER_ERROR}
)
# What the printer says when a card is stuck inside it.
STUCK = frozenset({PrinterStatus.CARD_STUCK, PrinterStatus.MECHANICAL_ERROR})
UNREACHABLE = TransportError.code


class ChipReader(Protocol):
    """The reader of a printer's chip station."""

    def connection(self, card_identifier: str) -> CardConnection:
        """A connection to the card now under the contacts (expected: ``card_identifier``)."""
        ...


class CardSpoiled(ChipError):
    """The chip failed; the card went to the reject box and must not be handed out."""

    code = "card_spoiled"


class FaultSource(StrEnum):
    """Which part of a station is at fault."""

    PRINTER = "printer"
    READER = "reader"
    CARD_STOCK = "card_stock"


@dataclass(frozen=True)
class Problem:
    """A fault that stops a station: who is at fault, what happened, what clears it."""

    source: FaultSource
    code: str
    message: str
    action: str

    def report(self) -> str:
        """The line for the printer register and the console."""
        return f"{self.source.value} {self.code}: {self.message}; to clear: {self.action}"


_CLEAN = "clear the fault in the printer register"
_JAM = "open the printer, take out any jammed card or ribbon, close the cover, then " + _CLEAN
_PRINTER_CHECK = "check the printer's display and power-cycle it if needed, then " + _CLEAN


@dataclass(frozen=True)
class FaultRow:
    """One row of :data:`PROBLEMS`: who is at fault, what to say, what clears it."""

    source: FaultSource
    message: str
    action: str


_P, _R, _S = FaultSource.PRINTER, FaultSource.READER, FaultSource.CARD_STOCK

# Keyed by the printer status (``EvolisFault.status``) or the error code.
PROBLEMS: Mapping[str, FaultRow] = MappingProxyType(
    {
        "cover_open": FaultRow(_P, "the cover is open", "close the cover, then " + _CLEAN),
        "feeder_empty": FaultRow(_P, "the feeder is empty", "load blank cards, then " + _CLEAN),
        "feeder_1_empty": FaultRow(_P, "feeder 1 is empty", "load blank cards, then " + _CLEAN),
        "feeder_2_empty": FaultRow(_P, "feeder 2 is empty", "load blank cards, then " + _CLEAN),
        "no_card": FaultRow(_P, "the printer found no card", "load blank cards, then " + _CLEAN),
        "ribbon_error": FaultRow(
            _P, "ribbon out or wrong ribbon", "fit a ribbon of the set type, then " + _CLEAN
        ),
        "card_stuck": FaultRow(_P, "a card is stuck in the printer", _JAM),
        "mechanical_error": FaultRow(_P, "time-out or mechanical error (card or ribbon jam)", _JAM),
        "need_cleaning": FaultRow(_P, "the printer needs cleaning", "clean it, then " + _CLEAN),
        "printer_fault": FaultRow(_P, "the printer reported a fault", _PRINTER_CHECK),
        "device_transport": FaultRow(
            _P,
            "the printer does not answer",
            "check that it is on and its cable or network, then " + _CLEAN,
        ),
        "reader_no_card": FaultRow(
            _R,
            "the chip reader sees no card under its contacts",
            "check the chip station contacts and the encoder's cable, then " + _CLEAN,
        ),
        "reader_unavailable": FaultRow(
            _R,
            "the chip reader cannot be reached",
            "connect the reader (and start pcscd), check its name in the agent's "
            "configuration, then " + _CLEAN,
        ),
        "reader_fault": FaultRow(
            _R, "the chip reader failed", "check the reader and its cable, then " + _CLEAN
        ),
        "chip_not_social_security_card": FaultRow(
            _S,
            "the feeder holds cards that are not social security cards",
            "replace the card stock with blank social security cards, then " + _CLEAN,
        ),
        "chip_not_blank": FaultRow(
            _S,
            "the feeder holds cards that were personalised before",
            "take them out, load blank social security cards, then " + _CLEAN,
        ),
        "chip_wrong_card": FaultRow(
            _S,
            "the cards in the feeder are not the ones the jobs are for",
            "check the card stock against the outlet's allocation, then " + _CLEAN,
        ),
    }
)


def _fallback(exc: DeviceError) -> str:
    """The table row for a code the table does not name, by the kind of error."""
    if isinstance(exc, ReaderFault):
        return "reader_fault"
    if isinstance(exc, WrongCard):
        return "chip_wrong_card"
    return "printer_fault"


def problem_of(exc: DeviceError) -> Problem:
    """The :class:`Problem` for a fault that stops a station (the printer's by default)."""
    code = exc.status.value if isinstance(exc, EvolisFault) else exc.code
    row = PROBLEMS.get(code) or PROBLEMS[_fallback(exc)]
    message = row.message if code in PROBLEMS else exc.message
    if isinstance(exc, EvolisFault) and exc.printer_text:
        message = f"{message} (the printer says {exc.printer_text!r})"
    return Problem(row.source, code, message, row.action)


class StationFault(DeviceError):
    """The station stopped (printer, reader or card stock); out of service until cleared."""

    code = "station_faulted"

    def __init__(self, printer: str, problem: Problem) -> None:
        super().__init__(
            f"printer {printer}: {problem.report()}",
            printer=printer,
            fault=problem.code,
            source=problem.source.value,
            action=problem.action,
        )
        self.problem = problem


class PrintInDoubt(StationFault):
    """The printer failed with a card body in play: only the printer can tell where it is, and
    whether it was printed (:meth:`Station.inquire`); the job is never reported on this alone."""

    code = "print_in_doubt"


class PrintRefused(SscardError):
    """The service did not take the announcement that the card is about to be printed."""

    code = "print_refused"


@dataclass(frozen=True)
class Finding:
    """What the printer (or the journal) showed about a run left in flight.

    ``outcome`` None: the printer cannot tell; ``note`` says what a person must look for.
    """

    outcome: Reconciliation | None
    note: str
    spoiled: str | None = None  # the cause, when a body was fed and not delivered

    def detail(self) -> dict[str, Any]:
        outcome = None if self.outcome is None else self.outcome.value
        return {"outcome": outcome, "note": self.note, "spoiled": self.spoiled}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> Finding:
        outcome = detail.get("outcome")
        return cls(
            None if outcome is None else Reconciliation(outcome), str(detail.get("note", "")),
            detail.get("spoiled"),
        )  # fmt: skip


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


class Station:
    """One printer and its encoder; one card at a time (the agent guarantees it)."""

    def __init__(
        self,
        name: str,
        printer: EvolisPrinter,
        reader: ChipReader,
        psam: Psam,
        journal: Journal,
        *,
        connect: Connect | None = None,
    ) -> None:
        self.name = name
        self.printer = printer
        self.reader = reader
        self.psam = psam
        self.journal = journal
        self.fault: str | None = None  # the fault's code while the station is out of service
        self.problem: Problem | None = None
        self.card_inside = False
        self._connect = connect

    def unreachable_now(self) -> None:
        """Out of service: the printer does not answer (the agent connects again)."""
        self._faulted(TransportError(f"printer {self.name} does not answer"))

    def faulted_by(self, exc: DeviceError | PrinterStatus) -> None:
        """Out of service for ``exc`` (or a status the printer reported)."""
        self._faulted(EvolisFault(exc, command="Rlr") if isinstance(exc, PrinterStatus) else exc)

    def back_in_service(self) -> None:
        self.fault = None
        self.problem = None

    @property
    def unreachable(self) -> bool:
        """Whether the station is out of service because the printer stopped answering."""
        return self.fault == UNREACHABLE

    async def reconnect(self) -> PrinterStatus:
        """A new connection to a printer that stopped answering (e.g. it restarted).

        Returns the printer's status; the station stays out of service (the caller
        puts it back once the runs it left in flight are settled).
        """
        if self._connect is None:
            raise TransportError(f"printer {self.name}: no way to reconnect", printer=self.name)
        with contextlib.suppress(DeviceError, RuntimeError):
            await self.printer.aclose()
        self.printer = await self._connect()
        return await self.printer.status()

    @property
    def in_service(self) -> bool:
        return self.fault is None

    @property
    def fault_report(self) -> str | None:
        """The fault as the printer register shows it: who, what, and what clears it."""
        return self.problem.report() if self.problem is not None else self.fault

    async def make_card(
        self, run: int, card: CardData, face: CardSide, announce: Announce
    ) -> CardMade:
        """Feed, encode, verify, print and eject one card; see the module docstring.

        A printer fault once a body may be in play raises :class:`PrintInDoubt`: where
        the body is (inside, stuck, in the reject box, printed) is settled by
        :meth:`inquire`, never by a guess.
        """
        try:
            await self._ready()
        except (PrinterFault, TransportError) as exc:
            raise self._faulted(exc) from exc  # nothing in play yet
        try:
            await self._feed(run, announce)
            encoded = await self._encode_or_reject(run, card, announce)
            await self._print_or_reject(run, face, announce)
        except (PrinterFault, TransportError) as exc:
            self._faulted(exc)
            assert self.problem is not None
            raise PrintInDoubt(self.name, self.problem) from exc
        return CardMade(self.name, encoded.read_back, encoded)

    async def _ready(self) -> None:
        """The printer's status before a body is fed: a fault (a card stuck inside, left by a
        power cut) is this station's, not the next card's."""
        status = await self.printer.status()
        if status not in BENIGN:
            raise EvolisFault(status, command="Rlr")

    async def _print_or_reject(self, run: int, face: CardSide, announce: Announce) -> None:
        try:
            await self._print(run, face, announce)
        except PrintRefused as exc:
            await self._refused(run, exc, announce)

    async def _refused(self, run: int, exc: PrintRefused, announce: Announce) -> None:
        await self._reject(run, exc, announce)
        raise CardSpoiled(
            f"printer {self.name}: not printed ({exc.message}); the card was rejected",
            printer=self.name,
            cause=exc.code,
        ) from exc

    def _faulted(self, exc: DeviceError) -> StationFault:
        self.problem = problem_of(exc)
        self.fault = self.problem.code
        return StationFault(self.name, self.problem)

    async def _feed(self, run: int, announce: Announce) -> None:
        self.journal.mark(run, Mark.FEEDING)
        await announce(JobStep.FED)
        await self.printer.feed_and_park()
        self.card_inside = True
        self.journal.mark(run, Mark.FED)

    async def _encode_or_reject(self, run: int, card: CardData, announce: Announce) -> EncodeResult:
        try:
            return await self._encode(run, card, announce)
        except (WrongCard, ReaderFault) as exc:
            await self._reject(run, exc, announce)
            raise self._faulted(exc) from exc
        except DeviceError as exc:  # the chip failed, or answered what no chip should
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

    async def _reject(self, run: int, cause: SscardError, announce: Announce) -> None:
        self.journal.mark(run, Mark.REJECTING, {"cause": cause.code})
        await announce(JobStep.EJECTING)
        await self.printer.reject()
        self.card_inside = False
        self.journal.mark(run, Mark.REJECTED, {"cause": cause.code})

    async def _print(self, run: int, face: CardSide, announce: Announce) -> None:
        """Announce, then print: the announcement must be delivered (PrintRefused if not).

        The printer's card counter is journaled first: after a crash, the counter
        tells whether this ``Se`` was taken (:meth:`inquire`).
        """
        before = await self.printer.counter(Counter.CARDS)
        await announce(JobStep.PRINTING)
        self.journal.mark(run, Mark.PRINTING, {"cards_before": before})
        await self.printer.print_side(face)
        await self.printer.eject()
        self.card_inside = False
        self.journal.mark(run, Mark.EJECTED)

    async def inquire(self, run: Run) -> Finding:
        """Ask the printer what became of ``run``'s card (see docs/exactly-once.md).

        A DeviceError (the printer does not answer) propagates: ask again later.
        """
        marks = set(run.marks)
        if Mark.EJECTED in marks:
            return Finding(Reconciliation.MADE, "the card was printed and ejected")
        if Mark.REJECTED in marks:
            cause = str(run.details.get(Mark.REJECTED, {}).get("cause", "rejected"))
            return Finding(Reconciliation.FAILED, "the body went to the reject box", cause)
        if Mark.PRINTING in marks:
            printed = await self._printed(run)
            if printed is not None:
                return printed
        return await self._leftover(run)

    async def _printed(self, run: Run) -> Finding | None:
        """The finding when the card counter shows this run's ``Se`` was taken; None if not."""
        before = run.details.get(Mark.PRINTING, {}).get("cards_before")
        now = await self.printer.counter(Counter.CARDS)
        if not isinstance(before, int) or now not in (before, before + 1):
            return Finding(
                None,
                f"printer {self.name} cannot tell whether job {run.job_id}'s card was printed "
                f"(its card counter reads {now}, {before} before the print): look in its output "
                "hopper for the card, present it to a reader, or confirm that it does not exist",
            )
        if now == before:
            return None
        status = await self.printer.status()
        if status in STUCK:
            self._faulted(EvolisFault(status, command="Rlr"))
            return Finding(
                Reconciliation.FAILED,
                f"printing started (card counter {before} -> {now}) and the card is stuck "
                f"inside printer {self.name}: half-printed",
                "stuck_while_printing",
            )
        return Finding(
            Reconciliation.MADE,
            f"printer {self.name} took the print (card counter {before} -> {now}) and reports "
            f"{status.value}: the card is in its output hopper",
        )

    async def _leftover(self, run: Run) -> Finding:
        """The card was never printed: reject a body left inside and say where it went."""
        marks = set(run.marks)
        never = "" if Mark.PRINTING not in marks else " (the card counter shows no print)"
        try:
            found = await self._reject_leftover()
        except EvolisFault as exc:
            if exc.status not in STUCK:
                raise
            self._faulted(exc)
            return Finding(
                Reconciliation.FAILED,
                f"the body is stuck inside printer {self.name}{never}",
                "stuck",
            )
        if found:
            self.journal.mark(run.run, Mark.REJECTED, {"cause": "agent_restarted"})
            return Finding(
                Reconciliation.FAILED,
                f"the body was sent to the reject box{never}",
                "agent_restarted",
            )
        if Mark.FED in marks or Mark.REJECTING in marks:
            return Finding(
                Reconciliation.FAILED,
                f"the body that was fed is no longer inside printer {self.name}{never}",
                "body_removed",
            )
        self.journal.mark(run.run, Mark.NOT_FED)
        return Finding(Reconciliation.NOT_STARTED, f"printer {self.name} never took a card")

    async def _reject_leftover(self) -> bool:
        """:meth:`clear_leftover`; a fault that does not hold the card (a ribbon, the feeder,
        the cover) is cleared first so that the body can go to the reject box."""
        try:
            return await self.clear_leftover()
        except EvolisFault as exc:
            if exc.status in STUCK:
                raise
        await self.printer.clear_error()
        return await self.clear_leftover()

    async def recover(self) -> None:
        """After a supervisor cleared the fault: clear the printer's status if it was at
        fault, and reject any body left inside. A printer that stopped answering is
        connected again first."""
        if self.problem is None or self.problem.source is FaultSource.PRINTER:
            try:
                await self.printer.clear_error()
            except TransportError:
                await self.reconnect()
                await self.printer.clear_error()
        if self.card_inside:
            await self.clear_leftover()
        self.fault = None
        self.problem = None

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


def unconnected_printer(url: str, model: PrinterModel = PrinterModel.PRIMACY) -> EvolisPrinter:
    """A printer at ``url`` not connected yet (every command fails until reconnected)."""
    parts = urlsplit(url)
    transport: Transport = (
        TcpTransport(parts.hostname or "127.0.0.1", parts.port or 0)
        if parts.scheme == "tcp"
        else UsbTransport(parts.path)
    )
    return EvolisPrinter(transport, MODELS[model])
