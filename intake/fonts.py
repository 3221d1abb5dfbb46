"""The card font and the question "can this text be printed?".

Design notes: ``docs/intake.md`` (section ``intake.fonts``).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont
from pylopdf_fonts_zh_cn import serif_path

MIDDLE_DOT = "\u00b7"

# Look-alikes that mean the name dot and are silently replaced by it.
DOT_NORMALISATION: dict[int, str] = {0x30FB: MIDDLE_DOT, 0x2022: MIDDLE_DOT}

# Look-alikes that are refused: they would print as something else.
REFUSED_DOTS = frozenset("\uff0e\u2027\u2219\u22c5\u0387\uff65\u16eb")

# Unicode general categories never drawn on a card (Cc, Cf, Co, Cn, Cs, Zl, Zp, Zs).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"})
ALLOWED_SPACE = " "

# What a name may hold besides letters: the dot, the space, and 〇 (U+3007, a
# letter number that appears in registered names).
NAME_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo"})
NAME_EXTRAS = frozenset({MIDDLE_DOT, ALLOWED_SPACE, "\u3007"})


def card_font_path() -> Path:
    """Path of the OpenType (CFF) file of Noto Serif SC Regular."""
    return Path(serif_path())


@cache
def card_font(size_px: int) -> ImageFont.FreeTypeFont:
    """The card font at ``size_px`` pixels (em size), loaded once per size."""
    if size_px <= 0:
        raise ValueError(f"font size must be positive, not {size_px}")
    return ImageFont.truetype(str(card_font_path()), size_px, layout_engine=ImageFont.Layout.BASIC)


@cache
def font_coverage() -> frozenset[int]:
    """Every code point the card font has a glyph for."""
    font = TTFont(str(card_font_path()), lazy=True)
    try:
        cmap: dict[int, str] = font.getBestCmap()
        return frozenset(cmap)
    finally:
        font.close()


def normalise_name(text: str) -> str:
    """NFC-normalise ``text`` and replace middle-dot look-alikes by U+00B7."""
    return unicodedata.normalize("NFC", text).translate(DOT_NORMALISATION)


def _is_refused(char: str, coverage: frozenset[int]) -> bool:
    if char == ALLOWED_SPACE:
        return ord(char) not in coverage
    if char in REFUSED_DOTS or unicodedata.category(char) in REFUSED_CATEGORIES:
        return True
    return ord(char) not in coverage


def undrawable_characters(text: str) -> str:
    """The characters of ``text`` that cannot go on a card, each once, in order.

    ``text`` is normalised first (:func:`normalise_name`), so a katakana middle
    dot is not reported; an empty result means the text can be printed.
    """
    coverage = font_coverage()
    found = [c for c in normalise_name(text) if _is_refused(c, coverage)]
    return "".join(dict.fromkeys(found))


def _is_name_character(char: str) -> bool:
    return char in NAME_EXTRAS or unicodedata.category(char) in NAME_CATEGORIES


def refused_name_characters(name: str) -> str:
    """The characters of ``name`` that cannot be printed as a name, each once, in order.

    These are the :func:`undrawable_characters` plus anything that is not a
    letter, the middle dot or a space. The name is normalised first.
    """
    undrawable = undrawable_characters(name)
    others = [c for c in normalise_name(name) if not _is_name_character(c)]
    return "".join(dict.fromkeys(undrawable + "".join(others)))
