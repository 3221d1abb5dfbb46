"""The encoder against simulated cards: personalisation, read-back, faults and PINs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from printers.devices.chip import apdu
from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder, mismatched_fields
from printers.devices.chip.status import (
    CardMute,
    CardNotBlank,
    CardStatusError,
    NotSocialSecurityCard,
    ReadBackMismatch,
    Status,
    WrongCard,
)
from printers.devices.simulators.chip_card import CardFaults, InProcessConnection, SimulatedCard
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.card_data import CardData
from sscard_core.errors import ChipError, FieldError, ProtocolError, TransportError

MasterKeys = dict[KeyUsage, bytes]
CardDataWith = Callable[..., CardData]


class Tap:
    """A connection wrapper that records the traffic and may rewrite responses."""

    def __init__(
        self, inner: InProcessConnection, rewrite: Callable[[bytes, bytes], bytes] | None = None
    ) -> None:
        self.inner = inner
        self.rewrite = rewrite
        self.commands: list[bytes] = []

    async def connect(self) -> None:
        await self.inner.connect()

    async def disconnect(self) -> None:
        await self.inner.disconnect()

    async def transmit(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        response = await self.inner.transmit(apdu)
        return self.rewrite(apdu, response) if self.rewrite else response


async def test_personalise_writes_and_reads_back(
    encoder: ChipEncoder, blank: SimulatedCard, card_data: CardData, psam: SimulatedPsam
) -> None:
    result = await encoder.personalise(card_data)
    assert result.card_identifier == card_data.card_identifier
    assert result.read_back == card_data
    assert result.written_tags == (
        0x02,
        0x03,
        0x04,
        0x05,
        0x06,
        0x07,
        0x08,
        0x09,
        0x4E,
        0x0A,
        0x0B,
        0x0C,
        0x0D,
    )
    # one cryptogram and one MAC per record
    assert result.psam_counter_after - result.psam_counter_before == 1 + len(result.written_tags)
    assert result.psam_counter_after == psam.transaction_counter
    assert blank.record(0x09) == "张三丰".encode("gbk") + bytes(24)
    assert await encoder.read_card() == card_data


async def test_the_session_follows_61_with_get_response_and_uses_a_challenge_per_write(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    tap = Tap(InProcessConnection(blank))
    await ChipEncoder(tap, psam).personalise(card_data)
    instructions = [command[1] for command in tap.commands]
    assert tap.commands[0] == apdu.select_aid().to_bytes()
    assert tap.commands[1] == apdu.get_response(0x13).to_bytes()
    updates = [i for i, ins in enumerate(instructions) if ins == apdu.Ins.UPDATE_RECORD]
    assert len(updates) == 13
    assert all(instructions[i - 1] == apdu.Ins.GET_CHALLENGE for i in updates)
    assert all(tap.commands[i][0] == 0x04 for i in updates)


async def test_a_long_name_goes_into_the_extension(
    encoder_for: Callable[[SimulatedCard], ChipEncoder],
    blank: SimulatedCard,
    card_data_with: CardDataWith,
) -> None:
    card = card_data_with(name="买买提·艾力" + "古丽" * 8)
    result = await encoder_for(blank).personalise(card)
    assert result.read_back.name == card.name
    assert blank.record(0x4E) != bytes(20)


async def test_a_name_gbk_cannot_encode_touches_no_card(
    encoder: ChipEncoder, blank: SimulatedCard, card_data_with: CardDataWith
) -> None:
    with pytest.raises(FieldError):
        await encoder.personalise(card_data_with(name="王䶮"))
    assert blank.record(0x02) is None


async def test_the_wrong_card_is_refused_before_writing(
    encoder: ChipEncoder, blank: SimulatedCard, card_data_with: CardDataWith
) -> None:
    with pytest.raises(WrongCard) as caught:
        await encoder.personalise(card_data_with(card_identifier="110000D156000999"))
    assert isinstance(caught.value, ChipError)
    assert blank.record(0x02) is None


async def test_a_write_failure_surfaces_as_chip_error(
    card_with: Callable[[CardFaults], SimulatedCard],
    encoder_for: Callable[[SimulatedCard], ChipEncoder],
    card_data: CardData,
) -> None:
    card = card_with(CardFaults(fail_write_at=5))
    with pytest.raises(ChipError) as caught:
        await encoder_for(card).personalise(card_data)
    error = caught.value
    assert isinstance(error, CardStatusError)
    assert (error.sw1, error.sw2, error.status) == (0x65, 0x81, Status.MEMORY_FAILURE)
    assert error.command == "UPDATE RECORD 06"
    assert card.record(0x05) is not None
    assert card.record(0x06) is None


async def test_a_mute_card_is_a_chip_error(
    card_with: Callable[[CardFaults], SimulatedCard],
    encoder_for: Callable[[SimulatedCard], ChipEncoder],
    card_data: CardData,
) -> None:
    with pytest.raises(CardMute):
        await encoder_for(card_with(CardFaults(mute=True))).personalise(card_data)


async def test_a_card_that_falls_silent_mid_session(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    tap = Tap(
        InProcessConnection(blank),
        lambda command, response: b"" if command[1] == 0xDC else response,
    )
    with pytest.raises(CardMute):
        await ChipEncoder(tap, psam).personalise(card_data)


async def test_a_psam_with_other_keys_fails_external_authentication(
    blank: SimulatedCard, card_data: CardData
) -> None:
    stranger = SimulatedPsam({usage: bytes([0x42]) * 16 for usage in KeyUsage})
    with pytest.raises(CardStatusError) as caught:
        await ChipEncoder(InProcessConnection(blank), stranger).personalise(card_data)
    assert caught.value.status is Status.AUTHENTICATION_FAILED
    assert caught.value.command == "EXTERNAL AUTHENTICATE"
    assert blank.record(0x02) is None


async def test_a_read_back_difference_rejects_the_card(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    def garble(command: bytes, response: bytes) -> bytes:
        if command[:3] == bytes.fromhex("00B207"):  # the card number comes back changed
            return response[:-3] + b"9" + response[-2:]
        return response

    with pytest.raises(ReadBackMismatch) as caught:
        await ChipEncoder(Tap(InProcessConnection(blank), garble), psam).personalise(card_data)
    assert caught.value.mismatched == ("card_number",)


def test_mismatched_fields(card_data: CardData, card_data_with: CardDataWith) -> None:
    other = card_data_with(name="李四", ethnicity=2)
    assert mismatched_fields(card_data, other) == ("name", "ethnicity")
    assert mismatched_fields(card_data, card_data) == ()


async def test_a_card_that_keeps_saying_61_is_a_protocol_error(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    tap = Tap(InProcessConnection(blank), lambda command, response: b"\x61\x01")
    with pytest.raises(ProtocolError, match="no final status word"):
        await ChipEncoder(tap, psam).personalise(card_data)


async def test_a_short_response_is_a_protocol_error(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    tap = Tap(InProcessConnection(blank), lambda command, response: b"\x90")
    with pytest.raises(ProtocolError):
        await ChipEncoder(tap, psam).personalise(card_data)


async def test_an_fci_that_is_not_ssse_is_a_protocol_error(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    def other_fci(command: bytes, response: bytes) -> bytes:
        return bytes.fromhex("6F038401AA9000") if command[1] == 0xC0 else response

    with pytest.raises(ProtocolError, match="SSSE"):
        await ChipEncoder(Tap(InProcessConnection(blank), other_fci), psam).personalise(card_data)


async def test_the_connection_is_closed_after_a_failure(
    blank: SimulatedCard, card_data_with: CardDataWith, psam: SimulatedPsam
) -> None:
    connection = InProcessConnection(blank)
    with pytest.raises(WrongCard):
        await ChipEncoder(connection, psam).personalise(card_data_with(card_identifier="X" * 16))
    with pytest.raises(TransportError):
        await connection.transmit(apdu.select_aid().to_bytes())


async def test_pin_change_counts_tries_then_blocks_and_reload_unblocks(
    encoder: ChipEncoder, blank: SimulatedCard
) -> None:
    await encoder.change_pin("123456", "135790")
    seen = []
    for _ in range(3):
        with pytest.raises(CardStatusError) as caught:
            await encoder.change_pin("000000", "111111")
        seen.append((f"{caught.value.sw1:02X}{caught.value.sw2:02X}", caught.value.tries_left))
    assert seen == [("63C2", 2), ("63C1", 1), ("6983", 0)]
    with pytest.raises(CardStatusError) as blocked:
        await encoder.change_pin("135790", "111111")  # right PIN, but blocked
    assert blocked.value.status is Status.AUTHENTICATION_BLOCKED
    await encoder.reset_pin("246800")
    assert blank.pin_tries_left == 3
    await encoder.verify_pin("246800")
    await encoder.change_pin("246800", "8642")
    await encoder.verify_pin("8642")


async def test_a_right_pin_restores_the_tries(encoder: ChipEncoder, blank: SimulatedCard) -> None:
    with pytest.raises(CardStatusError):
        await encoder.verify_pin("999999")
    assert blank.pin_tries_left == 2
    await encoder.verify_pin("123456")
    assert blank.pin_tries_left == 3


async def test_reset_pin_with_the_wrong_reload_key_is_refused(
    blank: SimulatedCard, master_keys: MasterKeys
) -> None:
    psam = SimulatedPsam({**master_keys, KeyUsage.PIN_RELOAD: bytes(16)})
    with pytest.raises(CardStatusError) as caught:
        await ChipEncoder(InProcessConnection(blank), psam).reset_pin("246800")
    assert caught.value.status is Status.SM_DATA_INCORRECT


async def test_pins_are_never_logged(
    encoder: ChipEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CardStatusError) as caught:
        await encoder.change_pin("975310", "864200")
    await encoder.change_pin("123456", "864200")
    await encoder.reset_pin("531975")
    text = caplog.text + caught.value.message + repr(caught.value.to_dict())
    assert "CHANGE PIN" in caplog.text
    for secret in ("975310", "864200", "123456", "531975"):
        assert secret not in text


async def test_invalid_pins_send_nothing(encoder: ChipEncoder, blank: SimulatedCard) -> None:
    with pytest.raises(FieldError):
        await encoder.change_pin("123456", "12ab")
    assert blank.pin_tries_left == 3


def sw_of_reads(sw: bytes) -> Callable[[bytes, bytes], bytes]:
    """Rewrite every successful READ RECORD's status word to ``sw`` (its data kept)."""

    def rewrite(command: bytes, response: bytes) -> bytes:
        if command[1] == apdu.Ins.READ_RECORD and response.endswith(b"\x90\x00"):
            return response[:-2] + sw
        return response

    return rewrite


