"""CardData's JSON form, as the service writes it into a job and the agent reads it back."""

from __future__ import annotations

import dataclasses

from sscard_core.card_data import Gender, card_data_from_json, card_data_to_json
from tests.samples import CARD


def test_every_field_in_order() -> None:
    written = card_data_to_json(CARD)
    assert list(written) == [f.name for f in dataclasses.fields(CARD)]
    assert written["issue_date"] == "2025-03-14"
    assert written["expiry_date"] == "2035-03-14"
    assert written["birth_date"] == "1980-01-01"
    assert written["gender"] == "1"
    assert written["ethnicity"] == 1
    assert written["standard_version"] == CARD.standard_version


def test_the_agent_reads_back_the_same_card() -> None:
    woman = dataclasses.replace(CARD, gender=Gender.FEMALE, ethnicity=56, standard_version="3.01")
    assert card_data_from_json(card_data_to_json(woman)) == woman
