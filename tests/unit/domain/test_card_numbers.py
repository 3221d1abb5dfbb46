"""Card numbers and card identifiers: deterministic, unique, validated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuance.domain.numbers import (
    BEIJING_IDENTIFIERS,
    IdentifierScheme,
    NumberProblem,
    card_number,
    card_number_sequence,
    luhn_digit,
    validate_card_number,
)
from sscard_core.errors import ConflictError, FieldError

CARD_CAPACITY = 24 * 10**8
sequences = st.integers(min_value=0, max_value=CARD_CAPACITY - 1)


def test_luhn_reference_value() -> None:
    assert luhn_digit("7992739871") == "3"  # the textbook example


def _luhn_valid(number: str) -> bool:
    """The rule as written: from the right, double every second digit (not the check
    digit), subtract 9 from doubles over 9; the sum of all is a multiple of 10."""
    total = 0
    for position, ch in enumerate(reversed(number)):
        value = int(ch) * (2 if position % 2 == 1 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_digit_completes_a_valid_number(digits: str) -> None:
    check = luhn_digit(digits)
    assert _luhn_valid(digits + check)
    assert not any(_luhn_valid(digits + other) for other in "0123456789" if other != check)


@pytest.mark.parametrize("text", ["", "12a4", "１２３", "12 3"])
def test_luhn_digit_refuses_anything_but_digits(text: str) -> None:
    with pytest.raises(ValueError, match="not a string of digits"):
        luhn_digit(text)


@pytest.mark.parametrize(
    ("sequence", "number"),
    [(0, "A00000000"), (1, "A00000001"), (10**8, "B00000000"), (8 * 10**8 + 5, "J00000005")],
)
def test_card_numbers(sequence: int, number: str) -> None:
    assert card_number(sequence) == number


@given(sequences)
def test_card_number_round_trip(sequence: int) -> None:
    number = card_number(sequence)
    assert len(number) == 9
    assert card_number_sequence(number) == sequence
    assert validate_card_number(number.lower()) == number


@given(sequences, sequences)
def test_distinct_sequences_give_distinct_numbers(a: int, b: int) -> None:
    assert (card_number(a) == card_number(b)) == (a == b)


def test_card_number_space_limits() -> None:
    assert card_number(CARD_CAPACITY - 1) == "Z99999999"
    with pytest.raises(ConflictError):
        card_number(CARD_CAPACITY)
    with pytest.raises(FieldError):
        card_number(-1)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A0000000", NumberProblem.LENGTH),
        ("I00000001", NumberProblem.CHARACTERS),
        ("O00000001", NumberProblem.CHARACTERS),
        ("100000001", NumberProblem.CHARACTERS),
        ("A0000000X", NumberProblem.CHARACTERS),
    ],
)
def test_bad_card_numbers(text: str, code: NumberProblem) -> None:
    with pytest.raises(FieldError) as info:
        validate_card_number(text)
    assert info.value.code == code


def test_identifier_layout() -> None:
    assert BEIJING_IDENTIFIERS.make(42) == "110000000000042" + luhn_digit("110000000000042")
    assert IdentifierScheme(check_digit=False).make(42) == "1100000000000042"


@given(st.integers(min_value=0, max_value=10**9 - 1), st.booleans())
def test_identifier_round_trip(sequence: int, check: bool) -> None:
    scheme = IdentifierScheme(check_digit=check)
    identifier = scheme.make(sequence)
    assert len(identifier) == 16
    assert identifier.startswith("110000")
    assert scheme.sequence_of(identifier) == sequence


@given(st.integers(min_value=0, max_value=10**9 - 1), st.integers(min_value=6, max_value=15))
def test_a_mistyped_identifier_digit_is_caught(sequence: int, position: int) -> None:
    identifier = BEIJING_IDENTIFIERS.make(sequence)
    wrong = str((int(identifier[position]) + 1) % 10)
    with pytest.raises(FieldError) as info:
        BEIJING_IDENTIFIERS.validate(identifier[:position] + wrong + identifier[position + 1 :])
    assert info.value.code == NumberProblem.CHECK_DIGIT


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("11000000000004", NumberProblem.LENGTH),
        ("11000000000004A2", NumberProblem.CHARACTERS),
        ("3100000000000420", NumberProblem.REGION),
    ],
)
def test_bad_identifiers(text: str, code: NumberProblem) -> None:
    with pytest.raises(FieldError) as info:
        BEIJING_IDENTIFIERS.validate(text)
    assert info.value.code == code


def test_identifier_space_limits() -> None:
    with pytest.raises(ConflictError):
        BEIJING_IDENTIFIERS.make(10**9)
    assert IdentifierScheme(check_digit=False).make(10**10 - 1).endswith("9999999999")


def test_scheme_region_must_be_six_digits() -> None:
    with pytest.raises(FieldError):
        IdentifierScheme(region="1100")
