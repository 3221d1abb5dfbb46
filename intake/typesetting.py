"""How a holder's name is set on the card face, and whether it fits.

The face's geometry (:class:`FaceLayout`, millimetres from the card's top-left
corner) and the name's typesetting live here so that the intake can refuse a
name before a card is fed (:func:`check_printable`) and
:mod:`printers.documents.face` renders by the very same rules.

A name is first set at ``value_size_mm``. If it is wider than the field
(``value_x_mm`` to ``field_right_mm``) the size shrinks, down to
``min_name_size_mm``, until it fits on one line. If it still does not fit it
is wrapped onto two lines at the minimum size, preferably just after a middle
dot (``·``) near the middle of the name, otherwise after a space, otherwise in
the middle. A name that does not fit on two lines is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.fonts import MIDDLE_DOT, card_font, normalise_name, refused_name_characters
from sscard_core.errors import FieldError, UnprintableName

DPI = 300
MM_PER_INCH = 25.4


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


@dataclass(frozen=True)
class NameSetting:
    """How a name is set: its font size in dots and one or two lines."""

    size_px: int
    lines: tuple[str, ...]


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
    or that have no place in a name (see :mod:`intake.fonts`), and
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
