"""Command and response APDUs (ISO 7816-4 short form): building and parsing bytes, nothing else.

:class:`CommandApdu` is a frozen value that serialises to the four ISO cases
(header only; header + Le; header + Lc + data; header + Lc + data + Le) and parses
back from bytes (the simulated card uses :meth:`CommandApdu.parse`). The builder
functions below produce exactly the commands the social security card chip
understands (see ``docs/sscard-chip.md``):

=====================  ============================================
SELECT by AID          ``00 A4 04 00 0F <SSSE AID>``
SELECT EF              ``00 A4 02 0C 02 <FID>``
GET CHALLENGE          ``00 84 00 00 08``
EXTERNAL AUTHENTICATE  ``00 82 00 <key id> 10 <cryptogram>``
READ RECORD by tag     ``00 B2 <tag> 00 <Le>``
UPDATE RECORD (SM)     ``04 DC <tag> 04 <Lc> <tag len value> <MAC4>``
VERIFY PIN             ``00 20 00 00 <Lc> <PIN BCD>``
CHANGE PIN             ``80 5E 01 00 <Lc> <old PIN> FF <new PIN>``
RELOAD PIN             ``80 5E 00 00 <Lc> <new PIN> <MAC4>``
GET RESPONSE           ``00 C0 00 00 <Le>``
=====================  ============================================

Secure messaging: the MAC covers the header *as sent* (CLA with bit ``04`` set for
UPDATE RECORD, Lc counting the 4 MAC bytes) followed by the plain data; see
:func:`mac_input`. The card checks the same bytes, so :func:`split_mac` is its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum, unique

from sscard_core.errors import FieldError, ProtocolError

SSSE_AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")  # "sx1.sh." + 社会保障 (GBK)
MAC_LENGTH = 4
CHALLENGE_LENGTH = 8
CRYPTOGRAM_LENGTH = 16
SECURE_MESSAGING_BIT = 0x04
PIN_SEPARATOR = 0xFF
PIN_DIGITS = range(4, 13)
MAX_SHORT = 255


@unique
class Cla(IntEnum):
    """Class bytes the chip accepts."""

    ISO = 0x00
    ISO_SM = 0x04
    PROPRIETARY = 0x80
    PROPRIETARY_SM = 0x84


@unique
class Ins(IntEnum):
    """Instruction bytes of the commands in this module."""

    SELECT = 0xA4
    GET_CHALLENGE = 0x84
    EXTERNAL_AUTHENTICATE = 0x82
    READ_RECORD = 0xB2
    UPDATE_RECORD = 0xDC
    VERIFY = 0x20
    CHANGE_PIN = 0x5E
    GET_RESPONSE = 0xC0


@unique
class SelectBy(IntEnum):
    """SELECT P1: what the data field names."""

    CHILD_EF = 0x02
    DF_NAME = 0x04


@unique
class PinOperation(IntEnum):
    """P1 of the proprietary ``80 5E`` command."""

    RELOAD = 0x00
    CHANGE = 0x01


READ_BY_IDENTIFIER = 0x00  # READ RECORD P2: first record with identifier (tag) P1
UPDATE_BY_NUMBER = 0x04  # UPDATE RECORD P2 as in the chip document
SELECT_NO_RESPONSE = 0x0C  # SELECT P2: return no FCI


@dataclass(frozen=True)
class CommandApdu:
    """A short command APDU. ``le`` of ``None`` means no Le byte; 256 encodes as ``00``."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def to_bytes(self) -> bytes:
        if len(self.data) > MAX_SHORT:
            raise ProtocolError(f"command data of {len(self.data)} bytes needs extended length")
        out = self.header
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le % 256,))
        return out

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse the four short cases; raise :class:`ProtocolError` on anything else."""
        if len(raw) < 4:
            raise ProtocolError(f"command APDU of {len(raw)} bytes is shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc and len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if lc and len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:-1]), body[-1] or 256)
        raise ProtocolError(f"command APDU body of {len(body)} bytes does not match Lc {lc}")


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data followed by the two status bytes."""

    data: bytes
    sw1: int
    sw2: int

    def to_bytes(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ProtocolError(f"response APDU of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])


def select_aid(aid: bytes = SSSE_AID) -> CommandApdu:
    """SELECT the application by name; the card answers its FCI (Le 256)."""
    return CommandApdu(Cla.ISO, Ins.SELECT, SelectBy.DF_NAME, 0x00, aid, le=256)


def select_ef(file_id: int) -> CommandApdu:
    """SELECT an elementary file of the current application by its 2-byte identifier."""
    return CommandApdu(
        Cla.ISO, Ins.SELECT, SelectBy.CHILD_EF, SELECT_NO_RESPONSE, file_id.to_bytes(2, "big")
    )


def get_challenge(length: int = CHALLENGE_LENGTH) -> CommandApdu:
    return CommandApdu(Cla.ISO, Ins.GET_CHALLENGE, 0x00, 0x00, le=length)


def external_authenticate(key_id: int, cryptogram: bytes) -> CommandApdu:
    if len(cryptogram) != CRYPTOGRAM_LENGTH:
        raise ProtocolError(f"cryptogram must be {CRYPTOGRAM_LENGTH} bytes, not {len(cryptogram)}")
    return CommandApdu(Cla.ISO, Ins.EXTERNAL_AUTHENTICATE, 0x00, key_id, cryptogram)


def read_record(tag: int, le: int = 256) -> CommandApdu:
    """READ RECORD by tag from the current EF; Le 256 (``00``) asks for the whole record."""
    return CommandApdu(Cla.ISO, Ins.READ_RECORD, tag, READ_BY_IDENTIFIER, le=le)


def update_record(tag: int, tlv: bytes) -> CommandApdu:
    """UPDATE RECORD ``tag`` of the current EF, as it is before its MAC is appended."""
    return CommandApdu(Cla.ISO_SM, Ins.UPDATE_RECORD, tag, UPDATE_BY_NUMBER, tlv)


def get_response(length: int) -> CommandApdu:
    return CommandApdu(Cla.ISO, Ins.GET_RESPONSE, 0x00, 0x00, le=length)


def verify_pin(pin: bytes) -> CommandApdu:
    return CommandApdu(Cla.ISO, Ins.VERIFY, 0x00, 0x00, pin)


def change_pin(old: bytes, new: bytes) -> CommandApdu:
    data = old + bytes((PIN_SEPARATOR,)) + new
    return CommandApdu(Cla.PROPRIETARY, Ins.CHANGE_PIN, PinOperation.CHANGE, 0x00, data)


def reload_pin(new: bytes) -> CommandApdu:
    """RELOAD PIN, as it is before its MAC is appended."""
    return CommandApdu(Cla.PROPRIETARY, Ins.CHANGE_PIN, PinOperation.RELOAD, 0x00, new)


def mac_input(command: CommandApdu) -> bytes:
    """The bytes a secure-messaging MAC covers: header with Lc counting the MAC, then data."""
    return command.header + bytes((len(command.data) + MAC_LENGTH,)) + command.data


def with_mac(command: CommandApdu, mac: bytes) -> CommandApdu:
    """``command`` with its 4-byte MAC appended to the data."""
    if len(mac) != MAC_LENGTH:
        raise ProtocolError(f"MAC must be {MAC_LENGTH} bytes, not {len(mac)}")
    return replace(command, data=command.data + mac)


def split_mac(command: CommandApdu) -> tuple[CommandApdu, bytes]:
    """Inverse of :func:`with_mac`: the command without its MAC, and the MAC."""
    if len(command.data) < MAC_LENGTH:
        raise ProtocolError("secure-messaging command is shorter than its MAC")
    return replace(command, data=command.data[:-MAC_LENGTH]), command.data[-MAC_LENGTH:]


def encode_pin(pin: str) -> bytes:
    """A PIN of 4..12 digits as packed BCD, an odd digit count padded with ``F``."""
    if not pin.isascii() or not pin.isdigit() or len(pin) not in PIN_DIGITS:
        raise FieldError("pin", "a PIN is 4 to 12 digits", code="invalid_pin")
    padded = pin + "F" * (len(pin) % 2)
    return bytes.fromhex(padded)


def split_change_pin(data: bytes) -> tuple[bytes, bytes] | None:
    """Split CHANGE PIN data ``old FF new``; None when there is no separator."""
    index = data.find(bytes((PIN_SEPARATOR,)))
    if index <= 0 or index == len(data) - 1:
        return None
    return data[:index], data[index + 1 :]
