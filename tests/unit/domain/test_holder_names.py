"""Holder names: scripts, the middle dot and its look-alikes, lengths, is_long, the generator."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuance.domain.names import HolderName, NameProblem, NameScript, chip_bytes, is_cjk, is_long
from issuance.tools.testdata import random_name
from sscard_core.errors import FieldError

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


def problem(text: str, *, allow_latin: bool = False) -> str:
    with pytest.raises(FieldError) as info:
        HolderName.parse(text, allow_latin=allow_latin)
    assert info.value.problem.field == "name"
    return info.value.code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张三", "张三"),
        ("  王小明\u3000", "王小明"),
        ("欧阳娜娜", "欧阳娜娜"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("𠀀𪚥", "𠀀𪚥"),  # Extension B characters
        ("李〇", "李〇"),
    ],
)
def test_chinese_names(text: str, expected: str) -> None:
    name = HolderName.parse(text)
    assert name.value == expected
    assert name.script is NameScript.CHINESE


@pytest.mark.parametrize("lookalike", ["\u2022", "\u30fb", "\uff0e", "\u2027"])
def test_dot_lookalikes_become_middle_dot(lookalike: str) -> None:
    name = HolderName.parse(f"阿依古丽{lookalike}买买提")
    assert name.value == "阿依古丽\u00b7买买提"
    assert name.is_minority


def test_compatibility_ideograph_is_normalised_to_nfc() -> None:
    # U+F900 is a compatibility ideograph whose canonical form is U+8C48.
    assert HolderName.parse("\uf900").value == "\u8c48"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", NameProblem.EMPTY),
        ("   \u3000", NameProblem.EMPTY),
        ("张" * 51, NameProblem.TOO_LONG),
        ("·张三", NameProblem.DOT_POSITION),
        ("张三·", NameProblem.DOT_POSITION),
        ("阿依古丽··买买提", NameProblem.DOT_POSITION),
        ("·", NameProblem.DOT_POSITION),
        ("张 三", NameProblem.CHARACTERS),
        ("张3", NameProblem.CHARACTERS),
        ("张-三", NameProblem.CHARACTERS),
        ("キム", NameProblem.CHARACTERS),
        ("김민준", NameProblem.CHARACTERS),
        ("张JOHN", NameProblem.MIXED_SCRIPTS),
    ],
)
def test_rejected_names(text: str, code: NameProblem) -> None:
    assert problem(text, allow_latin=True) == code


def test_latin_names_only_when_allowed() -> None:
    assert problem("John Smith") == NameProblem.LATIN_NOT_ALLOWED
    name = HolderName.parse("  john \u3000 SMITH ", allow_latin=True)
    assert name.value == "JOHN SMITH"
    assert name.script is NameScript.LATIN


@pytest.mark.parametrize("text", ["JOSÉ GARCÍA", "O'BRIEN", "ANNE-MARIE", "JOHN·SMITH"])
def test_latin_names_allow_only_letters_and_spaces(text: str) -> None:
    assert problem(text, allow_latin=True) == NameProblem.CHARACTERS


def test_fifty_characters_is_the_limit() -> None:
    assert len(HolderName.parse("张" * 50).value) == 50


def test_is_long_by_face_characters() -> None:
    assert not is_long("张" * 15)
    assert is_long("张" * 16)


def test_is_long_by_chip_bytes() -> None:
    # GBK: two bytes each; Extension B characters take four in GB 18030.
    assert chip_bytes("张" * 15) == 30
    assert not is_long("张" * 15)
    assert chip_bytes("𠀀" * 8) == 32
    assert is_long("𠀀" * 8)
    assert chip_bytes("阿依古丽·买买提") == 16
    assert HolderName.parse("阿依古丽·买买提·艾力·阿卜杜拉").is_long


@given(st.text(cjk, min_size=1, max_size=50))
def test_any_run_of_ideographs_is_a_name(text: str) -> None:
    assert HolderName.parse(text).value == unicodedata.normalize("NFC", text)


@given(st.lists(st.text(cjk, min_size=1, max_size=8), min_size=2, max_size=4))
def test_dotted_parts_are_a_minority_name(parts: list[str]) -> None:
    name = HolderName.parse("\u30fb".join(parts))
    assert name.value.split("\u00b7") == parts


@given(st.integers(min_value=0, max_value=2**32))
def test_generated_names_are_valid(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20):
        name = random_name(rng)
        assert HolderName.parse(name).value == name


def test_generator_mixes_in_about_five_percent_minority_names() -> None:
    rng = random.Random(2024)
    names = [HolderName.parse(random_name(rng)) for _ in range(4000)]
    share = sum(n.is_minority for n in names) / len(names)
    assert 0.03 < share < 0.07


def test_is_cjk_boundaries() -> None:
    assert is_cjk("\u4e00")
    assert is_cjk("\u9fff")
    assert not is_cjk("\u3006")
    assert is_cjk("\U00031350")  # Extension H
    assert is_cjk("\ufa0e")
    assert not is_cjk("\ufa0d")
