"""The card's JSON form as the service writes it: what the agent reads back."""

from __future__ import annotations

import dataclasses

from issuance.domain.card_data import Gender
from issuance.services.ordering import card_data_json
from printers.agent.models import card_data_from_json, card_data_to_json
from tests.samples import CARD


def test_every_field_in_order_as_the_agent_writes_it() -> None:
    written = card_data_json(CARD)
    assert list(written) == [f.name for f in dataclasses.fields(CARD)]
    assert written == card_data_to_json(CARD)
    assert written["issue_date"] == "2025-03-14"
    assert written["gender"] == "1"
    assert written["ethnicity"] == 1


def test_the_agent_reads_back_the_same_card() -> None:
    woman = dataclasses.replace(CARD, gender=Gender.FEMALE, ethnicity=56, standard_version="3.01")
    assert card_data_from_json(card_data_json(woman)) == woman
