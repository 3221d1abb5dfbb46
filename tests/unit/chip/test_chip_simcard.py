"""The simulated card at the APDU level: every rule it enforces, as the chip would."""

from __future__ import annotations

import pytest

from printers.devices.chip import apdu, crypto, tlv
from printers.devices.chip.apdu import CommandApdu
from printers.devices.chip.crypto import CipherSuite, KeyUsage
from printers.devices.simulators.chip_card import ATR, DEFAULT_PIN, CardFaults, SimulatedCard

MasterKeys = dict[KeyUsage, bytes]
CARD_IDENTIFIER = "110000D156000005"  # as the blank fixture


class Terminal:
    """Drives a card with raw APDUs, computing cryptograms and MACs from the master keys."""

    def __init__(self, card: SimulatedCard, master_keys: MasterKeys) -> None:
        self.card = card
        self.ciphers = {
            usage: crypto.make_cipher(
                CipherSuite.SM4, crypto.card_key(CipherSuite.SM4, key, CARD_IDENTIFIER)
            )
            for usage, key in master_keys.items()
        }

    def send(self, command: CommandApdu | bytes) -> tuple[bytes, str]:
        raw = command if isinstance(command, bytes) else command.to_bytes()
        response = self.card.transmit(raw)
        return response[:-2], response[-2:].hex().upper()

    def select(self) -> None:
        assert self.send(apdu.select_aid())[1] == "6113"
        fci, sw = self.send(apdu.get_response(0x13))
        assert sw == "9000"
        assert tlv.find(tlv.find(fci, 0x6F) or b"", 0x84) == apdu.SSSE_AID

    def challenge(self) -> bytes:
        data, sw = self.send(apdu.get_challenge())
        assert sw == "9000"
        assert len(data) == 8
        return data

    def authenticate(self) -> str:
        cryptogram = crypto.cryptogram(self.ciphers[KeyUsage.EXTERNAL_AUTH], self.challenge())
        return self.send(apdu.external_authenticate(KeyUsage.EXTERNAL_AUTH, cryptogram))[1]

    def signed_update(
        self, tag: int, value: bytes, usage: KeyUsage = KeyUsage.LINE_MAC
    ) -> CommandApdu:
        command = apdu.update_record(tag, tlv.encode_tlv(tag, value))
        mac = crypto.mac(self.ciphers[usage], self.challenge(), apdu.mac_input(command))
        return apdu.with_mac(command, mac)


@pytest.fixture
def terminal(blank: SimulatedCard, master_keys: MasterKeys) -> Terminal:
    return Terminal(blank, master_keys)


@pytest.fixture
def ready(terminal: Terminal) -> Terminal:
    """Application selected, EF05 current, externally authenticated."""
    terminal.select()
    assert terminal.send(apdu.select_ef(0xEF05))[1] == "9000"
    assert terminal.authenticate() == "9000"
    return terminal


def test_atr_is_t0_with_historical_bytes(blank: SimulatedCard) -> None:
    assert blank.atr == ATR
    assert ATR[0] == 0x3B
    assert ATR[1] & 0x0F == len(ATR) - 4  # K historical bytes after TS T0 TB1 TC1


def test_a_blank_knows_its_identifier_and_nothing_else(terminal: Terminal) -> None:
    terminal.select()
    terminal.send(apdu.select_ef(0xEF05))
    data, sw = terminal.send(apdu.read_record(0x01, le=18))
    assert (data, sw) == (tlv.encode_tlv(0x01, CARD_IDENTIFIER.encode()), "9000")
    assert terminal.send(apdu.read_record(0x02, le=3))[1] == "6A83"


def test_read_with_the_wrong_le_gets_6c(terminal: Terminal) -> None:
    terminal.select()
    terminal.send(apdu.select_ef(0xEF05))
    assert terminal.send(apdu.read_record(0x01))[1] == "6C12"


@pytest.mark.parametrize(
    ("raw", "sw"),
    [
        ("00A4000000", "6A86"),  # P1 00: not a supported selection
        ("00A404000F" + "00" * 15 + "00", "6A82"),  # unknown AID
        ("00A4020C02DF01", "6A82"),  # unknown EF
        ("00A4020C03EF0500", "6700"),
        ("00B2010000", "6986"),  # no current EF
        ("00B2010400", "6986"),
        ("0084000004", "6C08"),
        ("0084010008", "6A86"),
        ("0082000210" + "00" * 16, "6A88"),  # no such key
        ("0082000108" + "00" * 8, "6700"),
        ("0082000110" + "00" * 16, "6985"),  # no challenge
        ("00DC020407020133AABBCCDD", "6982"),  # plain CLA
        ("04DC020407020133AABBCCDD", "6982"),  # not authenticated
        ("00C0000010", "6985"),  # nothing pending
        ("0020010003123456", "6A86"),
        ("805E020003123456", "6A86"),
        ("00FF000000", "6D00"),
        ("A0A4000000", "6E00"),
        ("80A4040000", "6E00"),  # a known class the instruction does not take
        ("00A404", "6700"),
    ],
)
def test_refusals(terminal: Terminal, raw: str, sw: str) -> None:
    terminal.select()
    assert terminal.send(bytes.fromhex(raw))[1] == sw


