"""A simulated Evolis card printer that speaks the real protocol over TCP.

Two layers:

:class:`PrinterMachine`
    The printer's state and behaviour, with no I/O: it takes one parsed
    :class:`~printers.devices.evolis.commands.Command` and returns a :class:`Result`
    (the reply bytes, if the error mode gives one, and how long the
    mechanism takes). It keeps a feeder, a ribbon with a count of panels
    left, an output hopper and a reject box, the card's position (none,
    inserted, parked at the chip station, printing, jammed, ejected,
    rejected), the
    ``Rco`` counters, the panels downloaded for the current sequence and the
    list of printed cards. Capacities come from the model table and download
    sizes from the same format table the driver uses
    (:mod:`printers.devices.evolis.models`); replies are encoded with the inverse of
    the driver's reply tables (:mod:`printers.devices.evolis.replies`).

:class:`EvolisSimulator`
    An asyncio TCP server on 127.0.0.1 (port 0 picks a free port, exposed as
    ``port``). Each connection's bytes go through the driver's own
    :class:`~printers.devices.evolis.commands.CommandReader`; each command is handed
    to the machine, the simulator waits for the mechanism time scaled by
    ``time_scale`` (0 in tests and benchmarks), writes ``card-<n>.png`` (and
    ``card-<n>-back.png``) to the output directory when a card is printed,
    and answers.

Protocol facts it enforces (``docs/evolis-protocol.md``, corrected section):
``Pem;0``..``Pem;3`` set who handles errors and switch ACK/NACK answers off,
``Pem;4`` switches them on (keeping the mode), and ``Pem;1`` also switches
cover-open detection off; a panel download is read at exactly its real size
(82,296 bytes at 2 levels), and any other size is refused with the parameter
error (NACK ``2``): a longer one when its excess arrives, a shorter one when
the host has sent nothing for ``download_timeout`` seconds. It never waits
for bytes that would swallow the next command.

Faults. Conditions arise on their own (an empty feeder, a used-up ribbon, a
full hopper) or are injected with :meth:`PrinterMachine.inject`, optionally
at card N (the Nth card taken from the feeder). Each fault is one row of
:data:`FAULTS`: the stage of a card's journey where it strikes, the NACK it
causes and the ``Rlr;p`` detail when the guide documents one (``ERR CARD``
for a jam); otherwise ``Rlr;p`` repeats the last answer, the NACK. An active
fault refuses every card movement until ``Scs`` (or
:meth:`PrinterMachine.clear_faults`) clears it; a jammed card is then
considered removed by the operator, and a card whose chip could not be
powered stays parked so that the host can reject it.

Chip station. While a card is parked by ``Sis``, ``card_parked`` is true and
``parked`` (an :class:`asyncio.Event`) is set, so a simulated chip encoder
can wait for it and attach a simulated chip card; ``on_park`` callbacks are
also called with the card's number.

Card events. Every card body's journey (fed, printing, ejected, rejected,
removed by the operator) is announced to ``on_event`` callbacks, so that a
durable ledger can be kept (:mod:`printers.devices.simulators.outlet`), and
:meth:`PrinterMachine.power_on_after_loss` brings a printer back from a power
cut with the counters such a ledger kept. Commands are executed one at a time
across all connections, as one mechanism does.

Run ``python -m printers.devices.simulators.evolis --port P --out DIR [--serial S]``;
a printer with its own chip station and ledger is ``python -m
printers.devices.simulators.outlet``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Self, TypeVar

import numpy as np
from PIL import Image

from printers.devices.evolis.commands import (
    FACE_COMMANDS,
    Command,
    CommandName,
    CommandReader,
    Counter,
    DownloadSizeError,
    ErrorMode,
    Face,
    TuningStep,
)
from printers.devices.evolis.models import (
    DOWNLOAD_FORMATS,
    MODELS,
    RIBBONS,
    ModelSpec,
    PrinterModel,
    RibbonType,
)
from printers.devices.evolis.packing import U8Array, unpack_compressed, unpack_panel
from printers.devices.evolis.replies import (
    STATUS_TEXTS,
    EvolisFault,
    PrinterStatus,
    ack_reply,
    feeder_reply,
    nack_reply,
    status_reply,
    text_reply,
)
from printers.documents.panels import (
    CARD_HEIGHT,
    CARD_WIDTH,
    MONO_LEVELS,
    PANEL_DOTS,
    PANEL_LINES,
    Panel,
    PanelImage,
    to_landscape,
)
from sscard_core.errors import DeviceError, ProtocolError, TransportError

_E = TypeVar("_E", bound=Enum)

DEFAULT_SIDE_SECONDS = (15.0, 25.0)
DEFAULT_MOTION_SECONDS = 1.5


class SimFault(StrEnum):
    RIBBON_OUT = "ribbon_out"
    FEEDER_EMPTY = "feeder_empty"
    JAM = "jam"
    COVER_OPEN = "cover_open"
    CHIP_STATION = "chip_station"
    HOPPER_FULL = "hopper_full"


class Stage(Enum):
    """Where on a card's journey a fault strikes."""

    MOTION = "any card movement"
    EJECT = "room in the output hopper"
    FEED = "taking a card from the feeder"
    PARK = "parking under the chip contacts"
    PRINT = "printing"


