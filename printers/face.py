"""The personalised side of the third-generation social security card.

The card stock arrives pre-printed (background, emblem, the bank's logo); the
printer adds the holder's photo and four lines of text. A face is rendered at
300 dpi, landscape, :data:`printers.panels.CARD_WIDTH` x
:data:`printers.panels.CARD_HEIGHT` dots, as two layers:

* ``colour``: an RGB picture holding the photo (white = no ink), printed with
  the Y, M and C panels;
* ``k``: a 1-bit mask holding all text and numbers, printed with the resin
  black panel, which gives sharp, scannable, fade-resistant characters where
  composite CMY black would be soft and brownish.

Geometry lives in :class:`FaceLayout` (millimetres, measured from the card's
top-left corner; a text line's ``y`` is its baseline, so labels and values of
different sizes share one line). The photo box is 20 x 25 mm; text starts at
26 mm with the label, and the value starts at ``value_x_mm``.

The font has a Regular weight only; bold is obtained by drawing each glyph
with a stroke of ``stroke_mm`` in the same ink. Text is rasterised with
anti-aliasing into a grey layer and thresholded at half coverage, which keeps
glyph shapes truer than FreeType's monochrome mode.

Long names: a name is first set at ``value_size_mm``. If it is wider than the
field (``value_x_mm`` to ``field_right_mm``) the size shrinks, down to
``min_name_size_mm``, until it fits on one line. If it still does not fit it
is wrapped onto two lines at the minimum size, preferably just after a middle
dot (``·``) near the middle of the name, otherwise after a space, otherwise
in the middle; the two lines are centred on the name's baseline. A name that
does not fit on two lines is refused. :func:`check_printable` runs the same
measurement without rendering, so a counter can refuse a name before a card
is fed.
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

from issuance.domain.card_data import CardData
from issuance.errors import FieldError, UnprintableName
from printers.fonts import (
    MIDDLE_DOT,
    card_font,
    normalise_name,
    refused_name_characters,
    undrawable_characters,
)
from printers.panels import CARD_HEIGHT, CARD_WIDTH
from printers.photo import fit_photo

DPI = 300
MM_PER_INCH = 25.4
INK_THRESHOLD = 128  # grey coverage from which a text dot is printed
WHITE = (255, 255, 255)


def mm_to_px(mm: float) -> int:
    """Millimetres on the card to dots at 300 dpi."""
    return round(mm * DPI / MM_PER_INCH)


@dataclass(frozen=True)
class FaceLayout:
    """Where things go on the personal side, in millimetres from the top-left corner."""

    photo_x_mm: float = 3.0
    photo_y_mm: float = 11.0
    photo_w_mm: float = 20.0
    photo_h_mm: float = 25.0
    label_x_mm: float = 26.0
    value_x_mm: float = 42.5
    field_right_mm: float = 83.0
    name_y_mm: float = 14.0
    citizen_id_y_mm: float = 19.0
    card_number_y_mm: float = 24.0
    issue_date_y_mm: float = 29.0
    label_size_mm: float = 2.5
    value_size_mm: float = 3.0
    min_name_size_mm: float = 2.2
    name_line_pitch_mm: float = 2.6
    stroke_mm: float = 0.085
    corner_radius_mm: float = 3.18

    @property
    def photo_box_px(self) -> tuple[int, int, int, int]:
        """Left, top, width, height of the photo box in dots."""
        return (
            mm_to_px(self.photo_x_mm),
            mm_to_px(self.photo_y_mm),
            mm_to_px(self.photo_w_mm),
            mm_to_px(self.photo_h_mm),
        )

    @property
    def stroke_px(self) -> int:
        return max(1, mm_to_px(self.stroke_mm))

    @property
    def field_width_px(self) -> int:
        return mm_to_px(self.field_right_mm) - mm_to_px(self.value_x_mm)


DEFAULT_LAYOUT = FaceLayout()


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
class NameSetting:
    """How a name is set: its font size in dots and one or two lines."""

    size_px: int
    lines: tuple[str, ...]


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


def text_width(text: str, size_px: int, stroke_px: int) -> int:
    """Width in dots of ``text`` drawn at ``size_px`` with a ``stroke_px`` stroke."""
    return round(card_font(size_px).getlength(text)) + 2 * stroke_px


def _largest_fitting_size(text: str, lay: FaceLayout) -> int | None:
    """The largest size from ``value_size_mm`` down to the minimum at which ``text`` fits."""
    largest, smallest = mm_to_px(lay.value_size_mm), mm_to_px(lay.min_name_size_mm)
    width = lay.field_width_px
    natural = text_width(text, largest, lay.stroke_px)
    size = largest if natural <= width else min(largest, largest * width // natural + 1)
    while size >= smallest:
        if text_width(text, size, lay.stroke_px) <= width:
            return size
        size -= 1
    return None


def split_name(name: str) -> tuple[str, str]:
    """Split a name in two: after the middle dot or space nearest the middle, else in the middle."""
    breaks = [i + 1 for i, c in enumerate(name[:-1]) if c in (MIDDLE_DOT, " ")]
    middle = len(name) / 2
    cut = min(breaks, key=lambda i: abs(i - middle)) if breaks else (len(name) + 1) // 2
    return name[:cut].rstrip(" "), name[cut:].lstrip(" ")


def set_name(name: str, lay: FaceLayout = DEFAULT_LAYOUT) -> NameSetting:
    """Choose size and lines for ``name``; :class:`FieldError` if it cannot fit."""
    size = _largest_fitting_size(name, lay)
    if size is not None:
        return NameSetting(size, (name,))
    smallest = mm_to_px(lay.min_name_size_mm)
    lines = split_name(name)
    if all(text_width(line, smallest, lay.stroke_px) <= lay.field_width_px for line in lines):
        return NameSetting(smallest, lines)
    raise FieldError(
        "name", f"{name!r} is too long for the card, even on two lines", code="name_too_long"
    )


def check_printable(name: str, lay: FaceLayout = DEFAULT_LAYOUT) -> str:
    """Refuse a name the card cannot show; return it as it will be printed.

    Raises :class:`UnprintableName` naming the characters the font cannot draw
    or that have no place in a name (see :mod:`printers.fonts`), and
    :class:`FieldError` for an empty name or one too long for two lines. Needs
    no photo and feeds no card.
    """
    missing = refused_name_characters(name)
    if missing:
        raise UnprintableName(name, missing)
    printed = normalise_name(name).strip()
    if not printed:
        raise FieldError("name", "the name is empty", code="name_empty")
    set_name(printed, lay)
    return printed


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
