"""From a rendered face to the five print panels, and back to a picture.

:func:`rasterise` turns a :class:`printers.documents.face.FaceImage` into a
:class:`printers.documents.panels.CardSide`:

* Y, M, C: the colour layer's complement (``c = 255 - r``, ``m = 255 - g``,
  ``y = 255 - b``) quantised to ``colour_levels`` with rounding, so white
  paper stays 0 (no ink) and full ink is ``levels - 1``. There is no
  under-colour removal: the K panel is resin, a binary ink meant for text and
  barcodes, and cannot reproduce the grey component of a photo, so the photo
  is printed entirely in dye (Y, M, C);
* K: the face's 1-bit text layer (1 = resin black);
* O: overlay varnish everywhere, except an optional window left bare, such as
  the chip contacts on a chip-side print (:data:`CHIP_WINDOW_MM`, from the
  ISO/IEC 7816-2 contact positions). The personal side of the sscard carries
  no chip, so the default is no window.

Every panel is the landscape image rotated 90 degrees clockwise (line ``i`` =
column ``x = i``, bottom row first) as :mod:`printers.documents.panels` requires. The
work is done by Pillow's C transposes and lookup tables: one card takes a few
milliseconds (see ``benchmarks/bench_face.py``).

:func:`panels_to_png` goes the other way: it composites a ``CardSide`` into a
picture of what the printer would lay down (dye as subtractive CMY, resin
black on top; the clear overlay is invisible), which the printer simulator
uses to show what it printed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from intake.typesetting import mm_to_px
from printers.documents.face import FaceImage
from printers.documents.panels import (
    CARD_HEIGHT,
    CARD_WIDTH,
    COLOUR_LEVELS,
    LINE_ORDER,
    PANEL_DOTS,
    PANEL_LINES,
    CardSide,
    Panel,
    PanelImage,
    to_landscape,
    to_lines,
)

U8 = npt.NDArray[np.uint8]

# Which RGB channel each dye panel is the complement of.
DYE_CHANNEL: dict[Panel, int] = {Panel.Y: 2, Panel.M: 1, Panel.C: 0}
DYE_PANELS = (Panel.Y, Panel.M, Panel.C)
BINARY_LEVELS = 2


@dataclass(frozen=True)
class WindowMM:
    """A rectangle on the landscape card, in millimetres from the top-left corner."""

    left: float
    top: float
    width: float
    height: float

    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the rectangle in a (height, width) image."""
        x0, y0 = mm_to_px(self.left), mm_to_px(self.top)
        x1, y1 = mm_to_px(self.left + self.width), mm_to_px(self.top + self.height)
        return slice(max(0, y0), min(CARD_HEIGHT, y1)), slice(max(0, x0), min(CARD_WIDTH, x1))


# The contact area of an ID-1 chip card (ISO/IEC 7816-2: contacts C1..C8 lie
# between 10.25 and 19.87 mm from the left edge and 19.23 and 28.55 mm from the top).
CHIP_WINDOW_MM = WindowMM(left=10.25, top=19.23, width=9.62, height=9.32)


def quantise(ink: U8, levels: int) -> U8:
    """Ink amounts 0..255 to 0..levels-1, rounding to nearest."""
    scaled = (ink.astype(np.uint16) * (levels - 1) + 127) // 255
    return scaled.astype(np.uint8)


@cache
def _dye_lut(levels: int) -> list[int]:
    """Pixel value (per channel, 0..255) to dye dot value: complement, then quantise."""
    ink = 255 - np.arange(256, dtype=np.uint8)
    return [int(v) for v in quantise(ink, levels)] * 3


@cache
def _overlay_dots(window: WindowMM | None) -> bytes:
    overlay = np.ones((CARD_HEIGHT, CARD_WIDTH), dtype=np.uint8)
    if window is not None:
        overlay[window.slices()] = 0
    return to_lines(overlay).tobytes()


_K_LUT = [0] + [1] * 255  # K layer as "L" (0 or 255) to dot values 0 or 1


def rasterise(
    face: FaceImage, colour_levels: int = 32, overlay_window: WindowMM | None = None
) -> CardSide:
    """The Y, M, C, K and O panels of ``face`` (``colour_levels``: 32, 64 or 128).

    Pillow transposes the layers into printer order and applies the
    complement-and-quantise table in C, so no pixel is touched in Python.
    """
    if colour_levels not in COLOUR_LEVELS:
        raise ValueError(f"colour_levels must be one of {COLOUR_LEVELS}, not {colour_levels}")
    dyes = face.colour.transpose(LINE_ORDER).point(_dye_lut(colour_levels))
    red, green, blue = dyes.split()
    k = face.k.transpose(LINE_ORDER).convert("L").point(_K_LUT)
    return CardSide(
        panels=(
            PanelImage(Panel.Y, colour_levels, blue.tobytes()),
            PanelImage(Panel.M, colour_levels, green.tobytes()),
            PanelImage(Panel.C, colour_levels, red.tobytes()),
            PanelImage(Panel.K, BINARY_LEVELS, k.tobytes()),
            PanelImage(Panel.O, BINARY_LEVELS, _overlay_dots(overlay_window)),
        )
    )


def panel_array(panel: PanelImage) -> U8:
    """A panel back as a landscape (height, width) array of dot values."""
    lines = np.frombuffer(panel.dots, dtype=np.uint8).reshape(PANEL_LINES, PANEL_DOTS)
    return to_landscape(lines)


def _dye_ink(side: CardSide) -> U8:
    """Ink amounts 0..255 per RGB channel from the dye panels present."""
    ink = np.zeros((CARD_HEIGHT, CARD_WIDTH, 3), dtype=np.uint8)
    for panel in DYE_PANELS:
        try:
            image = side.panel(panel)
        except KeyError:
            continue
        amount = panel_array(image).astype(np.uint16) * 255 // (image.levels - 1)
        ink[:, :, DYE_CHANNEL[panel]] = amount.astype(np.uint8)
    return ink


def panels_to_image(side: CardSide) -> Image.Image:
    """What ``side`` looks like printed on white card: CMY dye, then resin black."""
    rgb = 255 - _dye_ink(side)
    if any(p.panel is Panel.K for p in side.panels):
        rgb[panel_array(side.panel(Panel.K)) > 0] = 0
    return Image.fromarray(rgb)


def panels_to_png(side: CardSide) -> bytes:
    """:func:`panels_to_image` as PNG bytes."""
    out = io.BytesIO()
    panels_to_image(side).save(out, format="PNG")
    return out.getvalue()
