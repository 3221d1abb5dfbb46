"""Card numbers (卡号, 9 characters) and card identifiers (卡识别码, 16 characters).

Both are derived deterministically from a sequence number that the store
hands out (a database sequence), so the same sequence always gives the same
card and two cards never share a number.

* Card number: a series letter and eight digits, ``A00000001``. The series
  runs A..Z without I and O (they read as 1 and 0), so one sequence covers
  24 x 10^8 cards. Sequence ``n`` is series ``n // 10^8``, digits
  ``n % 10^8``.
* Card identifier: the issuer's six-digit region code (Beijing: 110000)
  followed by a serial. With a check digit (the default) the serial has nine
  digits and a Luhn digit ends the identifier; without one, the serial has
  ten digits. :class:`IdentifierScheme` keeps that choice in one place.

Validation raises :class:`sscard_core.errors.FieldError` with a
:class:`NumberProblem` code; an exhausted number space is a ConflictError.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sscard_core.card_data import BEIJING_REGION
from sscard_core.errors import ConflictError, FieldError

CARD_NUMBER_FIELD = "card_number"
IDENTIFIER_FIELD = "card_identifier"
SERIES_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
CARD_NUMBER_DIGITS = 8
CARD_NUMBER_LENGTH = 1 + CARD_NUMBER_DIGITS
SERIES_SIZE: int = 10**CARD_NUMBER_DIGITS
IDENTIFIER_LENGTH = 16
REGION_LENGTH = 6


class NumberProblem(StrEnum):
    LENGTH = "number_length"
    CHARACTERS = "number_characters"
    REGION = "number_region"
    CHECK_DIGIT = "number_check_digit"
    SEQUENCE = "number_sequence"


def _digits_only(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _check_sequence(sequence: int, capacity: int, what: str) -> None:
    if sequence < 0:
        raise FieldError("sequence", "must not be negative", code=NumberProblem.SEQUENCE)
    if sequence >= capacity:
        raise ConflictError(
            f"the {what} space is exhausted at sequence {sequence}",
            code="number_space_exhausted",
        )


# A digit doubled by the Luhn rule, its two digits summed (0 1 2 ... 9 -> 0 2 4 6 8 1 3 5 7 9).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")
_ZERO = ord("0")


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits`` (ASCII digits only)."""
    if not _digits_only(digits):
        raise ValueError(f"not a string of digits: {digits!r}")
    backwards = digits[::-1]  # the last digit is doubled, then every other one
    summed = (backwards[0::2].translate(_LUHN_DOUBLED) + backwards[1::2]).encode()
    return str(-(sum(summed) - _ZERO * len(summed)) % 10)


def card_number(sequence: int) -> str:
    """The 9-character card number for a sequence number."""
    _check_sequence(sequence, SERIES_SIZE * len(SERIES_LETTERS), "card number")
    series, serial = divmod(sequence, SERIES_SIZE)
    return f"{SERIES_LETTERS[series]}{serial:0{CARD_NUMBER_DIGITS}d}"


def card_number_sequence(number: str) -> int:
    """The sequence number a valid card number was made from (inverse of card_number)."""
    value = validate_card_number(number)
    return SERIES_LETTERS.index(value[0]) * SERIES_SIZE + int(value[1:])


def validate_card_number(text: str) -> str:
    """The normalised (upper-case, trimmed) card number; FieldError if malformed."""
    value = text.strip().upper()
    if len(value) != CARD_NUMBER_LENGTH:
        raise FieldError(
            CARD_NUMBER_FIELD, f"must be {CARD_NUMBER_LENGTH} characters", code=NumberProblem.LENGTH
        )
    if value[0] not in SERIES_LETTERS or not _digits_only(value[1:]):
        raise FieldError(
            CARD_NUMBER_FIELD,
            "must be a series letter (not I or O) and eight digits",
            code=NumberProblem.CHARACTERS,
        )
    return value


@dataclass(frozen=True)
class IdentifierScheme:
    """How card identifiers are made: the issuer's region and whether a check digit ends them."""

    region: str = BEIJING_REGION
    check_digit: bool = True

    def __post_init__(self) -> None:
        if len(self.region) != REGION_LENGTH or not _digits_only(self.region):
            raise FieldError("region", "must be six digits", code=NumberProblem.REGION)

    @property
    def serial_digits(self) -> int:
        return IDENTIFIER_LENGTH - REGION_LENGTH - int(self.check_digit)

    def make(self, sequence: int) -> str:
        """The 16-character card identifier for a sequence number."""
        _check_sequence(sequence, 10**self.serial_digits, "card identifier")
        body = f"{self.region}{sequence:0{self.serial_digits}d}"
        return body + luhn_digit(body) if self.check_digit else body

    def validate(self, text: str) -> str:
        """The trimmed identifier; FieldError if it is malformed or not this issuer's."""
        value = text.strip()
        if len(value) != IDENTIFIER_LENGTH:
            raise FieldError(
                IDENTIFIER_FIELD, f"must be {IDENTIFIER_LENGTH} digits", code=NumberProblem.LENGTH
            )
        if not _digits_only(value):
            raise FieldError(IDENTIFIER_FIELD, "must be digits", code=NumberProblem.CHARACTERS)
        if not value.startswith(self.region):
            raise FieldError(
                IDENTIFIER_FIELD, f"must start with region {self.region}", code=NumberProblem.REGION
            )
        if self.check_digit and luhn_digit(value[:-1]) != value[-1]:
            raise FieldError(
                IDENTIFIER_FIELD, "the check digit is wrong", code=NumberProblem.CHECK_DIGIT
            )
        return value

    def sequence_of(self, identifier: str) -> int:
        """The sequence number a valid identifier was made from."""
        value = self.validate(identifier)
        return int(value[REGION_LENGTH : REGION_LENGTH + self.serial_digits])


BEIJING_IDENTIFIERS = IdentifierScheme()
