"""The card face: golden image, printable names, long names, layers.

The golden image is ``golden/face.png``. After an intended change of the face,
regenerate it with ``SSCARD_UPDATE_GOLDEN=1 pytest tests/unit/printers/test_face.py``
and look at the new file before keeping it.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from intake.fonts import (
    MIDDLE_DOT,
    font_coverage,
    normalise_name,
    refused_name_characters,
    undrawable_characters,
)
from intake.typesetting import DEFAULT_LAYOUT, check_printable, mm_to_px, set_name, split_name
from printers.documents.face import FaceImage, composite, preview_png, render_face, year_month
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH
from sscard_core.card_data import CardData, Gender
from sscard_core.errors import FieldError, UnprintableName
from tests.samples import card_data

GOLDEN = Path(__file__).parent / "golden" / "face.png"
TOLERANCE = 1.0  # mean absolute difference over the card, per channel, 0..255
TILE = 32  # side of the square tiles compared on their own
TILE_TOLERANCE = 16.0  # mean absolute difference over any one tile
RARE = "\U0002000b"  # 𠀋, CJK Extension B
LONG_NAME = "阿卜杜热合曼·买买提艾力·吐尔逊托合提·阿不都热西提"

Grey = npt.NDArray[np.float64]


def card(name: str = "阿依古丽·买买提") -> CardData:
    return card_data(name=name, gender=Gender.FEMALE, ethnicity=5)


def synthetic_photo() -> Image.Image:
    """A 358 x 441 portrait: a blue-to-orange gradient with a dark oval 'head'."""
    ys, xs = np.mgrid[0:441, 0:358]
    rgb = np.stack([xs * 255 // 357, 120 + ys * 100 // 440, 255 - xs * 200 // 357], axis=-1)
    head = ((xs - 179) / 90.0) ** 2 + ((ys - 180) / 120.0) ** 2 <= 1.0
    rgb[head] = (90, 60, 40)
    return Image.fromarray(rgb.astype(np.uint8))


def as_rgb(png: bytes) -> Grey:
    """A preview PNG flattened onto white, as floats."""
    image = Image.open(io.BytesIO(png))
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return np.asarray(flat, dtype=np.float64)


def differences(a: bytes, b: bytes) -> tuple[float, float]:
    """Mean absolute difference over the card, and the largest over one tile.

    A changed character is a small part of the card but most of a tile; a
    rasteriser update that moves glyph edges changes every tile a little.
    """
    diff = np.abs(as_rgb(a) - as_rgb(b)).mean(axis=-1)
    rows, cols = diff.shape[0] // TILE, diff.shape[1] // TILE
    tiles = diff[: rows * TILE, : cols * TILE].reshape(rows, TILE, cols, TILE).mean(axis=(1, 3))
    return float(diff.mean()), float(tiles.max())


@pytest.fixture(scope="module")
def face() -> FaceImage:
    return render_face(card(), synthetic_photo())


def test_face_matches_the_golden_image(face: FaceImage) -> None:
    png = preview_png(face)
    if os.environ.get("SSCARD_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(png)
    overall, worst_tile = differences(png, GOLDEN.read_bytes())
    assert overall <= TOLERANCE
    assert worst_tile <= TILE_TOLERANCE


def test_the_golden_comparison_sees_one_changed_digit(face: FaceImage) -> None:
    other = render_face(dataclasses.replace(card(), card_number="A12345679"), synthetic_photo())
    overall, worst_tile = differences(preview_png(other), preview_png(face))
    assert 0 < overall <= TOLERANCE
    assert worst_tile > TILE_TOLERANCE


def test_preview_has_rounded_transparent_corners(face: FaceImage) -> None:
    image = Image.open(io.BytesIO(preview_png(face)))
    assert image.size == (CARD_WIDTH, CARD_HEIGHT)
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert image.getpixel((CARD_WIDTH - 1, CARD_HEIGHT - 1))[3] == 0  # type: ignore[index]
    assert image.getpixel((CARD_WIDTH // 2, 0))[3] == 255  # type: ignore[index]


def test_layers_have_the_card_size_and_modes(face: FaceImage) -> None:
    assert face.colour.mode == "RGB" and face.colour.size == (CARD_WIDTH, CARD_HEIGHT)
    assert face.k.mode == "1" and face.k.size == (CARD_WIDTH, CARD_HEIGHT)


def test_text_is_only_in_the_k_layer(face: FaceImage) -> None:
    colour = np.asarray(face.colour)
    left, top, width, height = DEFAULT_LAYOUT.photo_box_px
    outside = np.ones(colour.shape[:2], dtype=bool)
    outside[top : top + height, left : left + width] = False
    assert (colour[outside] == 255).all()
    k = np.asarray(face.k)
    text_x = mm_to_px(DEFAULT_LAYOUT.label_x_mm)
    assert k[:, text_x:].sum() > 2000
    assert not k[:, : left + width].any()


def test_the_photo_fills_its_box(face: FaceImage) -> None:
    left, top, width, height = DEFAULT_LAYOUT.photo_box_px
    assert (width, height) == (236, 295)
    box = np.asarray(face.colour)[top : top + height, left : left + width]
    assert (box != 255).any(axis=-1).mean() > 0.95
    centre = box[height * 180 // 441, width // 2]
    assert tuple(int(v) for v in centre) == pytest.approx((90, 60, 40), abs=8)


def test_face_image_refuses_wrong_layers() -> None:
    rgb = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT))
    with pytest.raises(ValueError, match="K layer"):
        FaceImage(colour=rgb, k=Image.new("L", (CARD_WIDTH, CARD_HEIGHT)))
    with pytest.raises(ValueError, match="colour layer"):
        FaceImage(colour=Image.new("RGB", (10, 10)), k=Image.new("1", (CARD_WIDTH, CARD_HEIGHT)))


def test_issue_date_shows_year_and_month() -> None:
    assert year_month(date(2025, 3, 14)) == "2025年03月"


def test_the_rare_character_is_really_missing_from_the_font() -> None:
    assert ord(RARE) not in font_coverage()
    assert ord("张") in font_coverage()


def test_an_unprintable_character_is_named() -> None:
    with pytest.raises(UnprintableName) as info:
        check_printable(f"张{RARE}明")
    assert info.value.characters == RARE
    assert info.value.to_dict()["characters"] == RARE


def test_render_refuses_an_unprintable_name() -> None:
    with pytest.raises(UnprintableName):
        render_face(card(f"王{RARE}"), synthetic_photo())


def test_each_undrawable_character_is_reported_once_in_order() -> None:
    assert undrawable_characters(f"{RARE}张\x07{RARE}\u3000") == f"{RARE}\x07\u3000"
    assert undrawable_characters("Zhang San") == ""


@pytest.mark.parametrize("lookalike", ["\u30fb", "\u2022"])
def test_middle_dot_lookalikes_are_normalised(lookalike: str) -> None:
    assert check_printable(f"阿依古丽{lookalike}买买提") == f"阿依古丽{MIDDLE_DOT}买买提"


@pytest.mark.parametrize("refused", ["\uff0e", "\u2027", "\u22c5", "\uff65"])
def test_other_dot_lookalikes_are_refused(refused: str) -> None:
    with pytest.raises(UnprintableName) as info:
        check_printable(f"阿依古丽{refused}买买提")
    assert info.value.characters == refused


def test_names_hold_letters_dots_and_spaces_only() -> None:
    assert refused_name_characters("JOHN SMITH") == ""
    assert refused_name_characters("李〇") == ""
    assert refused_name_characters("张三1🄀") == "1🄀"
    assert normalise_name("e\u0301") == "\u00e9"


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_name_is_refused(blank: str) -> None:
    with pytest.raises(FieldError) as info:
        check_printable(blank)
    assert info.value.code == "name_empty"


def test_spaces_around_a_name_are_dropped() -> None:
    assert check_printable(" JOHN SMITH ") == "JOHN SMITH"


def test_a_number_the_font_cannot_draw_is_refused() -> None:
    bad = dataclasses.replace(card(), card_number=f"A1234567{RARE}")
    with pytest.raises(FieldError) as info:
        render_face(bad, synthetic_photo())
    assert info.value.code == "unprintable_character"
    assert info.value.fields["field"] == "card_number"


def test_a_name_too_long_for_two_lines_is_refused() -> None:
    with pytest.raises(FieldError) as info:
        check_printable("阿" * 60)
    assert info.value.code == "name_too_long"


def test_a_short_name_is_set_at_full_size_on_one_line() -> None:
    setting = set_name("张三")
    assert setting == type(setting)(mm_to_px(DEFAULT_LAYOUT.value_size_mm), ("张三",))


def test_a_longer_name_shrinks_before_wrapping() -> None:
    name = "阿卜杜热合曼·买买提艾力·吐尔逊"
    setting = set_name(name)
    assert setting.lines == (name,)
    assert mm_to_px(DEFAULT_LAYOUT.min_name_size_mm) <= setting.size_px
    assert setting.size_px < mm_to_px(DEFAULT_LAYOUT.value_size_mm)


def test_a_very_long_name_wraps_after_a_middle_dot() -> None:
    setting = set_name(LONG_NAME)
    assert setting.size_px == mm_to_px(DEFAULT_LAYOUT.min_name_size_mm)
    assert setting.lines == ("阿卜杜热合曼·买买提艾力·", "吐尔逊托合提·阿不都热西提")


def test_split_name_without_a_dot_cuts_in_the_middle() -> None:
    assert split_name("一二三四五") == ("一二三", "四五")
    assert split_name("JEAN PIERRE DUPONT") == ("JEAN PIERRE", "DUPONT")


def _ink_rows(face: FaceImage) -> list[int]:
    """Rows of the name field (value column) that carry ink, around the name line."""
    k = np.asarray(face.k)
    x0 = mm_to_px(DEFAULT_LAYOUT.value_x_mm)
    top, bottom = mm_to_px(9), mm_to_px(16.5)
    return [int(y) for y in np.flatnonzero(k[top:bottom, x0:].any(axis=1)) + top]


def test_a_wrapped_name_renders_on_two_lines() -> None:
    wrapped = render_face(card(LONG_NAME), synthetic_photo())
    rows = _ink_rows(wrapped)
    gaps = [b - a for a, b in itertools.pairwise(rows) if b - a > 1]
    assert len(gaps) == 1  # two bands of ink, one gap between them
    single = _ink_rows(render_face(card("张三"), synthetic_photo()))
    assert max(rows) - min(rows) > max(single) - min(single)


def test_a_wrapped_name_stays_inside_the_field() -> None:
    wrapped = render_face(card(LONG_NAME), synthetic_photo())
    k = np.asarray(wrapped.k)
    right = mm_to_px(DEFAULT_LAYOUT.field_right_mm)
    assert not k[:, right:].any()


def test_composite_puts_text_in_black(face: FaceImage) -> None:
    picture = np.asarray(composite(face))
    k = np.asarray(face.k)
    assert (picture[k] == 0).all()
