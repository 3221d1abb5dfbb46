"""The 18-character citizen ID number (公民身份号码, GB 11643-1999).

The number is also the holder's social security number (社会保障号码) on the
card and in its chip (EF06 tag 08). Its layout::

    1 1 0 1 0 5 | 1 9 8 7 0 6 1 5 | 0 4 3 | X
    region code | birth date      | seq.  | check

* region code: six digits (GB/T 2260) of the place where the number was first
  issued. The first two digits name a province; only known province prefixes
  are accepted. Foreign permanent residents' IDs (2023 format) start with 9
  and carry a province and a nationality code instead.
* birth date: YYYYMMDD, a real calendar date, not before 1900 and not in the
  future.
* sequence: three digits; odd for men, even for women.
* check character: ISO 7064 MOD 11-2 over the first 17 digits, ``0``-``9`` or
  ``X`` (a lower-case ``x`` is accepted and normalised).

Input is NFKC-normalised first, so full-width digits typed with a Chinese
input method (``１１０１…``) are read as ASCII digits.

Every failure raises :class:`sscard_core.errors.FieldError` on the field
``citizen_id`` with a code of :class:`IdProblem`, so a counter screen can say
precisely what is wrong. Validation is ordered: length, characters, region,
birth date, check character. Because MOD 11-2 catches every single-character
substitution, a typo is always rejected by one of these steps.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sscard_core.card_data import Gender
from sscard_core.errors import FieldError

FIELD = "citizen_id"
LENGTH = 18
EARLIEST_BIRTH = date(1900, 1, 1)
FOREIGN_RESIDENT_PREFIX = "9"

# ISO 7064 MOD 11-2: weight of position i is 2**(17 - i) mod 11.
WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_CHARACTERS = "10X98765432"  # indexed by (weighted sum mod 11)

# GB/T 2260 province-level prefixes (the first two digits of a region code).
PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip


class IdProblem(StrEnum):
    """Why a citizen ID was rejected (the FieldError code)."""

    LENGTH = "citizen_id_length"
    CHARACTERS = "citizen_id_characters"
    REGION = "citizen_id_region"
    BIRTH_DATE = "citizen_id_birth_date"
    CHECK_DIGIT = "citizen_id_check_digit"


class Mismatch(StrEnum):
    """Why a declared field disagrees with the citizen ID."""

    BIRTH_DATE = "birth_date_mismatch"
    GENDER = "gender_mismatch"


class BeijingDistrict(StrEnum):
    """Beijing's sixteen districts by GB/T 2260 region code."""

    DONGCHENG = "110101"
    XICHENG = "110102"
    CHAOYANG = "110105"
    FENGTAI = "110106"
    SHIJINGSHAN = "110107"
    HAIDIAN = "110108"
    MENTOUGOU = "110109"
    FANGSHAN = "110111"
    TONGZHOU = "110112"
    SHUNYI = "110113"
    CHANGPING = "110114"
    DAXING = "110115"
    HUAIROU = "110116"
    PINGGU = "110117"
    MIYUN = "110118"
    YANQING = "110119"

    @property
    def label(self) -> str:
        """The district's Chinese name."""
        return DISTRICT_LABELS[self]


DISTRICT_LABELS: dict[BeijingDistrict, str] = {
    BeijingDistrict.DONGCHENG: "东城区",
    BeijingDistrict.XICHENG: "西城区",
    BeijingDistrict.CHAOYANG: "朝阳区",
    BeijingDistrict.FENGTAI: "丰台区",
    BeijingDistrict.SHIJINGSHAN: "石景山区",
    BeijingDistrict.HAIDIAN: "海淀区",
    BeijingDistrict.MENTOUGOU: "门头沟区",
    BeijingDistrict.FANGSHAN: "房山区",
    BeijingDistrict.TONGZHOU: "通州区",
    BeijingDistrict.SHUNYI: "顺义区",
    BeijingDistrict.CHANGPING: "昌平区",
    BeijingDistrict.DAXING: "大兴区",
    BeijingDistrict.HUAIROU: "怀柔区",
    BeijingDistrict.PINGGU: "平谷区",
    BeijingDistrict.MIYUN: "密云区",
    BeijingDistrict.YANQING: "延庆区",
}


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


@dataclass(frozen=True)
class CitizenId:
    """A validated citizen ID; ``value`` is normalised (upper-case X)."""

    value: str
    region: str
    birth_date: date
    gender: Gender

    @classmethod
    def parse(cls, text: str, *, today: date | None = None) -> CitizenId:
        """Validate ``text`` (surrounding spaces ignored); FieldError names the failure."""
        value = unicodedata.normalize("NFKC", text).strip().upper()
        _check_shape(value)
        _check_region(value)
        born = _birth_date(value[6:14], today or date.today())
        if check_character(value[:17]) != value[17]:
            raise FieldError(FIELD, "the check character is wrong", code=IdProblem.CHECK_DIGIT)
        gender = Gender.MALE if int(value[16]) % 2 else Gender.FEMALE
        return cls(value=value, region=value[:6], birth_date=born, gender=gender)

    @property
    def is_foreign_permanent_resident(self) -> bool:
        """True for a foreign permanent resident's ID card number."""
        return self.value.startswith(FOREIGN_RESIDENT_PREFIX)

    def age_on(self, day: date) -> int:
        """Completed years of age on ``day``."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)

    def __str__(self) -> str:
        return self.value


def _check_shape(value: str) -> None:
    if len(value) != LENGTH:
        raise FieldError(FIELD, f"must be {LENGTH} characters", code=IdProblem.LENGTH)
    if not (value[:17].isascii() and value[:17].isdigit()) or value[17] not in CHECK_CHARACTERS:
        raise FieldError(FIELD, "must be 17 digits and a digit or X", code=IdProblem.CHARACTERS)


def _check_region(value: str) -> None:
    province = value[1:3] if value.startswith(FOREIGN_RESIDENT_PREFIX) else value[:2]
    if province not in PROVINCES:
        raise FieldError(FIELD, f"unknown region code {value[:6]}", code=IdProblem.REGION)


def _birth_date(digits: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError as exc:
        raise FieldError(
            FIELD, f"{digits} is not a calendar date", code=IdProblem.BIRTH_DATE
        ) from exc
    if not EARLIEST_BIRTH <= born <= today:
        raise FieldError(
            FIELD, f"birth date {born} is before 1900 or in the future", code=IdProblem.BIRTH_DATE
        )
    return born


def cross_check(citizen_id: CitizenId, birth_date: date, gender: Gender) -> None:
    """The declared birth date and gender must agree with the ID (FieldError on that field)."""
    if birth_date != citizen_id.birth_date:
        raise FieldError(
            "birth_date",
            f"{birth_date} disagrees with the citizen ID ({citizen_id.birth_date})",
            code=Mismatch.BIRTH_DATE,
        )
    if gender != citizen_id.gender:
        raise FieldError("gender", "disagrees with the citizen ID", code=Mismatch.GENDER)
