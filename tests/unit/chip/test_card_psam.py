"""The PSAM driver against the simulated PSAM card, from APDU bytes: identity, cryptograms, MACs."""

from __future__ import annotations

import pytest

from printers.devices.chip import psam_apdu
from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.pcsc_psam import CardPsam
from printers.devices.chip.status import CardStatusError, Status
from printers.devices.simulators.chip_card import InProcessConnection, SimulatedCard
from printers.devices.simulators.psam import SimulatedPsam
from printers.devices.simulators.psam_card import SimulatedPsamCard
from sscard_core.card_data import CardData

MasterKeys = dict[KeyUsage, bytes]
SERIAL = "0011223344556677889A"
CHALLENGE = bytes(range(8))


async def _psam(master_keys: MasterKeys) -> tuple[CardPsam, SimulatedPsamCard]:
    card = SimulatedPsamCard(master_keys, SERIAL, terminal="110101000042")
    connection = InProcessConnection(card)  # type: ignore[arg-type]
    await connection.connect()
    return await CardPsam.open(connection), card


async def test_the_driver_reads_the_psam_identity(master_keys: MasterKeys) -> None:
    psam, _ = await _psam(master_keys)
    assert (psam.serial, psam.terminal, psam.info.key_version) == (SERIAL, "110101000042", 1)


async def test_it_answers_what_the_simulated_psam_answers(master_keys: MasterKeys) -> None:
    psam, card = await _psam(master_keys)
    reference = SimulatedPsam(master_keys)
    identifier = "110000D156000005"
    assert await psam.cryptogram(identifier, CHALLENGE) == await reference.cryptogram(
        identifier, CHALLENGE
    )
    for usage in (KeyUsage.LINE_MAC, KeyUsage.PIN_RELOAD):
        got = await psam.mac(identifier, CHALLENGE, b"\x04\xdc\x01\x04", usage)
        assert got == await reference.mac(identifier, CHALLENGE, b"\x04\xdc\x01\x04", usage)
    assert psam.transaction_counter == card.operations == 3


async def test_the_psam_card_refuses_what_it_should(master_keys: MasterKeys) -> None:
    card = SimulatedPsamCard(master_keys, SERIAL)
    assert card.transmit(psam_apdu.cryptogram(CHALLENGE).to_bytes())[-2:] == b"\x69\x85"
    assert card.transmit(psam_apdu.select(0x0099).to_bytes())[-2:] == b"\x6a\x82"
    unknown_key = psam_apdu.init_crypt(KeyUsage.LINE_MAC, bytes(16)).to_bytes()
    assert card.transmit(unknown_key[:2] + b"\x09" + unknown_key[3:])[-2:] == b"\x6a\x88"


async def test_a_card_that_is_no_psam_is_refused(
    master_keys: MasterKeys, blank: SimulatedCard
) -> None:
    connection = InProcessConnection(blank)
    await connection.connect()
    with pytest.raises(CardStatusError) as caught:
        await CardPsam.open(connection)
    assert caught.value.status is Status.FILE_NOT_FOUND


async def test_the_encoder_personalises_a_card_through_the_driver(
    master_keys: MasterKeys, blank: SimulatedCard, card_data: CardData
) -> None:
    psam, _ = await _psam(master_keys)
    encoder = ChipEncoder(InProcessConnection(blank), psam)
    await encoder.personalise(card_data)
    assert await encoder.read_card() == card_data
