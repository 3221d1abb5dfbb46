"""Sample data shared by the tests and the benchmarks."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from sscard_core.card_data import CardData, Gender

CARD = CardData(
    card_number="A12345678",
    card_identifier="1100000000000001",
    card_type="3",
    issuing_institution="110000000001",
    issue_date=date(2025, 3, 14),
    expiry_date=date(2035, 3, 14),
    citizen_id="11010119800101123X",
    name="张三",
    gender=Gender.MALE,
    ethnicity=1,
    birthplace="110101",
    birth_date=date(1980, 1, 1),
)

# A second person, born 1990 in Dongcheng (the holder of the chip and agent tests).
ZHANG_SANFENG: dict[str, Any] = {
    "citizen_id": "11010519900307123X",
    "name": "张三丰",
    "birthplace": "110105",
    "birth_date": date(1990, 3, 7),
}


def card_data(**changes: Any) -> CardData:
    """The sample card, with ``changes``."""
    return dataclasses.replace(CARD, **changes)