@dataclass(frozen=True)
class FaultSpec:
    stage: Stage
    nack: PrinterStatus
    detail: PrinterStatus | None = None  # a documented ``Rlr;p`` answer, if one fits


FAULTS: Mapping[SimFault, FaultSpec] = MappingProxyType(
    {
        SimFault.COVER_OPEN: FaultSpec(Stage.MOTION, PrinterStatus.COVER_OPEN),
        SimFault.HOPPER_FULL: FaultSpec(Stage.EJECT, PrinterStatus.MECHANICAL_ERROR),
        SimFault.FEEDER_EMPTY: FaultSpec(Stage.FEED, PrinterStatus.FEEDER_EMPTY),
        SimFault.CHIP_STATION: FaultSpec(Stage.PARK, PrinterStatus.MECHANICAL_ERROR),
        SimFault.RIBBON_OUT: FaultSpec(Stage.PRINT, PrinterStatus.RIBBON_ERROR),
        SimFault.JAM: FaultSpec(
            Stage.PRINT, PrinterStatus.MECHANICAL_ERROR, PrinterStatus.CARD_STUCK
        ),
    }
)


class CardEvent(StrEnum):
    """What happens to a card body, as a durable ledger records it (see ``on_event``)."""

    FED = "fed"  # taken from the feeder
    PRINTING = "printing"  # Se taken: the card counter moved, the card is being printed
    EJECTED = "ejected"  # in the output hopper
    REJECTED = "rejected"  # in the reject box
    REMOVED = "removed"  # stuck inside, taken out by the operator when the fault was cleared


class CardPosition(StrEnum):
    NONE = "none"
    INSERTED = "inserted"
    PARKED = "parked"
    PRINTING = "printing"
    JAMMED = "jammed"
    EJECTED = "ejected"
    REJECTED = "rejected"


IN_PRINTER = frozenset(
    {CardPosition.INSERTED, CardPosition.PARKED, CardPosition.PRINTING, CardPosition.JAMMED}
)


@dataclass(frozen=True)
class SimConfig:
    model: PrinterModel = PrinterModel.PRIMACY
    ribbon: RibbonType = RibbonType.YMCKO
    ribbon_sets: int = 200
    feeder_cards: int | None = None  # None: a full feeder
    side_seconds: tuple[float, float] = DEFAULT_SIDE_SECONDS
    motion_seconds: float = DEFAULT_MOTION_SECONDS
    time_scale: float = 1.0
    seed: int | None = None
    firmware: str = "SIM-1.0.0"
    serial: str = "SIM0000001"
    download_timeout: float = 5.0  # seconds without bytes before a short download is refused


