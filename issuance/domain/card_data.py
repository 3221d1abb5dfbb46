"""What is personalised onto one card: its face and its chip (EF05, EF06).

This is the contract between the service that orders a card and the devices
that make it. Field sizes follow the chip's files (see the encoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

BEIJING_REGION = "110000"
STANDARD_VERSION = "3.00"  # marks a third-generation card


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
