"""What is personalised onto one card: its face and its chip (EF05, EF06).

This is the contract between the service that orders a card and the devices
that make it. Field sizes follow the chip's files (see the encoder).
``card_data_from_json`` / ``card_data_to_json`` are the one place where a
:class:`CardData` crosses the wire: dates in ISO form, gender as its
GB/T 2261.1 code ("1"/"2").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sscard_core.errors import FieldError

BEIJING_REGION = "110000"
STANDARD_VERSION = "3.00"  # marks a third-generation card
DATE_FIELDS = frozenset({"issue_date", "expiry_date", "birth_date"})


class Gender(StrEnum):
    """Gender as the citizen ID encodes it (GB/T 2261.1 codes)."""

    MALE = "1"
    FEMALE = "2"


@dataclass(frozen=True)
class CardData:
    """Everything printed on the card's personal side and written to its chip."""

    card_number: str  # 卡号, 9 characters
    card_identifier: str  # 卡识别码, 16 characters, the first 6 the issuer's region code
    card_type: str  # 卡类别, 1 character
    issuing_institution: str  # 初始化机构编号, 12 characters
    issue_date: date
    expiry_date: date
    citizen_id: str  # 社会保障号码, 18 characters
    name: str  # 姓名
    gender: Gender
    ethnicity: int  # 民族 code, 1..56 (GB 3304), 1 = Han
    birthplace: str  # 出生地, 6-digit region code
    birth_date: date
    standard_version: str = STANDARD_VERSION


def _field_value(name: str, value: Any) -> Any:
    if name in DATE_FIELDS:
        return date.fromisoformat(str(value))
    if name == "gender":
        return Gender(str(value))
    if name == "ethnicity":
        return int(value)
    return str(value)


def card_data_from_json(body: Mapping[str, Any]) -> CardData:
    """A CardData from its JSON form; a missing or malformed field is a FieldError."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(CardData):
        if spec.name not in body:
            if spec.default is dataclasses.MISSING:
                raise FieldError(spec.name, "missing from the card")
            continue
        try:
            values[spec.name] = _field_value(spec.name, body[spec.name])
        except (TypeError, ValueError) as exc:
            raise FieldError(spec.name, f"cannot read {body[spec.name]!r}") from exc
    return CardData(**values)


def card_data_to_json(card: CardData) -> dict[str, Any]:
    """The JSON form of ``card``, its fields in order: dates ISO, gender "1"/"2".

    Spelled out field by field: a batch builds 10 000 of these, and a walk over the
    dataclass's fields took twice the time.
    """
    return {
        "card_number": card.card_number, "card_identifier": card.card_identifier,
        "card_type": card.card_type, "issuing_institution": card.issuing_institution,
        "issue_date": card.issue_date.isoformat(), "expiry_date": card.expiry_date.isoformat(),
        "citizen_id": card.citizen_id, "name": card.name, "gender": card.gender.value,
        "ethnicity": card.ethnicity, "birthplace": card.birthplace,
        "birth_date": card.birth_date.isoformat(), "standard_version": card.standard_version,
    }  # fmt: skip
