"""EF05/EF06 layout, value encodings and the personalise / read_back round trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printers.devices.chip import files, tlv
from printers.devices.chip.files import LAYOUT, Ef, Record, Writer
from sscard_core.card_data import CardData, Gender
from sscard_core.errors import FieldError, ProtocolError


def all_records(card: CardData) -> list[Record]:
    return files.blank_records(card.card_identifier) + files.personalise(card)


def test_layout_matches_the_chip_document() -> None:
    rows = [(spec.ef, spec.tag, spec.size) for spec in LAYOUT]
    assert rows == [
        (Ef.EF05, 0x01, 16),
        (Ef.EF05, 0x02, 1),
        (Ef.EF05, 0x03, 4),
        (Ef.EF05, 0x04, 12),
        (Ef.EF05, 0x05, 4),
        (Ef.EF05, 0x06, 4),
        (Ef.EF05, 0x07, 9),
        (Ef.EF06, 0x08, 18),
        (Ef.EF06, 0x09, 30),
        (Ef.EF06, 0x4E, 20),
        (Ef.EF06, 0x0A, 1),
        (Ef.EF06, 0x0B, 1),
        (Ef.EF06, 0x0C, 3),
        (Ef.EF06, 0x0D, 4),
    ]
    assert [s.tag for s in LAYOUT if s.writer is Writer.MANUFACTURER] == [0x01]


def test_personalise_encodes_each_field(card_data: CardData) -> None:
    values = {record.tag: record.value for record in files.personalise(card_data)}
    assert 0x01 not in values  # the manufacturer wrote the identifier
    assert values[0x02] == b"3"
    assert values[0x03] == b"3.00"
    assert values[0x05] == bytes.fromhex("20250314")
    assert values[0x06] == bytes.fromhex("20350314")
    assert values[0x07] == b"A12345678"
    assert values[0x08] == b"11010519900307123X"
    assert values[0x09] == "张三丰".encode("gbk") + bytes(24)
    assert values[0x4E] == bytes(20)
    assert values[0x0A] == b"\x01"
    assert values[0x0B] == b"\x01"
    assert values[0x0C] == bytes.fromhex("110105")
    assert values[0x0D] == bytes.fromhex("19900307")


def test_record_tlv() -> None:
    assert Record(Ef.EF05, 0x02, b"3").tlv == b"\x02\x013"


def test_round_trip(card_data: CardData) -> None:
    assert files.read_back(all_records(card_data)) == card_data


@pytest.mark.parametrize(
    "name",
    [
        "王",
        "阿依古丽·买买提",  # middle dot: 2 GBK bytes
        "欧阳" + "娜" * 13,  # exactly 30 bytes: no extension
        "买买提·艾力" + "古丽" * 6,  # spills into 4E
        "Li Na",
        "a" + "长" * 24,  # 49 bytes: 29 in 09 (a char does not straddle), 20 in 4E
    ],
)
def test_names_round_trip(card_data_with: Callable[..., CardData], name: str) -> None:
    card = card_data_with(name=name)
    records = files.personalise(card)
    for record in records:
        assert len(record.value) == files.SPECS_BY_TAG[record.tag].size
    assert files.read_back(files.blank_records(card.card_identifier) + records).name == name


def test_a_long_name_splits_on_a_character_boundary() -> None:
    head, tail = files.split_name("a" + "长" * 20)  # 41 bytes
    assert head == ("a" + "长" * 14).encode("gbk") + b"\x00"  # 29 bytes used, 1 pad
    assert tail == ("长" * 6).encode("gbk") + bytes(8)


def test_a_name_of_fifty_bytes_fits_and_fifty_one_does_not() -> None:
    files.split_name("长" * 25)
    with pytest.raises(FieldError) as caught:
        files.split_name("长" * 25 + "a")
    assert caught.value.problem.field == "name"


@pytest.mark.parametrize("name", ["䶮", "𠀋王", "Zoë"])  # outside GBK
def test_a_name_gbk_cannot_encode_is_a_field_error(
    card_data_with: Callable[..., CardData], name: str
) -> None:
    with pytest.raises(FieldError) as caught:
        files.personalise(card_data_with(name=name))
    assert caught.value.problem.field == "name"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"card_number": "A1234567"}, "card_number"),
        ({"citizen_id": "11010519900307123"}, "citizen_id"),
        ({"issuing_institution": "机构"}, "issuing_institution"),
        ({"birthplace": "1101050"}, "birthplace"),
        ({"ethnicity": 100}, "ethnicity"),
        ({"card_type": "\x07"}, "card_type"),
    ],
)
def test_fields_that_do_not_fit_are_field_errors(
    card_data_with: Callable[..., CardData], changes: dict[str, object], field: str
) -> None:
    with pytest.raises(FieldError) as caught:
        files.personalise(card_data_with(**changes))
    assert caught.value.problem.field == field


def test_blank_records_need_a_16_character_identifier() -> None:
    with pytest.raises(FieldError):
        files.blank_records("110000")


def test_read_back_needs_every_record(card_data: CardData) -> None:
    records = [r for r in all_records(card_data) if r.tag != 0x0D]
    with pytest.raises(ProtocolError, match="0D"):
        files.read_back(records)


@pytest.mark.parametrize(
    ("tag", "value"),
    [(0x05, bytes.fromhex("2025AA14")), (0x05, bytes.fromhex("20251399")), (0x07, b"\xff" * 9)],
)
def test_read_back_refuses_garbage(card_data: CardData, tag: int, value: bytes) -> None:
    records = [
        Record(r.ef, r.tag, value if r.tag == tag else r.value) for r in all_records(card_data)
    ]
    with pytest.raises(ProtocolError):
        files.read_back(records)


def test_read_back_refuses_a_record_of_the_wrong_size(card_data: CardData) -> None:
    records = [
        Record(r.ef, r.tag, r.value + b"\x00" if r.tag == 0x02 else r.value)
        for r in all_records(card_data)
    ]
    with pytest.raises(ProtocolError, match="02"):
        files.read_back(records)


GBK_CHARS = st.sampled_from(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜·abcXYZ"
)


@given(
    name=st.text(GBK_CHARS, min_size=1, max_size=25),
    born=st.dates(date(1900, 1, 1), date(2099, 12, 31)),
    gender=st.sampled_from(Gender),
    ethnicity=st.integers(1, 56),
)
def test_round_trip_property(
    card_data_with: Callable[..., CardData], name: str, born: date, gender: Gender, ethnicity: int
) -> None:
    card = card_data_with(name=name, birth_date=born, gender=gender, ethnicity=ethnicity)
    assert files.read_back(all_records(card)) == card


@given(st.integers(0, 255), st.binary(max_size=255))
def test_tlv_round_trip(tag: int, value: bytes) -> None:
    assert tlv.decode_one(tlv.encode_tlv(tag, value)) == tlv.Tlv(tag, value)


@pytest.mark.parametrize("raw", ["01", "0105AA", "0182000000", "0101AA0201"])
def test_bad_tlv(raw: str) -> None:
    with pytest.raises(ProtocolError):
        tlv.decode_one(bytes.fromhex(raw))


def test_tlv_limits() -> None:
    with pytest.raises(ProtocolError):
        tlv.encode_tlv(0x100, b"")
    with pytest.raises(ProtocolError):
        tlv.encode_tlv(1, bytes(256))
    assert tlv.find(bytes.fromhex("0101AA0202BBCC"), 2) == b"\xbb\xcc"
    assert tlv.find(bytes.fromhex("0101AA"), 2) is None
