"""Holder names (姓名) as they go on the card face and into the chip.

A name is normalised before it is validated:

0. a name holding a control or format character (a tab, a line break even at
   its end, a zero-width joiner) is refused (``name_control_characters``),
   never trimmed: such a name was pasted from somewhere it did not belong;
1. Unicode NFC (so compatibility ideographs and composed forms compare
   equal) and trimming of surrounding spaces, including the ideographic
   space U+3000;
2. look-alike separators typed for the minority-name middle dot (U+2022
   bullet, U+30FB katakana middle dot, U+FF0E full-width full stop, U+2027
   hyphenation point) become U+00B7 ``·``;
3. for Latin names, ASCII letters are upper-cased and runs of spaces
   (including ideographic spaces) collapse to one.

Two scripts are accepted, never mixed within one name:

* ``CHINESE``: CJK unified ideographs (the basic block and extensions A to I,
  plus U+3007 ``〇``, which appears in registered names), optionally split into
  parts by ``·`` for minority names such as 阿依古丽·买买提 (no leading,
  trailing or doubled dots);
* ``LATIN`` (foreign residents, only when the caller allows it): upper-case
  A-Z and single spaces.

A name has 1 to 50 characters. The card face fits about 15 characters and the
chip's name field 30 bytes in GBK (GB 18030 for characters outside GBK);
:func:`is_long` tells callers when the name must be shrunk on the face or
continued in the chip's name-extension field. Whether the card font can draw
each character is the intake's concern (:mod:`intake.fonts`), not checked here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from sscard_core.errors import FieldError

FIELD = "name"
MIN_LENGTH = 1
MAX_LENGTH = 50
FACE_CHARACTERS = 15
CHIP_BYTES = 30
CHIP_ENCODING = "gb18030"  # a superset of GBK: same bytes for every GBK character
MIDDLE_DOT = "\u00b7"
DOT_LOOKALIKES = str.maketrans(dict.fromkeys("\u2022\u30fb\uff0e\u2027", MIDDLE_DOT))
WHITESPACE = " \u3000"  # trimmed around a name; tabs, line breaks and other controls are refused
# Unicode categories refused anywhere in a name, before any trimming: controls (a stray line
# break or tab), format characters (zero-width joiners, bidi overrides) and line/paragraph breaks.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

# CJK unified ideograph blocks (inclusive code point ranges).
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3007, 0x3007),  # 〇 IDEOGRAPHIC NUMBER ZERO
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # basic block
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2B73F),  # Extension C
    (0x2B740, 0x2B81F),  # Extension D
    (0x2B820, 0x2CEAF),  # Extension E
    (0x2CEB0, 0x2EBEF),  # Extension F
    (0x2EBF0, 0x2EE5F),  # Extension I
    (0x30000, 0x3134F),  # Extension G
    (0x31350, 0x323AF),  # Extension H
)
# The twelve unified ideographs that live in the compatibility block.
CJK_IN_COMPATIBILITY_BLOCK = frozenset(
    chr(c) for c in (0xFA0E, 0xFA0F, 0xFA11, 0xFA13, 0xFA14, 0xFA1F, 0xFA21, 0xFA23, 0xFA24,
                     0xFA27, 0xFA28, 0xFA29)
)  # fmt: skip
LATIN_NAME = re.compile(r"[A-Z]+(?: [A-Z]+)*")


class NameScript(StrEnum):
    CHINESE = "chinese"
    LATIN = "latin"


class NameProblem(StrEnum):
    """Why a name was rejected (the FieldError code)."""

    EMPTY = "name_empty"
    TOO_LONG = "name_too_long"
    CHARACTERS = "name_characters"
    MIXED_SCRIPTS = "name_mixed_scripts"
    LATIN_NOT_ALLOWED = "name_latin_not_allowed"
    DOT_POSITION = "name_dot_position"
    CONTROL = "name_control_characters"


def is_cjk(ch: str) -> bool:
    """True for a CJK unified ideograph (any extension) or 〇."""
    code = ord(ch)
    return ch in CJK_IN_COMPATIBILITY_BLOCK or any(lo <= code <= hi for lo, hi in CJK_RANGES)


def normalise(text: str) -> str:
    """NFC, trimmed, look-alike dots replaced; Latin letters upper-cased, spaces collapsed."""
    value = unicodedata.normalize("NFC", text).strip(WHITESPACE).translate(DOT_LOOKALIKES)
    value = value.replace("\u3000", " ")
    if value.isascii():
        value = " ".join(value.upper().split())
    return value


@dataclass(frozen=True)
class HolderName:
    """A validated, normalised holder name."""

    value: str
    script: NameScript

    @classmethod
    def parse(cls, text: str, *, allow_latin: bool = False) -> HolderName:
        """Normalise and validate ``text``; FieldError with a NameProblem code otherwise."""
        _check_controls(text)
        value = normalise(text)
        _check_length(value)
        script = _script_of(value)
        if script is NameScript.LATIN:
            _check_latin(value, allow_latin)
        else:
            _check_chinese(value)
        return cls(value=value, script=script)

    @property
    def is_minority(self) -> bool:
        """True for a name in parts joined by the middle dot."""
        return MIDDLE_DOT in self.value

    @property
    def is_long(self) -> bool:
        return is_long(self.value)

    def __str__(self) -> str:
        return self.value


def _check_controls(text: str) -> None:
    found = "".join(dict.fromkeys(c for c in text if unicodedata.category(c) in CONTROL_CATEGORIES))
    if found:
        shown = ", ".join(f"U+{ord(c):04X}" for c in found)
        raise FieldError(FIELD, f"contains control characters ({shown})", code=NameProblem.CONTROL)


def _check_length(value: str) -> None:
    if len(value) < MIN_LENGTH:
        raise FieldError(FIELD, "is empty", code=NameProblem.EMPTY)
    if len(value) > MAX_LENGTH:
        raise FieldError(FIELD, f"has more than {MAX_LENGTH} characters", code=NameProblem.TOO_LONG)


def _script_of(value: str) -> NameScript:
    has_cjk = any(is_cjk(ch) for ch in value)
    has_latin = any(ch.isascii() and ch.isalpha() for ch in value)
    if has_cjk and has_latin:
        raise FieldError(FIELD, "mixes Chinese and Latin letters", code=NameProblem.MIXED_SCRIPTS)
    return NameScript.LATIN if has_latin else NameScript.CHINESE


def _check_latin(value: str, allow_latin: bool) -> None:
    if not allow_latin:
        raise FieldError(
            FIELD, "Latin letters are not accepted here", code=NameProblem.LATIN_NOT_ALLOWED
        )
    if LATIN_NAME.fullmatch(value) is None:
        raise FieldError(
            FIELD, "may contain only letters A-Z and spaces", code=NameProblem.CHARACTERS
        )


def _check_chinese(value: str) -> None:
    bad = "".join(sorted({ch for ch in value if ch != MIDDLE_DOT and not is_cjk(ch)}))
    if bad:
        raise FieldError(
            FIELD, f"contains characters that are not Chinese: {bad!r}", code=NameProblem.CHARACTERS
        )
    if any(part == "" for part in value.split(MIDDLE_DOT)):
        raise FieldError(
            FIELD, "a middle dot must sit between two name parts", code=NameProblem.DOT_POSITION
        )


def chip_bytes(name: str) -> int:
    """Bytes the name takes in the chip's name field."""
    return len(name.encode(CHIP_ENCODING))


def is_long(name: str) -> bool:
    """True when the name overflows the card face (15 characters) or the chip field (30 bytes)."""
    return len(name) > FACE_CHARACTERS or chip_bytes(name) > CHIP_BYTES