@dataclass(frozen=True)
class PrintedCard:
    """A card that reached the output hopper, with the panels printed on it."""

    number: int
    front: tuple[PanelImage, ...]
    back: tuple[PanelImage, ...]

    def faces(self) -> Iterable[tuple[Face, tuple[PanelImage, ...]]]:
        yield Face.FRONT, self.front
        if self.back:
            yield Face.BACK, self.back


@dataclass(frozen=True)
class Result:
    reply: bytes | None
    delay: float = 0.0
    card: PrintedCard | None = None
    settles: CardPosition | None = None  # where the card is once the mechanism stops


@dataclass
class _Sequence:
    open: bool = False
    face: Face | None = None
    panels: dict[Face, dict[Panel, PanelImage]] = field(default_factory=dict)

    def downloaded(self, face: Face) -> tuple[PanelImage, ...]:
        return tuple(self.panels.get(face, {}).values())

    def printed_faces(self) -> int:
        return sum(1 for panels in self.panels.values() if panels)


def _nack(status: PrinterStatus, detail: PrinterStatus | None = None) -> EvolisFault:
    return EvolisFault(detail or status, nack=status)


class PrinterMachine:
    """The simulated printer's state and its answer to each command."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.spec: ModelSpec = MODELS[config.model]
        self.mode = ErrorMode.PRINTER
        self.ack_nack = False
        self.cover_detection = True
        self.modes_set: list[ErrorMode] = []
        self.feeder = self._feeder_start(config)
        self.hopper = 0
        self.reject_box = 0
        self.rejected_under_feeder = 0
        self.ribbon = config.ribbon
        self.ribbon_panels_left = config.ribbon_sets * RIBBONS[config.ribbon].set_size
        self.selected_ribbon: RibbonType | None = None
        self.position = CardPosition.NONE
        self.cards_fed = 0
        self.chip_offset = 0
        self.counters: dict[Counter, int] = dict.fromkeys(Counter, 0)
        self.printed: list[PrintedCard] = []
        self.active: list[SimFault] = []
        self.pending: list[tuple[SimFault, int | None]] = []
        self.last_answer = status_reply(PrinterStatus.READY)
        self.parked = asyncio.Event()
        self.on_park: list[Callable[[int], None]] = []
        self.on_event: list[Callable[[CardEvent, int], None]] = []
        self._sequence = _Sequence()
        self._random = random.Random(config.seed)
        self._handlers = self._handler_table()

    @staticmethod
    def _feeder_start(config: SimConfig) -> int:
        capacity = MODELS[config.model].feeder_capacity
        return capacity if config.feeder_cards is None else min(config.feeder_cards, capacity)

    # --- the test and operator side -------------------------------------------------

    @property
    def card_parked(self) -> bool:
        return self.position is CardPosition.PARKED and self.parked.is_set()

    def inject(self, fault: SimFault, at_card: int | None = None) -> None:
        """Arm ``fault``: it strikes at its stage, for card ``at_card`` or the next card."""
        self.pending.append((fault, at_card))

    def clear_faults(self) -> None:
        """What ``Scs`` does: clear active faults; a jammed card is taken out."""
        self.active.clear()
        self.last_answer = status_reply(PrinterStatus.READY)
        if self.position is CardPosition.JAMMED:
            self.position = CardPosition.NONE
            self._event(CardEvent.REMOVED, self.cards_fed)

    def _event(self, event: CardEvent, number: int) -> None:
        for callback in self.on_event:
            callback(event, number)

    def power_on_after_loss(self, fed: int, printed: int, rejected: int, inside: bool) -> None:
        """Come back from a power cut with the counters a ledger kept.

        A card that was inside (parked, or half-printed) is stuck: the printer
        reports it until the operator takes it out (``Scs``).
        """
        self.cards_fed = fed
        self.feeder = max(0, self.feeder - fed)
        self.counters[Counter.CARDS] = printed
        self.counters[Counter.REJECTED] = rejected
        if inside:
            self.position = CardPosition.JAMMED
            self.active.append(SimFault.JAM)

    def load_cards(self, count: int) -> None:
        self.feeder = min(self.feeder + count, self.spec.feeder_capacity)

    def replace_ribbon(self, sets: int, ribbon: RibbonType | None = None) -> None:
        self.ribbon = ribbon or self.ribbon
        self.ribbon_panels_left = sets * RIBBONS[self.ribbon].set_size

    def empty_hopper(self) -> None:
        self.hopper = 0

    def empty_reject_box(self) -> None:
        self.reject_box = 0

    # --- protocol -----------------------------------------------------------------

    def handle(self, command: Command) -> Result:
        """Execute one command and give the reply the current error mode calls for."""
        try:
            result = self._handlers[command.name](command)
        except EvolisFault as fault:
            nack = nack_reply(fault.nack or fault.status)
            self.last_answer = self._last_answer_for(fault.status, nack)
            return self._answer(command, nack)
        except ProtocolError:
            self.last_answer = nack_reply(PrinterStatus.PARAMETER_ERROR)
            return self._answer(command, self.last_answer)
        if result.reply is None:
            return replace(result, reply=self._ack_reply(command))
        return result

    @staticmethod
    def _last_answer_for(status: PrinterStatus, nack: bytes) -> bytes:
        """What ``Rlr;p`` answers after a fault: its documented text, else the NACK again."""
        return status_reply(status) if status in STATUS_TEXTS.values() else nack

    def unreadable(self, error: ProtocolError) -> Result:
        """The answer to bytes the command parser could not read (a wrong-size download:
        the parameter error; anything else: the command error)."""
        status = (
            PrinterStatus.PARAMETER_ERROR
            if isinstance(error, DownloadSizeError)
            else PrinterStatus.COMMAND_ERROR
        )
        self.last_answer = nack_reply(status)
        return Result(self.last_answer if self.ack_nack else None)

    def _ack_reply(self, command: Command) -> bytes | None:
        return ack_reply() if self.ack_nack or command.is_read else None

    def _answer(self, command: Command, reply: bytes) -> Result:
        wanted = self.ack_nack or command.is_read
        return Result(reply if wanted else None)

    def _handler_table(self) -> Mapping[CommandName, Callable[[Command], Result]]:
        n = CommandName
        return MappingProxyType(
            {
                n.SET_RIBBON: self._set_ribbon,
                n.CONTRAST: self._tuning,
                n.LUMINOSITY: self._tuning,
                n.SPEED: self._tuning,
                n.ERROR_MODE: self._error_mode,
                n.CHIP_OFFSET: self._chip_offset,
                n.START_SEQUENCE: self._start_sequence,
                n.FRONT: self._select_face,
                n.BACK: self._select_face,
                n.END_SEQUENCE: self._end_sequence,
                n.INSERT: self._insert,
                n.INSERT_AND_PARK: self._insert_and_park,
                n.REJECT: self._reject,
                n.REJECT_UNDER_FEEDER: self._reject,
                n.CLEAR_STATUS: self._clear_status,
                n.SOFTWARE_RESET: self._software_reset,
                n.DOWNLOAD: self._download,
                n.DOWNLOAD_COMPRESSED: self._download,
                n.READ_FIRMWARE: lambda _: Result(text_reply(self.config.firmware)),
                n.READ_SERIAL: lambda _: Result(text_reply(self.config.serial)),
                n.READ_MODEL: lambda _: Result(text_reply(self.spec.model.value)),
                n.READ_COUNTER: self._read_counter,
                n.READ_RIBBON: lambda _: Result(text_reply(self.ribbon.value)),
                n.READ_RIBBON_STATUS: lambda _: Result(text_reply(str(self.ribbon_panels_left))),
                n.READ_LAST_ANSWER: lambda _: Result(self._current_answer()),
                n.READ_FEEDER: self._read_feeder,
            }
        )

    # --- settings and reads ---------------------------------------------------------

    @staticmethod
    def _params(command: Command, count: int) -> tuple[str, ...]:
        if len(command.params) != count:
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        return command.params

    @staticmethod
    def _enum(kind: type[_E], value: str) -> _E:
        try:
            return kind(value)
        except ValueError:
            raise _nack(PrinterStatus.PARAMETER_ERROR) from None

    def _set_ribbon(self, command: Command) -> Result:
        (name,) = self._params(command, 1)
        ribbon = self._enum(RibbonType, name)
        if not self.spec.supports(ribbon):
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        if ribbon is not self.ribbon:
            raise _nack(PrinterStatus.RIBBON_ERROR)
        self.selected_ribbon = ribbon
        return Result(None)

    def _tuning(self, command: Command) -> Result:
        panel, value = self._params(command, 2)
        self._enum(Panel, panel)
        if value not in {s.value for s in TuningStep} and not value.lstrip("-").isdigit():
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        return Result(None)

    def _error_mode(self, command: Command) -> Result:
        """``Pem;4`` switches ACK/NACK on (and is answered); ``Pem;0``..``3`` set the mode
        and switch it off (so they are not answered); ``Pem;1`` stops cover detection."""
        (value,) = self._params(command, 1)
        mode = self._enum(ErrorMode, value)
        self.modes_set.append(mode)
        if mode is ErrorMode.ACK_NACK:
            self.ack_nack = True
            return Result(None)
        self.mode = mode
        self.ack_nack = False
        self.cover_detection = mode is not ErrorMode.HOST_NO_COVER_DETECTION
        return Result(None)

    def _chip_offset(self, command: Command) -> Result:
        sign, dots = self._params(command, 2)
        if sign != "=" or not dots.isdigit():
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        self.chip_offset = int(dots)
        return Result(None)

    def _read_counter(self, command: Command) -> Result:
        (name,) = self._params(command, 1)
        return Result(text_reply(str(self.counters[self._enum(Counter, name)])))

    def _read_feeder(self, command: Command) -> Result:
        self._params(command, 1)
        status = PrinterStatus.READY if self.feeder else PrinterStatus.FEEDER_EMPTY
        return Result(feeder_reply(status))

    def _current_answer(self) -> bytes:
        if not self.active:
            return self.last_answer
        spec = FAULTS[self.active[0]]
        return self._last_answer_for(spec.detail or spec.nack, nack_reply(spec.nack))

    def _clear_status(self, command: Command) -> Result:
        self.clear_faults()
        return Result(None)

    def _software_reset(self, command: Command) -> Result:
        reply = self._ack_reply(command)
        self.mode = ErrorMode.PRINTER
        self.ack_nack = False
        self.cover_detection = True
        self._sequence = _Sequence()
        self.selected_ribbon = None
        return Result(reply, self._motion_delay())

    # --- the sequence and downloads -------------------------------------------------

    def _start_sequence(self, command: Command) -> Result:
        self._sequence = _Sequence(open=True)
        return Result(None)

    def _select_face(self, command: Command) -> Result:
        face = next(f for f, name in FACE_COMMANDS.items() if name is command.name)
        if not self._sequence.open or (face is Face.BACK and not self.spec.duplex):
            raise _nack(PrinterStatus.COMMAND_ERROR)
        self._sequence.face = face
        self._sequence.panels.setdefault(face, {})
        return Result(None)

    def _download(self, command: Command) -> Result:
        face = self._sequence.face
        if face is None or command.data is None:
            raise _nack(PrinterStatus.COMMAND_ERROR)
        image = self._unpack(command)
        ribbon = RIBBONS[self.selected_ribbon or self.ribbon]
        if image.panel not in ribbon.panels_for_face(face is Face.BACK):
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        self._sequence.panels[face][image.panel] = image
        return Result(None)

    def _unpack(self, command: Command) -> PanelImage:
        assert command.data is not None
        compressed = command.name is CommandName.DOWNLOAD_COMPRESSED
        params = self._params(command, 3 if compressed else 2)
        panel = self._enum(Panel, params[0])
        allowed = MONO_LEVELS if compressed else tuple(DOWNLOAD_FORMATS)
        levels = int(params[1]) if params[1].isdigit() else 0
        if levels not in allowed:
            raise _nack(PrinterStatus.PARAMETER_ERROR)
        try:
            if compressed:
                return unpack_compressed(panel, command.data)
            return unpack_panel(panel, levels, command.data)
        except (DeviceError, ValueError) as exc:
            raise _nack(PrinterStatus.PARAMETER_ERROR) from exc

    # --- card movement --------------------------------------------------------------

    def _motion_delay(self) -> float:
        return self.config.motion_seconds * self.config.time_scale

    def _print_delay(self, faces: int) -> float:
        low, high = self.config.side_seconds
        seconds = sum(self._random.uniform(low, high) for _ in range(faces))
        return seconds * self.config.time_scale

    def panels_needed(self) -> int:
        ribbon = RIBBONS[self.selected_ribbon or self.ribbon]
        return ribbon.panels_consumed(self._sequence.printed_faces())

    def _check(self, stages: tuple[Stage, ...], card: int) -> None:
        """Raise the fault that stops a card at one of ``stages``, if any."""
        if self.active:
            raise self._fault(self.active[0])
        for stage in stages:
            self._strike(self._natural_fault(stage), card)
            self._strike(self._armed(stage, card), card)

    def _natural_fault(self, stage: Stage) -> SimFault | None:
        return NATURAL_FAULTS[stage](self) if stage in NATURAL_FAULTS else None

    def _armed(self, stage: Stage, card: int) -> SimFault | None:
        for entry in self.pending:
            fault, at_card = entry
            if FAULTS[fault].stage is stage and at_card in (None, card):
                self.pending.remove(entry)
                return fault
        return None

    def _strike(self, fault: SimFault | None, card: int) -> None:
        if fault is None or (fault is SimFault.COVER_OPEN and not self.cover_detection):
            return
        self.active.append(fault)
        effect = FAULT_EFFECTS.get(fault)
        if effect is not None:
            effect(self, card)
        raise self._fault(fault)

    @staticmethod
    def _fault(fault: SimFault) -> EvolisFault:
        spec = FAULTS[fault]
        return _nack(spec.nack, spec.detail)

    def _take_card(self) -> int:
        self.feeder -= 1
        self.cards_fed += 1
        self._event(CardEvent.FED, self.cards_fed)
        return self.cards_fed

    def _jam(self, card: int) -> None:
        if self.position not in IN_PRINTER:
            self._take_card()
        self.position = CardPosition.JAMMED
        self._leave_station()

    def _stall_at_station(self, card: int) -> None:
        self._take_card()
        self.position = CardPosition.PARKED

    def _leave_station(self) -> None:
        self.parked.clear()

    def _next_card(self) -> int:
        return self.cards_fed + (0 if self.position in IN_PRINTER else 1)

    def _feed(self, park: bool) -> Result:
        if self.position in IN_PRINTER:
            raise _nack(PrinterStatus.COMMAND_ERROR, PrinterStatus.CARD_STUCK)
        stages = (Stage.MOTION, Stage.FEED, Stage.PARK) if park else (Stage.MOTION, Stage.FEED)
        self._check(stages, self._next_card())
        number = self._take_card()
        self.position = CardPosition.PARKED if park else CardPosition.INSERTED
        if park:
            self.parked.set()
            for callback in self.on_park:
                callback(number)
        return Result(None, self._motion_delay())

    def _insert(self, command: Command) -> Result:
        return self._feed(park=False)

    def _insert_and_park(self, command: Command) -> Result:
        if not self.spec.chip_station:
            raise _nack(PrinterStatus.COMMAND_ERROR)
        return self._feed(park=True)

    def _reject(self, command: Command) -> Result:
        under_feeder = command.name is CommandName.REJECT_UNDER_FEEDER
        if not (self.spec.seb if under_feeder else self.spec.reject_box):
            raise _nack(PrinterStatus.COMMAND_ERROR)
        if self.position not in IN_PRINTER:
            raise _nack(PrinterStatus.COMMAND_ERROR, PrinterStatus.NO_CARD)
        self._check((Stage.MOTION,), self.cards_fed)
        self.position = CardPosition.REJECTED
        self._leave_station()
        self._sequence = _Sequence()
        self.counters[Counter.REJECTED] += 1
        self._event(CardEvent.REJECTED, self.cards_fed)
        if under_feeder:
            self.rejected_under_feeder += 1
        else:
            self.reject_box += 1
        return Result(None, self._motion_delay())

    def _end_sequence(self, command: Command) -> Result:
        loaded = self.position in IN_PRINTER
        stages = (Stage.MOTION, Stage.EJECT, Stage.PRINT)
        self._check(stages if loaded else (*stages[:2], Stage.FEED, Stage.PRINT), self._next_card())
        number = self.cards_fed if loaded else self._take_card()
        card = PrintedCard(
            number, self._sequence.downloaded(Face.FRONT), self._sequence.downloaded(Face.BACK)
        )
        used = self.panels_needed()
        self.ribbon_panels_left -= used
        self.counters[Counter.PANELS] += used
        self.counters[Counter.CARDS] += 1
        self.counters[Counter.CLEANING] += 1
        self.hopper += 1
        self.position = CardPosition.PRINTING
        self._leave_station()
        faces = self._sequence.printed_faces()
        self._sequence = _Sequence()
        self.printed.append(card)
        self._event(CardEvent.PRINTING, number)
        delay = self._print_delay(faces) + self._motion_delay()
        return Result(None, delay, card, settles=CardPosition.EJECTED)

    def settle(self, result: Result) -> None:
        """The mechanism has finished what ``result`` started (e.g. printing ends in the hopper)."""
        if result.settles is not None:
            self.position = result.settles
        if result.card is not None and result.settles is CardPosition.EJECTED:
            self._event(CardEvent.EJECTED, result.card.number)


NATURAL_FAULTS: Mapping[Stage, Callable[[PrinterMachine], SimFault | None]] = MappingProxyType(
    {
        Stage.EJECT: lambda m: SimFault.HOPPER_FULL if m.hopper >= m.spec.hopper_capacity else None,
        Stage.FEED: lambda m: SimFault.FEEDER_EMPTY if m.feeder == 0 else None,
        Stage.PRINT: lambda m: (
            SimFault.RIBBON_OUT if m.ribbon_panels_left < m.panels_needed() else None
        ),
    }
)

FAULT_EFFECTS: Mapping[SimFault, Callable[[PrinterMachine, int], None]] = MappingProxyType(
    {
        SimFault.JAM: PrinterMachine._jam,
        SimFault.CHIP_STATION: PrinterMachine._stall_at_station,
    }
)


def _ink(panels: Mapping[Panel, PanelImage], which: Panel) -> np.ndarray:
    """A panel's ink as 0..1 floats in landscape orientation (rows = y)."""
    image = panels.get(which)
    if image is None:
        return np.zeros((CARD_HEIGHT, CARD_WIDTH), dtype=np.float32)
    dots: U8Array = np.frombuffer(image.dots, dtype=np.uint8).reshape(PANEL_LINES, PANEL_DOTS)
    return to_landscape(dots).astype(np.float32) / (image.levels - 1)


