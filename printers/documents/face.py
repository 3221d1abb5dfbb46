"""The personalised side of the third-generation social security card.

The card stock arrives pre-printed (background, emblem, the bank's logo); the
printer adds the holder's photo and four lines of text. A face is rendered at
300 dpi, landscape, :data:`printers.documents.panels.CARD_WIDTH` x
:data:`printers.documents.panels.CARD_HEIGHT` dots, as two layers:

* ``colour``: an RGB picture holding the photo (white = no ink), printed with
  the Y, M and C panels;
* ``k``: a 1-bit mask holding all text and numbers, printed with the resin
  black panel, which gives sharp, scannable, fade-resistant characters where
  composite CMY black would be soft and brownish.

Geometry lives in :class:`~intake.typesetting.FaceLayout` (millimetres, measured
from the card's top-left corner; a text line's ``y`` is its baseline, so labels
and values of different sizes share one line). The photo box is 20 x 25 mm; text starts at
26 mm with the label, and the value starts at ``value_x_mm``.

The font has a Regular weight only; bold is obtained by drawing each glyph
with a stroke of ``stroke_mm`` in the same ink. Text is rasterised with
anti-aliasing into a grey layer and thresholded at half coverage, which keeps
glyph shapes truer than FreeType's monochrome mode.

Long names are set as :mod:`intake.typesetting` decides (the same rules with
which the intake refuses a name before a card is fed); the geometry
(:class:`~intake.typesetting.FaceLayout`) lives there too.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from intake.fonts import card_font, normalise_name, undrawable_characters
from intake.photo import fit_photo
from intake.typesetting import (
    DEFAULT_LAYOUT,
    FaceLayout,
    NameSetting,
    check_printable,
    mm_to_px,
    set_name,
)
from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH
from sscard_core.card_data import CardData
from sscard_core.errors import FieldError

INK_THRESHOLD = 128  # grey coverage from which a text dot is printed
WHITE = (255, 255, 255)


class Field(Enum):
    """The text lines of the face, top to bottom."""

    NAME = "姓名"
    CITIZEN_ID = "社会保障号码"
    CARD_NUMBER = "社会保障卡号"
    ISSUE_DATE = "发卡日期"

    @property
    def label(self) -> str:
        return str(self.value)


def year_month(day: date) -> str:
    """A date as the card shows it: ``YYYY年MM月``."""
    return f"{day.year:04d}年{day.month:02d}月"


VALUE_OF: dict[Field, Callable[[CardData], str]] = {
    Field.NAME: lambda d: normalise_name(d.name),
    Field.CITIZEN_ID: lambda d: d.citizen_id,
    Field.CARD_NUMBER: lambda d: d.card_number,
    Field.ISSUE_DATE: lambda d: year_month(d.issue_date),
}

BASELINE_OF: dict[Field, Callable[[FaceLayout], float]] = {
    Field.NAME: lambda lay: lay.name_y_mm,
    Field.CITIZEN_ID: lambda lay: lay.citizen_id_y_mm,
    Field.CARD_NUMBER: lambda lay: lay.card_number_y_mm,
    Field.ISSUE_DATE: lambda lay: lay.issue_date_y_mm,
}


@dataclass(frozen=True)
class FaceImage:
    """A rendered face: ``colour`` (RGB, white = no ink) and ``k`` (mode "1", set = resin black)."""

    colour: Image.Image
    k: Image.Image

    def __post_init__(self) -> None:
        size = (CARD_WIDTH, CARD_HEIGHT)
        if self.colour.mode != "RGB" or self.colour.size != size:
            raise ValueError(
                f"colour layer must be RGB {size}, not {self.colour.mode} {self.colour.size}"
            )
        if self.k.mode != "1" or self.k.size != size:
            raise ValueError(f"K layer must be mode 1 {size}, not {self.k.mode} {self.k.size}")


def _draw_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size_px: int, stroke: int
) -> None:
    draw.text(
        (round(xy[0]), round(xy[1])),
        text,
        fill=255,
        font=card_font(size_px),
        anchor="ls",
        stroke_width=stroke,
        stroke_fill=255,
    )


def _name_baselines(setting: NameSetting, lay: FaceLayout) -> list[float]:
    centre = mm_to_px(lay.name_y_mm)
    if len(setting.lines) == 1:
        return [centre]
    half = mm_to_px(lay.name_line_pitch_mm) / 2
    return [centre - half, centre + half]


@cache
def _label_layer(lay: FaceLayout) -> Image.Image:
    """The labels, which are the same on every card, rendered once per layout."""
    grey = Image.new("L", (CARD_WIDTH, CARD_HEIGHT), 0)
    draw = ImageDraw.Draw(grey)
    label_px, label_x = mm_to_px(lay.label_size_mm), mm_to_px(lay.label_x_mm)
    for field in Field:
        baseline = mm_to_px(BASELINE_OF[field](lay))
        _draw_text(draw, (label_x, baseline), field.label, label_px, lay.stroke_px)
    return grey


def _draw_values(draw: ImageDraw.ImageDraw, data: CardData, lay: FaceLayout) -> None:
    value_px, value_x = mm_to_px(lay.value_size_mm), mm_to_px(lay.value_x_mm)
    for field in Field:
        if field is not Field.NAME:
            baseline = mm_to_px(BASELINE_OF[field](lay))
            _draw_text(draw, (value_x, baseline), VALUE_OF[field](data), value_px, lay.stroke_px)


def _draw_name(draw: ImageDraw.ImageDraw, name: str, lay: FaceLayout) -> None:
    setting = set_name(name, lay)
    value_x = mm_to_px(lay.value_x_mm)
    for line, baseline in zip(setting.lines, _name_baselines(setting, lay), strict=True):
        _draw_text(draw, (value_x, baseline), line, setting.size_px, lay.stroke_px)


def check_values(data: CardData) -> None:
    """Refuse a card whose numbers or date hold a character the font cannot draw."""
    for field in Field:
        if field is Field.NAME:
            continue
        missing = undrawable_characters(VALUE_OF[field](data))
        if missing:
            raise FieldError(
                field.name.lower(),
                f"the card font cannot draw {missing!r}",
                code="unprintable_character",
            )


def _text_layer(data: CardData, lay: FaceLayout) -> Image.Image:
    name = check_printable(data.name, lay)
    check_values(data)
    grey = _label_layer(lay).copy()
    draw = ImageDraw.Draw(grey)
    _draw_values(draw, data, lay)
    _draw_name(draw, name, lay)
    mask = np.asarray(grey) >= INK_THRESHOLD
    return Image.fromarray(mask)  # a bool array becomes a mode "1" image


def _colour_layer(photo: Image.Image, lay: FaceLayout) -> Image.Image:
    colour = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), WHITE)
    left, top, width, height = lay.photo_box_px
    rgb = photo if photo.mode == "RGB" else photo.convert("RGB")
    colour.paste(fit_photo(rgb, (width, height)), (left, top))
    return colour


def render_face(data: CardData, photo: Image.Image, lay: FaceLayout = DEFAULT_LAYOUT) -> FaceImage:
    """Render the personal side of ``data`` with ``photo`` (any size; it is cropped to 4:5).

    Raises :class:`UnprintableName` or :class:`FieldError` as :func:`check_printable`,
    and :class:`FieldError` from :func:`check_values`.
    """
    k = _text_layer(data, lay)
    return FaceImage(colour=_colour_layer(photo, lay), k=k)


def _rounded_card_mask(radius_px: int) -> Image.Image:
    mask = Image.new("L", (CARD_WIDTH, CARD_HEIGHT), 0)
    box = (0, 0, CARD_WIDTH - 1, CARD_HEIGHT - 1)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius=radius_px, fill=255)
    return mask


def composite(face: FaceImage) -> Image.Image:
    """Both layers as one RGB picture: the colour layer with the K text in black."""
    picture = face.colour.copy()
    picture.paste((0, 0, 0), mask=face.k)
    return picture


def preview_png(face: FaceImage, lay: FaceLayout = DEFAULT_LAYOUT) -> bytes:
    """A PNG of the card as printed: white card, rounded corners, transparent outside."""
    card = composite(face).convert("RGBA")
    card.putalpha(_rounded_card_mask(mm_to_px(lay.corner_radius_mm)))
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=False)
    return out.getvalue()