def test_commands_need_the_application(terminal: Terminal) -> None:
    assert terminal.send(apdu.get_challenge())[1] == "6985"
    assert terminal.send(apdu.select_ef(0xEF05))[1] == "6A82"
    assert terminal.send(apdu.verify_pin(apdu.encode_pin(DEFAULT_PIN)))[1] == "6985"


def test_get_response_with_the_wrong_le_gets_6c(terminal: Terminal) -> None:
    terminal.send(apdu.select_aid())
    assert terminal.send(apdu.get_response(0x05))[1] == "6C13"
    assert terminal.send(apdu.get_response(0x13))[1] == "9000"
    assert terminal.send(apdu.get_response(0x13))[1] == "6985"  # only once


def test_a_pending_response_is_lost_after_another_command(terminal: Terminal) -> None:
    terminal.send(apdu.select_aid())
    terminal.send(apdu.select_ef(0xEF05))
    assert terminal.send(apdu.get_response(0x13))[1] == "6985"


def test_authenticated_write(ready: Terminal) -> None:
    assert ready.send(ready.signed_update(0x02, b"3"))[1] == "9000"
    assert ready.card.record(0x02) == b"3"
    assert ready.send(apdu.read_record(0x02, le=3)) == (b"\x02\x013", "9000")


def test_wrong_cryptogram_is_refused(terminal: Terminal) -> None:
    terminal.select()
    terminal.challenge()
    assert terminal.send(apdu.external_authenticate(KeyUsage.EXTERNAL_AUTH, bytes(16)))[1] == "6300"
    terminal.send(apdu.select_ef(0xEF05))
    command = terminal.signed_update(0x02, b"3")
    assert terminal.send(command)[1] == "6982"  # still unauthenticated


def test_cryptogram_for_another_card_is_refused(
    terminal: Terminal, master_keys: MasterKeys
) -> None:
    other = crypto.make_cipher(
        CipherSuite.SM4,
        crypto.card_key(CipherSuite.SM4, master_keys[KeyUsage.EXTERNAL_AUTH], "110000D156000006"),
    )
    terminal.select()
    cryptogram = crypto.cryptogram(other, terminal.challenge())
    assert terminal.send(apdu.external_authenticate(1, cryptogram))[1] == "6300"


def test_a_challenge_is_single_use(terminal: Terminal) -> None:
    terminal.select()
    challenge = terminal.challenge()
    cryptogram = crypto.cryptogram(terminal.ciphers[KeyUsage.EXTERNAL_AUTH], challenge)
    command = apdu.external_authenticate(KeyUsage.EXTERNAL_AUTH, cryptogram)
    assert terminal.send(command)[1] == "9000"
    assert terminal.send(command)[1] == "6985"  # replayed: the challenge is gone


def test_a_replayed_write_is_refused(ready: Terminal) -> None:
    command = ready.signed_update(0x02, b"3")
    assert ready.send(command)[1] == "9000"
    assert ready.send(command)[1] == "6985"  # no challenge now
    ready.challenge()
    assert ready.send(command)[1] == "6988"  # a new challenge: the old MAC is wrong


def test_a_wrong_mac_is_refused_and_nothing_is_written(ready: Terminal) -> None:
    command = ready.signed_update(0x02, b"3")
    tampered = CommandApdu(
        command.cla, command.ins, command.p1, command.p2, command.data[:-1] + b"\x00"
    )
    assert ready.send(tampered)[1] == "6988"
    assert ready.card.record(0x02) is None


def test_a_mac_under_another_key_is_refused(ready: Terminal) -> None:
    assert ready.send(ready.signed_update(0x02, b"3", KeyUsage.PIN_RELOAD))[1] == "6988"


def test_a_modified_header_breaks_the_mac(ready: Terminal) -> None:
    command = ready.signed_update(0x02, b"3")
    moved = CommandApdu(command.cla, command.ins, 0x03, command.p2, command.data)
    assert ready.send(moved)[1] == "6988"


@pytest.mark.parametrize(
    ("tag", "value", "sw"),
    [
        (0x01, b"110000D156000099", "6985"),  # the manufacturer's record
        (0x08, b"x" * 18, "6A83"),  # EF06's record while EF05 is current
        (0x02, b"33", "6A80"),  # wrong size
        (0x77, b"3", "6A83"),  # no such tag
    ],
)
def test_writes_that_break_the_layout(ready: Terminal, tag: int, value: bytes, sw: str) -> None:
    assert ready.send(ready.signed_update(tag, value))[1] == sw


def test_a_write_whose_tlv_names_another_tag(ready: Terminal) -> None:
    command = apdu.update_record(0x02, tlv.encode_tlv(0x03, b"3.00"))
    mac = crypto.mac(ready.ciphers[KeyUsage.LINE_MAC], ready.challenge(), apdu.mac_input(command))
    assert ready.send(apdu.with_mac(command, mac))[1] == "6A80"


def test_selecting_the_application_again_drops_authentication(ready: Terminal) -> None:
    ready.select()
    ready.send(apdu.select_ef(0xEF05))
    assert ready.send(ready.signed_update(0x02, b"3"))[1] == "6982"


