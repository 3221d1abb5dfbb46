"""Command and response APDUs: the exact bytes of each command, and parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printers.devices.chip import apdu
from printers.devices.chip.apdu import CommandApdu, ResponseApdu
from sscard_core.errors import FieldError, ProtocolError

AID = "7378312E73682EC9E7BBE1B1A3D5CF"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (apdu.select_aid(), "00A404000F" + AID + "00"),
        (apdu.select_ef(0xEF05), "00A4020C02EF05"),
        (apdu.get_challenge(), "0084000008"),
        (apdu.external_authenticate(0x01, bytes(range(16))), "0082000110" + bytes(range(16)).hex()),
        (apdu.read_record(0x09, le=32), "00B2090020"),
        (apdu.read_record(0x09), "00B2090000"),
        (apdu.update_record(0x02, b"\x02\x013"), "04DC020403020133"),
        (apdu.get_response(0x13), "00C0000013"),
        (apdu.verify_pin(apdu.encode_pin("123456")), "0020000003123456"),
        (
            apdu.change_pin(apdu.encode_pin("123456"), apdu.encode_pin("654321")),
            "805E010007123456FF654321",
        ),
        (apdu.reload_pin(apdu.encode_pin("12345")), "805E00000312345F"),
    ],
)
def test_command_bytes(command: CommandApdu, expected: str) -> None:
    assert command.to_bytes().hex().upper() == expected.upper()


def test_the_select_aid_is_sx1_sh_and_shehui_baozhang_in_gbk() -> None:
    assert b"sx1.sh." + "社会保障".encode("gbk") == apdu.SSSE_AID


def test_mac_input_counts_the_mac_in_lc_and_with_mac_appends_it() -> None:
    command = apdu.update_record(0x02, b"\x02\x013")
    assert apdu.mac_input(command).hex() == "04dc020407020133"
    signed = apdu.with_mac(command, b"\xaa\xbb\xcc\xdd")
    assert signed.to_bytes().hex() == "04dc020407020133aabbccdd"
    assert apdu.split_mac(signed) == (command, b"\xaa\xbb\xcc\xdd")


def test_bad_mac_and_cryptogram_lengths_are_refused() -> None:
    with pytest.raises(ProtocolError):
        apdu.with_mac(apdu.update_record(2, b"\x02\x013"), b"\x00")
    with pytest.raises(ProtocolError):
        apdu.external_authenticate(1, bytes(8))
    with pytest.raises(ProtocolError):
        apdu.split_mac(CommandApdu(4, 0xDC, 2, 4, b"\x01"))


@pytest.mark.parametrize("pin", ["", "123", "1234567890123", "12a456", "１２３４５６"])
def test_bad_pins_are_field_errors_that_do_not_echo_the_pin(pin: str) -> None:
    with pytest.raises(FieldError) as caught:
        apdu.encode_pin(pin)
    assert caught.value.problem.field == "pin"
    assert pin not in caught.value.message or not pin


BYTE = st.integers(0, 255)
COMMANDS = st.builds(
    CommandApdu,
    BYTE,
    BYTE,
    BYTE,
    BYTE,
    st.binary(max_size=255),
    st.one_of(st.none(), st.integers(1, 256)),
)


@given(COMMANDS)
def test_parse_inverts_to_bytes(command: CommandApdu) -> None:
    assert CommandApdu.parse(command.to_bytes()) == command


@pytest.mark.parametrize(
    "raw", ["00A4", "00A40400020102FFFF", "00A404000301", "00A4040001010203", "00A404000001"]
)
def test_malformed_commands_do_not_parse(raw: str) -> None:
    with pytest.raises(ProtocolError):
        CommandApdu.parse(bytes.fromhex(raw))


def test_too_long_data_needs_extended_length() -> None:
    with pytest.raises(ProtocolError):
        CommandApdu(0, 0xDC, 1, 4, bytes(256)).to_bytes()


def test_response_parse() -> None:
    assert ResponseApdu.parse(bytes.fromhex("01029000")) == ResponseApdu(b"\x01\x02", 0x90, 0)
    with pytest.raises(ProtocolError):
        ResponseApdu.parse(b"\x90")


def test_split_change_pin() -> None:
    assert apdu.split_change_pin(bytes.fromhex("123456FF654321")) == (
        bytes.fromhex("123456"),
        bytes.fromhex("654321"),
    )
    assert apdu.split_change_pin(bytes.fromhex("123456")) is None
    assert apdu.split_change_pin(bytes.fromhex("FF1234")) is None
    assert apdu.split_change_pin(bytes.fromhex("1234FF")) is None
