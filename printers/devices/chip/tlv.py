"""TLV records and the value encodings of the chip's files (pure functions over bytes).

A record is ``tag length value`` with a one-byte tag. Lengths up to 127 use one
byte; 128..255 use the BER form ``81 LL`` (the chip's records are all short, but
the FCI parser accepts either).

Value encodings (the ``encoding`` column of :mod:`printers.devices.chip.files`):

* ASCII: exactly ``size`` printable ASCII characters.
* BCD date: ``YYYYMMDD`` packed two digits a byte (4 bytes).
* code: a decimal code packed as BCD, left-padded with zeros to ``2 * size`` digits
  (gender ``1`` → ``01``, ethnicity ``1`` → ``01``, birthplace ``110105`` → ``11 01 05``).
* GBK padded: the text in GBK, padded with ``00`` to ``size`` bytes; trailing ``00``
  are stripped when reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sscard_core.errors import ProtocolError

LONG_LENGTH = 0x81
MAX_SHORT_LENGTH = 0x7F
MAX_LENGTH = 0xFF
GBK_PAD = 0x00


@dataclass(frozen=True)
class Tlv:
    """One decoded TLV object."""

    tag: int
    value: bytes

    def to_bytes(self) -> bytes:
        return encode_tlv(self.tag, self.value)


def encode_tlv(tag: int, value: bytes) -> bytes:
    if not 0 <= tag <= 0xFF:
        raise ProtocolError(f"tag {tag:#x} does not fit one byte")
    if len(value) <= MAX_SHORT_LENGTH:
        return bytes((tag, len(value))) + value
    if len(value) <= MAX_LENGTH:
        return bytes((tag, LONG_LENGTH, len(value))) + value
    raise ProtocolError(f"value of {len(value)} bytes is too long for a record")


def _read_length(raw: bytes, offset: int) -> tuple[int, int]:
    """The length at ``offset`` and the offset of the value after it."""
    if offset >= len(raw):
        raise ProtocolError("TLV ends before its length")
    first = raw[offset]
    if first <= MAX_SHORT_LENGTH:
        return first, offset + 1
    if first == LONG_LENGTH and offset + 1 < len(raw):
        return raw[offset + 1], offset + 2
    raise ProtocolError(f"unsupported TLV length byte {first:#04x}")


def iter_tlv(raw: bytes) -> Iterator[Tlv]:
    """Every TLV object in ``raw``, which must contain nothing else."""
    offset = 0
    while offset < len(raw):
        tag = raw[offset]
        length, start = _read_length(raw, offset + 1)
        end = start + length
        if end > len(raw):
            raise ProtocolError(
                f"TLV tag {tag:#04x} claims {length} bytes, {len(raw) - start} left"
            )
        yield Tlv(tag, bytes(raw[start:end]))
        offset = end


def decode_one(raw: bytes) -> Tlv:
    """Exactly one TLV object."""
    objects = list(iter_tlv(raw))
    if len(objects) != 1:
        raise ProtocolError(f"expected one TLV object, found {len(objects)}")
    return objects[0]


def find(raw: bytes, tag: int) -> bytes | None:
    """The value of the first object with ``tag`` in ``raw``, or None."""
    return next((obj.value for obj in iter_tlv(raw) if obj.tag == tag), None)


def encode_bcd_digits(digits: str, size: int) -> bytes:
    """Decimal ``digits`` as packed BCD in ``size`` bytes, left-padded with zeros."""
    if not digits.isascii() or not digits.isdigit() or len(digits) > 2 * size:
        raise ValueError(f"{digits!r} is not at most {2 * size} decimal digits")
    return bytes.fromhex(digits.rjust(2 * size, "0"))


def decode_bcd_digits(value: bytes) -> str:
    text = value.hex()
    if not text.isdigit():
        raise ProtocolError(f"{text.upper()} is not packed BCD")
    return text


def encode_bcd_date(day: date) -> bytes:
    return encode_bcd_digits(day.strftime("%Y%m%d"), 4)


def decode_bcd_date(value: bytes) -> date:
    text = decode_bcd_digits(value)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise ProtocolError(f"{text} is not a date") from exc


def pad_gbk(encoded: bytes, size: int) -> bytes:
    if len(encoded) > size:
        raise ValueError(f"{len(encoded)} GBK bytes do not fit {size}")
    return encoded + bytes((GBK_PAD,)) * (size - len(encoded))


def unpad_gbk(value: bytes) -> str:
    try:
        return value.rstrip(bytes((GBK_PAD,))).decode("gbk")
    except UnicodeDecodeError as exc:
        raise ProtocolError("record is not GBK text") from exc
