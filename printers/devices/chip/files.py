"""The layout of EF05 (card information) and EF06 (holder information) as a data table.

:data:`LAYOUT` has one :class:`FieldSpec` row per record: the file, the tag, the
:class:`~sscard_core.card_data.CardData` attribute it carries, its size and its
:class:`Encoding`. Everything else here is driven by that table:

* :func:`personalise` turns a ``CardData`` into the :class:`Record` values an issuer writes;
* :func:`blank_records` gives the records the card manufacturer writes at initialisation;
* :func:`read_back` is the inverse, turning records read from a card into a ``CardData``.

Who writes what: the card identifier (EF05 tag 01) is written by the card
manufacturer when the chip is initialised, together with the per-card diversified
keys; a blank card already knows its identifier, and the chip refuses to rewrite it.
Personalisation at the outlet writes every other record.

The name is GBK text in tag 09 (30 bytes, padded with ``00``). A name longer than
30 GBK bytes continues in tag 4E, the name extension (20 bytes *(assumed)*); the split
falls on a character boundary so each part decodes on its own. Tag 4E is always
written (all ``00`` when unused) so that a card never keeps a stale extension. A name
that does not fit in 50 bytes, or has a character GBK cannot encode, raises
:class:`sscard_core.errors.FieldError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum, IntEnum, unique
from typing import Any

from printers.devices.chip import tlv
from sscard_core.card_data import CardData, Gender
from sscard_core.errors import FieldError, ProtocolError


@unique
class Ef(IntEnum):
    """Elementary files of the SSSE application, by file identifier."""

    EF05 = 0xEF05  # card information
    EF06 = 0xEF06  # holder information


@unique
class Encoding(Enum):
    ASCII = "ascii"
    BCD_DATE = "bcd_date"
    CODE = "code"
    GBK = "gbk"


@unique
class Writer(Enum):
    """Who writes a record: the chip manufacturer at initialisation, or the issuer."""

    MANUFACTURER = "manufacturer"
    ISSUER = "issuer"


def _digits(text: str) -> str:
    return text


def _number(text: str) -> int:
    return int(text)


def _gender(text: str) -> Gender:
    return Gender(str(int(text)))


@dataclass(frozen=True)
class FieldSpec:
    """One record of EF05/EF06."""

    ef: Ef
    tag: int
    attribute: str  # the CardData attribute (both name records carry "name")
    label: str
    size: int
    encoding: Encoding
    writer: Writer = Writer.ISSUER
    parse_code: Callable[[str], Any] = _digits  # CODE fields: decoded digits → CardData value


NAME_TAG = 0x09
NAME_EXTENSION_TAG = 0x4E
CARD_IDENTIFIER_TAG = 0x01
CARD_NUMBER_TAG = 0x07

LAYOUT: tuple[FieldSpec, ...] = (
    FieldSpec(
        Ef.EF05, 0x01, "card_identifier", "卡识别码", 16, Encoding.ASCII, Writer.MANUFACTURER
    ),
    FieldSpec(Ef.EF05, 0x02, "card_type", "卡类别", 1, Encoding.ASCII),
    FieldSpec(Ef.EF05, 0x03, "standard_version", "规范版本", 4, Encoding.ASCII),
    FieldSpec(Ef.EF05, 0x04, "issuing_institution", "初始化机构编号", 12, Encoding.ASCII),
    FieldSpec(Ef.EF05, 0x05, "issue_date", "发卡日期", 4, Encoding.BCD_DATE),
    FieldSpec(Ef.EF05, 0x06, "expiry_date", "卡有效期", 4, Encoding.BCD_DATE),
    FieldSpec(Ef.EF05, 0x07, "card_number", "卡号", 9, Encoding.ASCII),
    FieldSpec(Ef.EF06, 0x08, "citizen_id", "社会保障号码", 18, Encoding.ASCII),
    FieldSpec(Ef.EF06, NAME_TAG, "name", "姓名", 30, Encoding.GBK),
    FieldSpec(Ef.EF06, NAME_EXTENSION_TAG, "name", "姓名扩展", 20, Encoding.GBK),
    FieldSpec(Ef.EF06, 0x0A, "gender", "性别", 1, Encoding.CODE, parse_code=_gender),
    FieldSpec(Ef.EF06, 0x0B, "ethnicity", "民族", 1, Encoding.CODE, parse_code=_number),
    FieldSpec(Ef.EF06, 0x0C, "birthplace", "出生地", 3, Encoding.CODE),
    FieldSpec(Ef.EF06, 0x0D, "birth_date", "出生日期", 4, Encoding.BCD_DATE),
)

SPECS_BY_TAG: dict[int, FieldSpec] = {spec.tag: spec for spec in LAYOUT}
NAME_SPEC = SPECS_BY_TAG[NAME_TAG]
NAME_EXTENSION_SPEC = SPECS_BY_TAG[NAME_EXTENSION_TAG]


@dataclass(frozen=True)
class Record:
    """One record to write to (or read from) a file: its tag and value."""

    ef: Ef
    tag: int
    value: bytes

    @property
    def tlv(self) -> bytes:
        return tlv.encode_tlv(self.tag, self.value)


def specs_of(ef: Ef) -> tuple[FieldSpec, ...]:
    return tuple(spec for spec in LAYOUT if spec.ef is ef)


def _encode_ascii(spec: FieldSpec, text: str) -> bytes:
    if len(text) != spec.size or not text.isascii() or not text.isprintable():
        raise FieldError(spec.attribute, f"{spec.label} must be {spec.size} ASCII characters")
    return text.encode("ascii")


def _encode_code(spec: FieldSpec, text: str) -> bytes:
    try:
        return tlv.encode_bcd_digits(text, spec.size)
    except ValueError as exc:
        message = f"{spec.label} must be at most {2 * spec.size} digits"
        raise FieldError(spec.attribute, message) from exc


def _encode_scalar(spec: FieldSpec, value: object) -> bytes:
    """Encode one non-name field value by its spec."""
    if spec.encoding is Encoding.BCD_DATE:
        if not isinstance(value, date):
            raise FieldError(spec.attribute, f"{spec.label} must be a date")
        return tlv.encode_bcd_date(value)
    text = value.value if isinstance(value, Enum) else str(value)
    if spec.encoding is Encoding.CODE:
        return _encode_code(spec, text)
    return _encode_ascii(spec, text)


def split_name(name: str) -> tuple[bytes, bytes]:
    """The name as (tag 09 value, tag 4E value), both padded; see the module docstring."""
    try:
        parts = [char.encode("gbk") for char in name]
    except UnicodeEncodeError as exc:
        raise FieldError("name", "the name has a character GBK cannot encode") from exc
    head = bytearray()
    index = 0
    while index < len(parts) and len(head) + len(parts[index]) <= NAME_SPEC.size:
        head += parts[index]
        index += 1
    tail = b"".join(parts[index:])
    if len(tail) > NAME_EXTENSION_SPEC.size:
        limit = NAME_SPEC.size + NAME_EXTENSION_SPEC.size
        raise FieldError("name", f"the name does not fit {limit} GBK bytes")
    return tlv.pad_gbk(bytes(head), NAME_SPEC.size), tlv.pad_gbk(tail, NAME_EXTENSION_SPEC.size)


def personalise(card: CardData) -> list[Record]:
    """The records an issuer writes for ``card``, in file and tag order."""
    head, tail = split_name(card.name)
    names = {NAME_TAG: head, NAME_EXTENSION_TAG: tail}
    records: list[Record] = []
    for spec in LAYOUT:
        if spec.writer is not Writer.ISSUER:
            continue
        value = names.get(spec.tag)
        if value is None:
            value = _encode_scalar(spec, getattr(card, spec.attribute))
        records.append(Record(spec.ef, spec.tag, value))
    return records


def blank_records(card_identifier: str) -> list[Record]:
    """The records the manufacturer writes at initialisation: the card identifier."""
    spec = SPECS_BY_TAG[CARD_IDENTIFIER_TAG]
    return [Record(spec.ef, spec.tag, _encode_ascii(spec, card_identifier))]


def decode_value(spec: FieldSpec, value: bytes) -> Any:
    """The CardData value of one record (name records decode to their part of the name)."""
    if len(value) != spec.size:
        raise ProtocolError(f"tag {spec.tag:02X} has {len(value)} bytes, expected {spec.size}")
    if spec.encoding is Encoding.BCD_DATE:
        return tlv.decode_bcd_date(value)
    if spec.encoding is Encoding.GBK:
        return tlv.unpad_gbk(value)
    if spec.encoding is Encoding.CODE:
        return spec.parse_code(tlv.decode_bcd_digits(value))
    try:
        return value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"tag {spec.tag:02X} is not ASCII") from exc


def read_back(records: Iterable[Record]) -> CardData:
    """The CardData that ``records`` (every tag of :data:`LAYOUT`) encode."""
    by_tag = {record.tag: record.value for record in records}
    missing = [f"{spec.tag:02X}" for spec in LAYOUT if spec.tag not in by_tag]
    if missing:
        raise ProtocolError(f"records missing for tags {', '.join(missing)}")
    fields: dict[str, Any] = {}
    for spec in LAYOUT:
        decoded = decode_value(spec, by_tag[spec.tag])
        if spec.encoding is Encoding.GBK:  # the name extension continues the name
            decoded = fields.get(spec.attribute, "") + decoded
        fields[spec.attribute] = decoded
    return CardData(**fields)