def render_side(panels: Iterable[PanelImage]) -> U8Array:
    """Composite Y/M/C/K/O panels into the RGB image (648 x 1016 x 3) of a printed face.

    Y, M and C are subtractive inks (cyan removes red, magenta green, yellow
    blue); K is opaque resin black printed over them; O is clear varnish and
    leaves the colour as it is.
    """
    by_panel = {p.panel: p for p in panels}
    cyan, magenta, yellow = (_ink(by_panel, p) for p in (Panel.C, Panel.M, Panel.Y))
    rgb = np.stack((1.0 - cyan, 1.0 - magenta, 1.0 - yellow), axis=-1)
    rgb *= (1.0 - _ink(by_panel, Panel.K))[..., None]
    return np.rint(rgb * 255.0).astype(np.uint8)


def card_png_path(out_dir: Path, number: int, face: Face) -> Path:
    suffix = "" if face is Face.FRONT else "-back"
    return out_dir / f"card-{number}{suffix}.png"


def write_card_pngs(out_dir: Path, card: PrintedCard) -> list[Path]:
    """Write the PNG of each printed face of ``card``; a blank card gives a white front."""
    paths = []
    for face, panels in card.faces():
        path = card_png_path(out_dir, card.number, face)
        Image.fromarray(render_side(panels), "RGB").save(path)
        paths.append(path)
    return paths


