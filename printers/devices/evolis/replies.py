"""Printer replies: framing, parsing, and the one status enum.

Framing. Every reply is ASCII ending in CR (0x0D). In ACK/NACK mode (``Pem``)
a command that reads nothing is answered with ACK (0x06) or with NACK (0x15)
followed by a one-character code; a read command is answered with its value
as text (a version, a serial number, a counter, a status string) or with a
NACK. ``OK`` is accepted as an ACK, as printers answer it in some modes.

Statuses. The printer speaks of its state in three vocabularies: NACK codes,
the answers of ``Rlr;p`` and the digits of ``Sk;f``. Each is a table from
wire bytes to :class:`PrinterStatus`, holding only what the protocol guide
documents (the NACK codes; ``OK``, ``NO CARD``, ``ERR CARD`` and
``ERR NEED CLEANING`` for ``Rlr``; the four feeder digits), so the driver
maps all three into one enum and the simulator encodes with the inverse of
the same tables. Whether a status is a fault is data too (:data:`FAULTS`).

The NACK code is what the driver relies on. An ``Rlr;p`` answer outside the
table is not an error: it parses as :attr:`PrinterStatus.UNKNOWN` with its
raw text kept (:class:`LastAnswer`), and a fault carries that text
(``EvolisFault.printer_text``) so that a supervisor reads what the printer
said.

Errors. A NACK raises :class:`EvolisFault`, a
:class:`sscard_core.errors.PrinterFault` that carries the :class:`PrinterStatus`;
a reply that is not a reply at all (no CR, not ASCII, an unknown NACK code)
raises :class:`sscard_core.errors.ProtocolError` carrying the raw bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType

from sscard_core.errors import PrinterFault, ProtocolError

CR = b"\r"
ACK = b"\x06"
NACK = b"\x15"
OK = b"OK"


class PrinterStatus(StrEnum):
    """Everything a printer can say about its state, normalised."""

    READY = "ready"
    NEED_CLEANING = "need_cleaning"
    NO_CARD = "no_card"
    CARD_STUCK = "card_stuck"
    FEEDER_1_EMPTY = "feeder_1_empty"
    FEEDER_2_EMPTY = "feeder_2_empty"
    FEEDER_EMPTY = "feeder_empty"
    RIBBON_ERROR = "ribbon_error"
    COVER_OPEN = "cover_open"
    MECHANICAL_ERROR = "mechanical_error"
    COMMAND_ERROR = "command_error"
    PARAMETER_ERROR = "parameter_error"
    MAGNETIC_CHECKSUM_ERROR = "magnetic_checksum_error"
    MAGNETIC_DATA_ERROR = "magnetic_data_error"
    MAGNETIC_WRITE_ERROR = "magnetic_write_error"
    UNKNOWN = "unknown"  # an answer outside the documented tables (its text is kept)


def _table(pairs: dict[bytes, PrinterStatus]) -> Mapping[bytes, PrinterStatus]:
    return MappingProxyType(pairs)


NACK_CODES = _table(
    {
        b"1": PrinterStatus.COMMAND_ERROR,
        b"2": PrinterStatus.PARAMETER_ERROR,
        b"T": PrinterStatus.MECHANICAL_ERROR,
        b"C": PrinterStatus.COVER_OPEN,
        b"F": PrinterStatus.FEEDER_EMPTY,
        b"R": PrinterStatus.RIBBON_ERROR,
        b"K": PrinterStatus.MAGNETIC_CHECKSUM_ERROR,
        b"D": PrinterStatus.MAGNETIC_DATA_ERROR,
        b"W": PrinterStatus.MAGNETIC_WRITE_ERROR,
    }
)

STATUS_TEXTS = _table(
    {
        b"OK": PrinterStatus.READY,
        b"NO CARD": PrinterStatus.NO_CARD,
        b"ERR CARD": PrinterStatus.CARD_STUCK,
        b"ERR NEED CLEANING": PrinterStatus.NEED_CLEANING,
    }
)

FEEDER_ANSWERS = _table(
    {
        b"0": PrinterStatus.READY,
        b"1": PrinterStatus.FEEDER_1_EMPTY,
        b"2": PrinterStatus.FEEDER_2_EMPTY,
        b"3": PrinterStatus.FEEDER_EMPTY,
    }
)

FAULTS = frozenset(PrinterStatus) - {PrinterStatus.READY, PrinterStatus.NEED_CLEANING}

DESCRIPTIONS: Mapping[PrinterStatus, str] = MappingProxyType(
    {
        PrinterStatus.READY: "the printer is ready",
        PrinterStatus.NEED_CLEANING: "the printer needs cleaning",
        PrinterStatus.NO_CARD: "there is no card where one was expected",
        PrinterStatus.CARD_STUCK: "a card is stuck inside the printer",
        PrinterStatus.FEEDER_1_EMPTY: "feeder 1 is empty",
        PrinterStatus.FEEDER_2_EMPTY: "feeder 2 is empty",
        PrinterStatus.FEEDER_EMPTY: "the feeder is empty",
        PrinterStatus.RIBBON_ERROR: "ribbon error (ribbon out or wrong ribbon)",
        PrinterStatus.COVER_OPEN: "the cover is open",
        PrinterStatus.MECHANICAL_ERROR: "time-out or mechanical error (card or ribbon jam)",
        PrinterStatus.COMMAND_ERROR: "the printer rejected the command",
        PrinterStatus.PARAMETER_ERROR: "the printer rejected a parameter",
        PrinterStatus.MAGNETIC_CHECKSUM_ERROR: "magnetic stripe checksum error",
        PrinterStatus.MAGNETIC_DATA_ERROR: "magnetic stripe data error",
        PrinterStatus.MAGNETIC_WRITE_ERROR: "magnetic stripe write error",
        PrinterStatus.UNKNOWN: "the printer gave an answer outside the protocol guide",
    }
)


class EvolisFault(PrinterFault):
    """The printer reported a fault.

    ``status`` is the most precise status known (the ``Rlr;p`` detail when the
    driver could read a documented one), ``nack`` the status of the NACK code,
    if any, and ``printer_text`` the ``Rlr;p`` answer as the printer gave it
    when it is outside the documented table.
    """

    def __init__(
        self,
        status: PrinterStatus,
        *,
        nack: PrinterStatus | None = None,
        command: str | None = None,
        printer_text: str | None = None,
    ) -> None:
        where = f" ({command})" if command else ""
        said = f"; the printer says {printer_text!r}" if printer_text else ""
        super().__init__(
            f"{DESCRIPTIONS[status]}{where}{said}",
            status=status.value,
            nack=nack.value if nack else None,
            command=command,
            printer_text=printer_text,
        )
        self.status = status
        self.nack = nack
        self.command = command
        self.printer_text = printer_text


class ReplyKind(Enum):
    ACK = "ack"
    NACK = "nack"
    TEXT = "text"


@dataclass(frozen=True)
class Reply:
    """One parsed reply: an ACK, a NACK with its status, or a text value."""

    kind: ReplyKind
    text: str = ""
    status: PrinterStatus | None = None


def _body(raw: bytes) -> bytes:
    if not raw.endswith(CR):
        raise ProtocolError("a reply must end in CR", raw=raw.hex())
    body = raw[:-1]
    if CR in body:
        raise ProtocolError("a reply holds more than one line", raw=raw.hex())
    return body


def _nack(body: bytes, raw: bytes) -> Reply:
    status = NACK_CODES.get(body[len(NACK) :])
    if status is None:
        raise ProtocolError(f"unknown NACK code {body[1:]!r}", raw=raw.hex())
    return Reply(ReplyKind.NACK, status=status)


def parse_reply(raw: bytes) -> Reply:
    """Parse one reply (its bytes up to and including CR)."""
    body = _body(raw)
    if body == ACK:
        return Reply(ReplyKind.ACK)
    if body == OK:
        return Reply(ReplyKind.ACK, text=OK.decode("ascii"))
    if body.startswith(NACK):
        return _nack(body, raw)
    if not body.isascii() or not all(0x20 <= b < 0x7F for b in body):
        raise ProtocolError("a reply that is not printable ASCII", raw=raw.hex())
    return Reply(ReplyKind.TEXT, text=body.decode("ascii"))


def _fault(reply: Reply, command: str | None) -> EvolisFault:
    assert reply.status is not None
    return EvolisFault(reply.status, nack=reply.status, command=command)


def expect_ack(raw: bytes, command: str | None = None) -> None:
    """Accept an ACK; a NACK raises :class:`EvolisFault`, anything else ProtocolError."""
    reply = parse_reply(raw)
    if reply.kind is ReplyKind.NACK:
        raise _fault(reply, command)
    if reply.kind is not ReplyKind.ACK:
        raise ProtocolError(f"expected an ACK, got {reply.text!r}", raw=raw.hex())


def expect_text(raw: bytes, command: str | None = None) -> str:
    """The text of a read reply; a NACK raises :class:`EvolisFault`."""
    reply = parse_reply(raw)
    if reply.kind is ReplyKind.NACK:
        raise _fault(reply, command)
    if not reply.text:
        raise ProtocolError("expected a value, got a bare ACK", raw=raw.hex())
    return reply.text


def _lookup(table: Mapping[bytes, PrinterStatus], raw: bytes, what: str) -> PrinterStatus:
    text = expect_text(raw).encode("ascii")
    status = table.get(text)
    if status is None:
        raise ProtocolError(f"unknown {what} {text!r}", raw=raw.hex())
    return status


@dataclass(frozen=True)
class LastAnswer:
    """An ``Rlr;p`` answer: its status, and its text as the printer gave it."""

    status: PrinterStatus
    text: str

    @property
    def documented(self) -> bool:
        return self.status is not PrinterStatus.UNKNOWN


def parse_last_answer(raw: bytes) -> LastAnswer:
    """An ``Rlr;p`` answer; a text outside :data:`STATUS_TEXTS` is UNKNOWN, its text kept.

    A printer that repeats its last NACK answers with the status of its code.
    """
    reply = parse_reply(raw)
    if reply.kind is ReplyKind.NACK:
        assert reply.status is not None
        return LastAnswer(reply.status, f"NACK {_NACK_WIRE[reply.status].decode('ascii')}")
    if not reply.text:
        raise ProtocolError("expected a value, got a bare ACK", raw=raw.hex())
    status = STATUS_TEXTS.get(reply.text.encode("ascii"), PrinterStatus.UNKNOWN)
    return LastAnswer(status, reply.text)


def parse_status(raw: bytes) -> PrinterStatus:
    """The status named by an ``Rlr;p`` answer (UNKNOWN for an undocumented one)."""
    return parse_last_answer(raw).status


def parse_feeder(raw: bytes) -> PrinterStatus:
    """The feeder state named by an ``Sk;f`` answer (0-3)."""
    return _lookup(FEEDER_ANSWERS, raw, "feeder answer")


def parse_int(raw: bytes) -> int:
    """A counter or other number."""
    text = expect_text(raw)
    if not text.isdigit():
        raise ProtocolError(f"expected a number, got {text!r}", raw=raw.hex())
    return int(text)


def _inverse(table: Mapping[bytes, PrinterStatus]) -> Mapping[PrinterStatus, bytes]:
    return MappingProxyType({status: wire for wire, status in table.items()})


_NACK_WIRE = _inverse(NACK_CODES)
_STATUS_WIRE = _inverse(STATUS_TEXTS)
_FEEDER_WIRE = _inverse(FEEDER_ANSWERS)


def ack_reply() -> bytes:
    return ACK + CR


def nack_reply(status: PrinterStatus) -> bytes:
    """The NACK for ``status``; KeyError if no NACK code names it."""
    return NACK + _NACK_WIRE[status] + CR


def status_reply(status: PrinterStatus) -> bytes:
    """The ``Rlr;p`` answer for ``status``; KeyError if the guide documents none."""
    return _STATUS_WIRE[status] + CR


def feeder_reply(status: PrinterStatus) -> bytes:
    """The ``Sk;f`` answer for ``status``."""
    return _FEEDER_WIRE[status] + CR


def text_reply(text: str) -> bytes:
    return text.encode("ascii") + CR
