"""Fixtures for the chip tests: master keys, a job's CardData, blank cards and encoders."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from printers.devices.chip.crypto import KeyUsage
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.simulators.chip_card import CardFaults, InProcessConnection, SimulatedCard
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.card_data import CardData
from tests import samples

CARD_IDENTIFIER = "110000D156000005"
MasterKeys = dict[KeyUsage, bytes]


def make_card_data(**changes: object) -> CardData:
    return samples.card_data(
        **{"card_identifier": CARD_IDENTIFIER, **samples.ZHANG_SANFENG, **changes}
    )


@pytest.fixture
def master_keys() -> MasterKeys:
    return {usage: os.urandom(16) for usage in KeyUsage}


@pytest.fixture
def card_data() -> CardData:
    return make_card_data()


CardDataWith = Callable[..., CardData]


@pytest.fixture(scope="session")
def card_data_with() -> CardDataWith:
    """A factory: the standard job's CardData with some fields changed."""
    return make_card_data


@pytest.fixture
def blank(master_keys: MasterKeys) -> SimulatedCard:
    return SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER)


@pytest.fixture
def psam(master_keys: MasterKeys) -> SimulatedPsam:
    return SimulatedPsam(master_keys)


@pytest.fixture
def encoder(blank: SimulatedCard, psam: SimulatedPsam) -> ChipEncoder:
    return ChipEncoder(InProcessConnection(blank), psam)


EncoderFor = Callable[[SimulatedCard], ChipEncoder]


@pytest.fixture
def encoder_for(psam: SimulatedPsam) -> EncoderFor:
    return lambda card: ChipEncoder(InProcessConnection(card), psam)


CardWithFaults = Callable[[CardFaults], SimulatedCard]


@pytest.fixture
def card_with(master_keys: MasterKeys) -> CardWithFaults:
    return lambda faults: SimulatedCard.issue_blank(master_keys, CARD_IDENTIFIER, faults=faults)