async def test_a_warning_keeps_the_data_that_came_back(
    blank: SimulatedCard, psam: SimulatedPsam, card_data: CardData
) -> None:
    await ChipEncoder(InProcessConnection(blank), psam).personalise(card_data)
    encoder = ChipEncoder(Tap(InProcessConnection(blank), sw_of_reads(b"\x62\x82")), psam)
    assert await encoder.read_card() == card_data
    assert encoder.warnings and all(sw.status is Status.END_OF_FILE for _, sw in encoder.warnings)
    assert encoder.warnings[0][0].startswith("READ RECORD")


async def test_an_error_status_after_data_still_fails(
    blank: SimulatedCard, psam: SimulatedPsam
) -> None:
    encoder = ChipEncoder(Tap(InProcessConnection(blank), sw_of_reads(b"\x6b\x00")), psam)
    with pytest.raises(CardStatusError) as caught:
        await encoder.read_card()
    assert caught.value.status is Status.WRONG_P1P2_OFFSET


async def test_a_card_without_the_ssse_application_is_not_a_social_security_card(
    master_keys: MasterKeys, psam: SimulatedPsam, card_data: CardData
) -> None:
    foreign = SimulatedCard.issue_blank(
        master_keys, card_data.card_identifier, faults=CardFaults(foreign=True)
    )
    with pytest.raises(NotSocialSecurityCard) as caught:
        await ChipEncoder(InProcessConnection(foreign), psam).personalise(card_data)
    assert isinstance(caught.value, WrongCard)
    assert "6A 82" in caught.value.message


async def test_a_card_that_is_not_blank_is_refused_before_authentication(
    master_keys: MasterKeys, psam: SimulatedPsam, card_data: CardData
) -> None:
    used = SimulatedCard.issue_blank(
        master_keys, card_data.card_identifier, faults=CardFaults(card_number="A00000001")
    )
    tap = Tap(InProcessConnection(used))
    with pytest.raises(CardNotBlank, match="A00000001"):
        await ChipEncoder(tap, psam).personalise(card_data)
    assert not any(c[1] == apdu.Ins.EXTERNAL_AUTHENTICATE for c in tap.commands)
