"""Evolis escape commands: a pure builder and a stream parser.

Every command is ``ESC name [;param]... CR``. Bitmap downloads put their data
after the last ``;``: ``Db;<panel>;<levels>;<data>`` whose length follows from
the levels (:data:`printers.devices.evolis.models.DOWNLOAD_FORMATS`) and
``Dbc;<panel>;<levels>;<count>;<data>`` whose length is the count. Nothing
here touches a device: builders return :class:`Command` values and
:meth:`Command.encode` turns them into bytes.

:func:`print_card_sequence` is the command list for one single-sided card.
In the chip-encoding flow its first command is ``Sis`` (insert and park under
the contact station); the caller sends it, lets the encoder work, then sends
the rest: ribbon, ``Ss``, the face, the panel downloads and ``Se``, which
prints and ejects.

:class:`CommandReader` is the inverse, for the simulator: it is fed bytes as
they arrive and yields :class:`Command` values. A CR inside bitmap data does
not end a download, because the data length is known from the parameters. A
frame that cannot be understood is consumed and reported as
:class:`sscard_core.errors.ProtocolError`, so one bad command does not lose the
stream.

A download whose data is not the size its parameters fix (an 84,624-byte
2-level panel from the guide's slip, say) is reported as
:class:`DownloadSizeError`, the printer's parameter error, and the rest of
that frame is dropped: a longer panel up to the CR that ends it, a shorter
one when the host gives up waiting (:meth:`CommandReader.abandon`).

Parameter spellings (the ``Pem`` mode digits, the ``Rco`` counter names) are
enums here, each in one place.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NoReturn

from printers.devices.evolis.models import RIBBONS, CapabilityError, RibbonType, download_format
from printers.devices.evolis.packing import compress_mono, pack_panel
from printers.documents.panels import CardSide, Panel, PanelImage
from sscard_core.errors import DeviceError, ProtocolError

ESC = 0x1B
CR = 0x0D
SEP = b";"
MAX_HEADER = 64  # bytes of name and parameters before a CR or bitmap data


class DownloadSizeError(ProtocolError):
    """A download's data is not the size its parameters fix (the printer's parameter error)."""

    code = "download_size"


class CommandName(StrEnum):
    SET_RIBBON = "Pr"
    CONTRAST = "Pc"
    LUMINOSITY = "Pl"
    SPEED = "Ps"
    ERROR_MODE = "Pem"
    CHIP_OFFSET = "Pos"
    START_SEQUENCE = "Ss"
    FRONT = "Sr"
    BACK = "Sv"
    END_SEQUENCE = "Se"
    INSERT = "Si"
    INSERT_AND_PARK = "Sis"
    REJECT = "Ser"
    REJECT_UNDER_FEEDER = "Seb"
    CLEAR_STATUS = "Scs"
    SOFTWARE_RESET = "Srs"
    DOWNLOAD = "Db"
    DOWNLOAD_COMPRESSED = "Dbc"
    READ_FIRMWARE = "Rfv"
    READ_SERIAL = "Rsn"
    READ_MODEL = "Rtp"
    READ_COUNTER = "Rco"
    READ_RIBBON = "Rr"
    READ_RIBBON_STATUS = "Rcr"
    READ_LAST_ANSWER = "Rlr"
    READ_FEEDER = "Sk"


READS = frozenset(
    {
        CommandName.READ_FIRMWARE,
        CommandName.READ_SERIAL,
        CommandName.READ_MODEL,
        CommandName.READ_COUNTER,
        CommandName.READ_RIBBON,
        CommandName.READ_RIBBON_STATUS,
        CommandName.READ_LAST_ANSWER,
        CommandName.READ_FEEDER,
    }
)


class ErrorMode(StrEnum):
    """``Pem`` modes, numbered as the guide's table numbers them.

    A driver that wants every command answered sends ``Pem;2`` (the host
    handles errors, cover detection kept), then ``Pem;4``. ``Pem;1`` is never
    sent: it switches cover-open detection off and gives no ACK/NACK.
    """

    PRINTER = "0"  # the printer handles errors itself
    HOST_NO_COVER_DETECTION = "1"  # host computer, cover-open detection disabled
    HOST = "2"  # host computer
    HOST_STATUS_LINE = "3"  # host computer, status line managed
    ACK_NACK = "4"  # keeps the previous mode and switches ACK/NACK answers on


class TuningStep(StrEnum):
    """A relative tuning step for ``Pc``/``Pl``/``Ps``."""

    UP = "+"
    DOWN = "-"


class Face(StrEnum):
    FRONT = "front"
    BACK = "back"


class Counter(StrEnum):
    """``Rco`` counters."""

    CARDS = "c"  # cards printed and ejected to the hopper
    PANELS = "p"  # ribbon panels printed
    REJECTED = "r"  # cards sent to the reject box
    CLEANING = "n"  # cards since the last cleaning


FACE_COMMANDS: Mapping[Face, CommandName] = MappingProxyType(
    {Face.FRONT: CommandName.FRONT, Face.BACK: CommandName.BACK}
)
LAST_ANSWER_PARAM = "p"
FEEDER_PARAM = "f"
DEFAULT_CHIP_OFFSET = 1158


@dataclass(frozen=True)
class Command:
    """One command: its name, text parameters and, for downloads, raw data."""

    name: CommandName
    params: tuple[str, ...] = ()
    data: bytes | None = field(default=None, repr=False)

    @property
    def is_read(self) -> bool:
        return self.name in READS

    def encode(self) -> bytes:
        parts = [self.name.value.encode("ascii"), *(p.encode("ascii") for p in self.params)]
        head = bytes((ESC,)) + SEP.join(parts)
        body = head if self.data is None else head + SEP + self.data
        return body + bytes((CR,))


def _cmd(name: CommandName, *params: str) -> Command:
    return Command(name, tuple(params))


def set_ribbon(ribbon: RibbonType) -> Command:
    return _cmd(CommandName.SET_RIBBON, ribbon.value)


def _tuning(name: CommandName, panel: Panel, value: int | TuningStep) -> Command:
    return _cmd(name, panel.value, value.value if isinstance(value, TuningStep) else str(value))


def contrast(panel: Panel, value: int | TuningStep) -> Command:
    return _tuning(CommandName.CONTRAST, panel, value)


def luminosity(panel: Panel, value: int | TuningStep) -> Command:
    return _tuning(CommandName.LUMINOSITY, panel, value)


def speed(panel: Panel, value: int | TuningStep) -> Command:
    return _tuning(CommandName.SPEED, panel, value)


def error_mode(mode: ErrorMode) -> Command:
    return _cmd(CommandName.ERROR_MODE, mode.value)


def chip_offset(dots: int = DEFAULT_CHIP_OFFSET) -> Command:
    return _cmd(CommandName.CHIP_OFFSET, "=", str(dots))


def start_sequence() -> Command:
    return _cmd(CommandName.START_SEQUENCE)


def select_face(face: Face) -> Command:
    return _cmd(FACE_COMMANDS[face])


def end_sequence() -> Command:
    return _cmd(CommandName.END_SEQUENCE)


def insert() -> Command:
    return _cmd(CommandName.INSERT)


def insert_and_park() -> Command:
    return _cmd(CommandName.INSERT_AND_PARK)


def reject() -> Command:
    return _cmd(CommandName.REJECT)


def reject_under_feeder() -> Command:
    return _cmd(CommandName.REJECT_UNDER_FEEDER)


def clear_status() -> Command:
    return _cmd(CommandName.CLEAR_STATUS)


def software_reset() -> Command:
    return _cmd(CommandName.SOFTWARE_RESET)


def download(panel: PanelImage) -> Command:
    """``Db``: the panel packed at its levels, padded to the wire size."""
    params = (panel.panel.value, str(panel.levels))
    return Command(CommandName.DOWNLOAD, params, pack_panel(panel))


def download_compressed(panel: PanelImage) -> Command:
    """``Dbc``: a 2-level (k or o) panel, compressed line by line."""
    data = compress_mono(panel)
    params = (panel.panel.value, str(panel.levels), str(len(data)))
    return Command(CommandName.DOWNLOAD_COMPRESSED, params, data)


def download_panel(panel: PanelImage, *, compress: bool = True) -> Command:
    """``Dbc`` for 2-level panels when ``compress``, ``Db`` otherwise."""
    if compress and panel.levels == 2:
        return download_compressed(panel)
    return download(panel)


def read_firmware() -> Command:
    return _cmd(CommandName.READ_FIRMWARE)


def read_serial() -> Command:
    return _cmd(CommandName.READ_SERIAL)


def read_model() -> Command:
    return _cmd(CommandName.READ_MODEL)


def read_counter(counter: Counter) -> Command:
    return _cmd(CommandName.READ_COUNTER, counter.value)


def read_ribbon() -> Command:
    return _cmd(CommandName.READ_RIBBON)


def read_ribbon_status() -> Command:
    return _cmd(CommandName.READ_RIBBON_STATUS)


def read_last_answer() -> Command:
    return _cmd(CommandName.READ_LAST_ANSWER, LAST_ANSWER_PARAM)


def read_feeder() -> Command:
    return _cmd(CommandName.READ_FEEDER, FEEDER_PARAM)


def face_commands(
    side: CardSide, face: Face, ribbon: RibbonType, *, compress: bool = True
) -> list[Command]:
    """Select ``face`` and download its panels, checked against the ribbon."""
    allowed = RIBBONS[ribbon].panels_for_face(face is Face.BACK)
    missing = [p.panel.value for p in side.panels if p.panel not in allowed]
    if missing:
        raise CapabilityError(
            f"a {ribbon} ribbon has no {', '.join(missing)} panel for the {face} face",
            ribbon=ribbon.value,
        )
    downloads = [download_panel(p, compress=compress) for p in side.panels]
    return [select_face(face), *downloads]


def print_card_sequence(side: CardSide, ribbon: RibbonType, park_for_chip: bool) -> list[Command]:
    """The commands for one single-sided card, ``Sis`` first when a chip is encoded."""
    park = [insert_and_park()] if park_for_chip else []
    body = [set_ribbon(ribbon), start_sequence(), *face_commands(side, Face.FRONT, ribbon)]
    return [*park, *body, end_sequence()]


def _db_length(params: tuple[str, ...]) -> int:
    levels = params[1]
    if not levels.isdigit():
        raise ProtocolError(f"levels {levels!r} is not a number")
    try:
        return download_format(int(levels)).wire_bytes
    except DeviceError as exc:
        raise ProtocolError(exc.message) from exc


def _dbc_length(params: tuple[str, ...]) -> int:
    count = params[2]
    if not count.isdigit():
        raise ProtocolError(f"byte count {count!r} is not a number")
    return int(count)


DATA_COMMANDS: Mapping[CommandName, tuple[int, Callable[[tuple[str, ...]], int]]] = (
    MappingProxyType(
        {
            CommandName.DOWNLOAD: (2, _db_length),
            CommandName.DOWNLOAD_COMPRESSED: (3, _dbc_length),
        }
    )
)
_NAMES = MappingProxyType({n.value.encode("ascii"): n for n in CommandName})


def _decode(raw: bytes) -> str:
    if not all(0x20 <= b < 0x7F for b in raw):
        raise ProtocolError("a parameter that is not printable ASCII", raw=raw.hex())
    return raw.decode("ascii")


class CommandReader:
    """Incremental parser of a command stream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False  # dropping the rest of an oversized download

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole command."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> CommandReader:
        return self

    def __next__(self) -> Command:
        command = self.next_command()
        if command is None:
            raise StopIteration
        return command

    def abandon(self) -> None:
        """The host sent nothing more: a download still waiting for data is refused.

        Raises :class:`DownloadSizeError` (and forgets the partial frame) when
        the buffer holds the start of a download; otherwise does nothing.
        """
        if self._buf and self._buf[0] == ESC:
            name_end = self._find_any((ord(";"), CR), 1)
            if name_end > 0 and _NAMES.get(bytes(self._buf[1:name_end])) in DATA_COMMANDS:
                held = len(self._buf)
                self._buf.clear()
                raise DownloadSizeError("a download shorter than its parameters say", received=held)

    def next_command(self) -> Command | None:
        """The next whole command, None if more bytes are needed."""
        if self._discarding:
            self._drop_oversize()
        if not self._buf:
            return None
        if self._buf[0] != ESC:
            self._skip_to_escape()
        name_end = self._find_any((ord(";"), CR), 1)
        if name_end < 0:
            self._check_header_room()
            return None
        name = _NAMES.get(bytes(self._buf[1:name_end]))
        if name in DATA_COMMANDS:
            assert name is not None
            return self._data_command(name, name_end)
        return self._plain_command(name)

    def _skip_to_escape(self) -> NoReturn:
        start = self._buf.find(bytes((ESC,)))
        dropped = bytes(self._buf[: start if start >= 0 else len(self._buf)])
        del self._buf[: len(dropped)]
        raise ProtocolError("bytes outside a command", raw=dropped[:32].hex())

    def _find_any(self, stops: tuple[int, ...], start: int) -> int:
        for i in range(start, min(len(self._buf), MAX_HEADER)):
            if self._buf[i] in stops:
                return i
        return -1

    def _check_header_room(self) -> None:
        """More bytes may complete the header, unless it is already too long."""
        if len(self._buf) >= MAX_HEADER:
            self._discard_frame()
            raise ProtocolError("a command header longer than any command")

    def _discard_frame(self) -> bytes:
        end = self._buf.find(bytes((CR,)))
        cut = len(self._buf) if end < 0 else end + 1
        frame = bytes(self._buf[:cut])
        del self._buf[:cut]
        return frame

    def _plain_command(self, name: CommandName | None) -> Command | None:
        end = self._buf.find(bytes((CR,)))
        if end < 0:
            self._check_header_room()
            return None
        frame = self._discard_frame()
        if name is None:
            raise ProtocolError("unknown command", raw=frame[:32].hex())
        parts = frame[1:-1].split(SEP)
        return Command(name, tuple(_decode(p) for p in parts[1:]))

    def _data_command(self, name: CommandName, name_end: int) -> Command | None:
        count, length_of = DATA_COMMANDS[name]
        header = self._data_header(count, name_end)
        if header is None:
            return None
        params, data_start = header
        try:
            length = length_of(params)
        except ProtocolError:
            self._buf.clear()
            raise
        if len(self._buf) < data_start + length + 1:
            return None
        return self._take_data(name, params, data_start, length)

    def _data_header(self, count: int, name_end: int) -> tuple[tuple[str, ...], int] | None:
        seps: list[int] = [name_end]
        while len(seps) <= count:
            stop = self._find_any((ord(";"), CR), seps[-1] + 1)
            if stop < 0:
                self._check_header_room()
                return None
            if self._buf[stop] == CR:
                self._discard_frame()
                raise ProtocolError("a download without its bitmap data")
            seps.append(stop)
        params = tuple(_decode(bytes(self._buf[a + 1 : b])) for a, b in itertools.pairwise(seps))
        return params, seps[-1] + 1

    def _take_data(
        self, name: CommandName, params: tuple[str, ...], start: int, length: int
    ) -> Command:
        data = bytes(self._buf[start : start + length])
        trailer = self._buf[start + length]
        del self._buf[: start + length]
        if trailer != CR:
            self._discarding = True
            self._drop_oversize()
            raise DownloadSizeError(
                f"{name.value} data longer than the {length} bytes its parameters fix",
                expected=length,
            )
        del self._buf[:1]
        return Command(name, params, data)

    def _drop_oversize(self) -> None:
        """Drop the rest of an oversized download: through a CR that ends the stream so far
        or is followed by the next command's ESC."""
        pos = 0
        while (end := self._buf.find(bytes((CR,)), pos)) >= 0:
            if end + 1 == len(self._buf) or self._buf[end + 1] == ESC:
                del self._buf[: end + 1]
                self._discarding = False
                return
            pos = end + 1
        self._buf.clear()