class EvolisSimulator:
    """The machine behind a loopback TCP server."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        out_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.machine = PrinterMachine(config or SimConfig())
        self.out_dir = out_dir
        self.host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        # one mechanism: a command from another connection waits until the current one is done
        self._mechanism = asyncio.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise TransportError("the simulator is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def card_parked(self) -> bool:
        return self.machine.card_parked

    @property
    def parked(self) -> asyncio.Event:
        return self.machine.parked

    @property
    def printed(self) -> list[PrintedCard]:
        return self.machine.printed

    def inject(self, fault: SimFault, at_card: int | None = None) -> None:
        self.machine.inject(fault, at_card)

    def clear_faults(self) -> None:
        self.machine.clear_faults()

    async def start(self) -> None:
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        commands = CommandReader()
        while (chunk := await self._read(reader, commands)) != b"":
            if chunk is None:
                result = self._abandoned(commands)
                if result is not None:
                    await self._complete(result, writer)
                continue
            commands.feed(chunk)
            while await self._one_command(commands, writer):
                pass

    async def _one_command(self, commands: CommandReader, writer: asyncio.StreamWriter) -> bool:
        async with self._mechanism:
            result = self._next_result(commands)
            if result is None:
                return False
            await self._complete(result, writer)
            return True

    async def _read(self, reader: asyncio.StreamReader, commands: CommandReader) -> bytes | None:
        """The next bytes; None when a frame is half received and the host has gone quiet."""
        if not commands.pending:
            return await reader.read(1 << 16)
        try:
            async with asyncio.timeout(self.machine.config.download_timeout):
                return await reader.read(1 << 16)
        except TimeoutError:
            return None

    def _abandoned(self, commands: CommandReader) -> Result | None:
        try:
            commands.abandon()
        except ProtocolError as exc:
            return self.machine.unreadable(exc)
        return None

    def _next_result(self, commands: CommandReader) -> Result | None:
        try:
            command = commands.next_command()
        except ProtocolError as exc:
            return self.machine.unreadable(exc)
        return None if command is None else self.machine.handle(command)

    async def _complete(self, result: Result, writer: asyncio.StreamWriter) -> None:
        if result.delay > 0:
            await asyncio.sleep(result.delay)
        self.machine.settle(result)
        if result.card is not None and self.out_dir is not None:
            await asyncio.to_thread(write_card_pngs, self.out_dir, result.card)
        if result.reply is not None:
            writer.write(result.reply)
            await writer.drain()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A simulated Evolis card printer on TCP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="directory for card-<n>.png")
    parser.add_argument("--model", type=PrinterModel, default=PrinterModel.PRIMACY)
    parser.add_argument("--ribbon", type=RibbonType, default=RibbonType.YMCKO)
    parser.add_argument("--ribbon-sets", type=int, default=200)
    parser.add_argument("--feeder", type=int, default=None, help="cards in the feeder")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--serial", default="SIM0000001", help="the serial number Rsn reports")
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    config = SimConfig(
        model=args.model,
        ribbon=args.ribbon,
        ribbon_sets=args.ribbon_sets,
        feeder_cards=args.feeder,
        time_scale=args.time_scale,
        seed=args.seed,
        serial=args.serial,
    )
    sim = EvolisSimulator(config, out_dir=args.out, host=args.host, port=args.port)
    await sim.start()
    print(
        f"Evolis {args.model} simulator on {args.host}:{sim.port}, cards in {args.out}", flush=True
    )
    await sim.serve_forever()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(_arguments(argv)))


if __name__ == "__main__":
    main()
