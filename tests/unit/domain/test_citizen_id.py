"""Citizen ID (GB 11643-1999): parsing, every failure code, cross-checks, the generator."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuance.domain.identity import CitizenId, IdProblem, Mismatch, check_character, cross_check
from issuance.tools.testdata import random_citizen_id
from sscard_core.card_data import Gender
from sscard_core.errors import FieldError

TODAY = date(2025, 6, 1)
# The worked example of GB 11643-1999: 11010519491231002 has check character X.
STANDARD_EXAMPLE = "11010519491231002X"

valid_ids = st.integers(min_value=0, max_value=2**32).map(
    lambda seed: random_citizen_id(random.Random(seed))
)


def parse(text: str) -> CitizenId:
    return CitizenId.parse(text, today=TODAY)


def problem(text: str) -> str:
    with pytest.raises(FieldError) as info:
        parse(text)
    assert info.value.problem.field == "citizen_id"
    return info.value.code


def test_standard_example_parses() -> None:
    cid = parse(STANDARD_EXAMPLE)
    assert cid.region == "110105"
    assert cid.birth_date == date(1949, 12, 31)
    assert cid.gender is Gender.FEMALE  # sequence 002 is even
    assert check_character("11010519491231002") == "X"


def test_lower_case_x_is_normalised() -> None:
    assert parse(STANDARD_EXAMPLE.lower()).value == STANDARD_EXAMPLE
    assert parse(f"  {STANDARD_EXAMPLE} ").value == STANDARD_EXAMPLE


def test_full_width_digits_are_read_as_ascii() -> None:
    assert parse("１１０１０５１９４９１２３１００２ｘ").value == STANDARD_EXAMPLE


def test_odd_sequence_is_male() -> None:
    first17 = "11010819800101001"
    assert parse(first17 + check_character(first17)).gender is Gender.MALE


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", IdProblem.LENGTH),
        ("11010519491231002", IdProblem.LENGTH),
        ("11010519491231002X1", IdProblem.LENGTH),
        ("1101051949123100AX", IdProblem.CHARACTERS),
        ("11010519491231002Y", IdProblem.CHARACTERS),
        ("11010519491231〇02X", IdProblem.CHARACTERS),
        ("X10105194912310029", IdProblem.CHARACTERS),
        ("00010519491231002X", IdProblem.REGION),
        ("91010519491231002X", IdProblem.REGION),
        ("11010519490230002X", IdProblem.BIRTH_DATE),
        ("11010518991231002X", IdProblem.BIRTH_DATE),
        ("11010520250602002X", IdProblem.BIRTH_DATE),
        ("110105194912310021", IdProblem.CHECK_DIGIT),
    ],
)
def test_each_failure_has_its_code(text: str, code: IdProblem) -> None:
    assert problem(text) == code


def test_birth_date_today_is_accepted_and_1900_01_01_too() -> None:
    for born in (TODAY, date(1900, 1, 1)):
        first17 = f"110101{born:%Y%m%d}003"
        assert parse(first17 + check_character(first17)).birth_date == born


def test_foreign_permanent_resident_id() -> None:
    first17 = "91184019850315001"  # 9, province 11, nationality 840
    cid = parse(first17 + check_character(first17))
    assert cid.is_foreign_permanent_resident
    assert cid.birth_date == date(1985, 3, 15)


def test_age() -> None:
    cid = parse(STANDARD_EXAMPLE)
    assert cid.age_on(date(2024, 12, 30)) == 74
    assert cid.age_on(date(2024, 12, 31)) == 75


@given(valid_ids)
def test_generated_ids_parse(text: str) -> None:
    cid = parse(text)
    assert cid.value == text
    assert str(cid) == text


@given(valid_ids, st.data())
def test_any_single_character_change_is_rejected(text: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=17))
    alphabet = [c for c in "0123456789X" if c != text[position]]
    replacement = data.draw(st.sampled_from(alphabet))
    changed = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(FieldError):
        parse(changed)


@given(st.integers(min_value=0, max_value=2**32))
def test_generator_honours_gender_and_region(seed: int) -> None:
    rng = random.Random(seed)
    for gender in Gender:
        cid = parse(random_citizen_id(rng, region="110108", gender=gender))
        assert cid.gender is gender
        assert cid.region == "110108"


def test_generator_reaches_check_character_x() -> None:
    rng = random.Random(7)
    assert any(random_citizen_id(rng).endswith("X") for _ in range(200))


def test_cross_check_agrees() -> None:
    cid = parse(STANDARD_EXAMPLE)
    assert (cid.birth_date, cid.gender) == (date(1949, 12, 31), Gender.FEMALE)
    assert cross_check(cid, date(1949, 12, 31), Gender.FEMALE) is None  # returned: no FieldError


@pytest.mark.parametrize(
    ("born", "gender", "field", "code"),
    [
        (date(1949, 12, 30), Gender.FEMALE, "birth_date", Mismatch.BIRTH_DATE),
        (date(1949, 12, 31), Gender.MALE, "gender", Mismatch.GENDER),
    ],
)
def test_cross_check_names_the_declared_field(
    born: date, gender: Gender, field: str, code: Mismatch
) -> None:
    with pytest.raises(FieldError) as info:
        cross_check(parse(STANDARD_EXAMPLE), born, gender)
    assert info.value.problem.field == field
    assert info.value.code == code


@given(valid_ids)
def test_check_character_x_in_either_case(text: str) -> None:
    first14 = text[:14]
    first17 = next(
        candidate
        for candidate in (f"{first14}{seq:03d}" for seq in range(1000))
        if check_character(candidate) == "X"
    )
    assert parse(first17 + "X").value == first17 + "X"
    assert parse(first17 + "x").value == first17 + "X"
    with pytest.raises(FieldError) as info:
        parse(first17 + "0")
    assert info.value.code == IdProblem.CHECK_DIGIT