def test_reset_drops_authentication_but_keeps_files(ready: Terminal) -> None:
    ready.send(ready.signed_update(0x02, b"3"))
    ready.card.reset()
    ready.select()
    ready.send(apdu.select_ef(0xEF05))
    assert ready.send(ready.signed_update(0x02, b"4"))[1] == "6982"
    assert ready.card.record(0x02) == b"3"


def test_verify_pin_counts_down_and_blocks(terminal: Terminal) -> None:
    terminal.select()
    wrong = apdu.verify_pin(apdu.encode_pin("000000"))
    assert terminal.send(wrong)[1] == "63C2"
    assert terminal.send(apdu.verify_pin(apdu.encode_pin(DEFAULT_PIN)))[1] == "9000"
    assert [terminal.send(wrong)[1] for _ in range(4)] == ["63C2", "63C1", "6983", "6983"]
    assert terminal.send(apdu.verify_pin(apdu.encode_pin(DEFAULT_PIN)))[1] == "6983"
    assert terminal.card.pin_tries_left == 0


def test_reload_pin_with_mac_unblocks(terminal: Terminal) -> None:
    terminal.select()
    for _ in range(3):
        terminal.send(apdu.verify_pin(apdu.encode_pin("000000")))
    command = apdu.reload_pin(apdu.encode_pin("2468"))
    mac = crypto.mac(
        terminal.ciphers[KeyUsage.PIN_RELOAD], terminal.challenge(), apdu.mac_input(command)
    )
    assert terminal.send(apdu.with_mac(command, mac))[1] == "9000"
    assert terminal.send(apdu.verify_pin(apdu.encode_pin("2468")))[1] == "9000"
    assert terminal.card.pin_tries_left == 3


def test_reload_pin_needs_the_reload_key(terminal: Terminal) -> None:
    terminal.select()
    command = apdu.reload_pin(apdu.encode_pin("2468"))
    mac = crypto.mac(
        terminal.ciphers[KeyUsage.LINE_MAC], terminal.challenge(), apdu.mac_input(command)
    )
    assert terminal.send(apdu.with_mac(command, mac))[1] == "6988"
    assert terminal.send(apdu.with_mac(command, mac))[1] == "6985"
    assert terminal.send(CommandApdu(0x80, 0x5E, 0, 0, b"\x12\x34"))[1] == "6700"


def test_reload_pin_refuses_a_malformed_pin(terminal: Terminal) -> None:
    terminal.select()
    command = apdu.reload_pin(b"\x12\xab\x34")
    mac = crypto.mac(
        terminal.ciphers[KeyUsage.PIN_RELOAD], terminal.challenge(), apdu.mac_input(command)
    )
    assert terminal.send(apdu.with_mac(command, mac))[1] == "6A80"


@pytest.mark.parametrize("data", ["123456", "123456FF", "123456FF12AB56", "FF123456"])
def test_change_pin_refuses_malformed_data_without_using_a_try(
    terminal: Terminal, data: str
) -> None:
    terminal.select()
    assert terminal.send(CommandApdu(0x80, 0x5E, 0x01, 0x00, bytes.fromhex(data)))[1] == "6A80"
    assert terminal.card.pin_tries_left == 3


def test_write_failure_at_record_n(master_keys: MasterKeys) -> None:
    card = SimulatedCard.issue_blank(
        master_keys, CARD_IDENTIFIER, faults=CardFaults(fail_write_at=2)
    )
    terminal = Terminal(card, master_keys)
    terminal.select()
    terminal.send(apdu.select_ef(0xEF05))
    terminal.authenticate()
    assert terminal.send(terminal.signed_update(0x02, b"3"))[1] == "9000"
    assert terminal.send(terminal.signed_update(0x03, b"3.00"))[1] == "6581"
    assert card.record(0x03) is None
    assert terminal.send(terminal.signed_update(0x03, b"3.00"))[1] == "9000"


def test_a_mute_card_answers_nothing(master_keys: MasterKeys) -> None:
    card = SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER, faults=CardFaults(mute=True))
    assert card.atr == b""
    assert card.transmit(apdu.select_aid().to_bytes()) == b""


def test_challenges_come_from_the_given_source(master_keys: MasterKeys) -> None:
    card = SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER, challenges=lambda n: b"\x5a" * n)
    terminal = Terminal(card, master_keys)
    terminal.select()
    assert terminal.challenge() == b"\x5a" * 8


def test_a_3des_card(master_keys: MasterKeys) -> None:
    card = SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER, suite=CipherSuite.TDES)
    terminal = Terminal(card, master_keys)
    terminal.ciphers = {
        usage: crypto.make_cipher(
            CipherSuite.TDES, crypto.card_key(CipherSuite.TDES, key, CARD_IDENTIFIER)
        )
        for usage, key in master_keys.items()
    }
    terminal.select()
    assert terminal.authenticate() == "9000"


def test_repr_shows_no_keys(blank: SimulatedCard, master_keys: MasterKeys) -> None:
    for key in master_keys.values():
        assert key.hex() not in repr(blank)
