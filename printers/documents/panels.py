"""Print panels: what a card side becomes before it is sent to a printer.

A YMCKO ribbon prints five panels per side. Each panel is a bitmap of
``PANEL_LINES`` lines of ``PANEL_DOTS`` dots at 300 dpi, in the printer's
order, as the vendor's driver sends it: line ``i`` is column ``x = i`` of the
landscape card image (1016 dots wide, 648 high, face up), and dot ``j`` of a
line is row ``y = 647 - j``: the BOTTOM row comes first. In Pillow terms a
panel is the landscape image rotated 90 degrees clockwise
(``Image.Transpose.ROTATE_270``), read row by row; :func:`to_lines` and
:func:`to_landscape` are that mapping for numpy arrays, in one place.

A dot's value is the amount of ink: 0 prints nothing, ``levels - 1`` prints
the most. Y, M and C have 32, 64 or 128 levels; K (resin black, for text and
barcodes) and O (overlay varnish) have 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from PIL import Image

CARD_WIDTH = 1016  # dots along the card's long side at 300 dpi
CARD_HEIGHT = 648  # dots along the short side
PANEL_LINES = CARD_WIDTH
PANEL_DOTS = CARD_HEIGHT


LINE_ORDER = Image.Transpose.ROTATE_270  # landscape image -> printer lines (90 degrees clockwise)

U8 = npt.NDArray[np.uint8]


def to_lines(landscape: U8) -> U8:
    """A (648, 1016) landscape array as (1016, 648) printer lines, bottom row first."""
    return np.ascontiguousarray(np.rot90(landscape, k=-1))


def to_landscape(lines: U8) -> U8:
    """The inverse of :func:`to_lines`."""
    return np.ascontiguousarray(np.rot90(lines, k=1))


class Panel(StrEnum):
    Y = "y"
    M = "m"
    C = "c"
    K = "k"
    O = "o"  # noqa: E741


COLOUR_LEVELS = (32, 64, 128)
MONO_LEVELS = (2,)


@dataclass(frozen=True)
class PanelImage:
    """One panel: ``PANEL_LINES * PANEL_DOTS`` dot values, one byte each."""

    panel: Panel
    levels: int
    dots: bytes

    def __post_init__(self) -> None:
        allowed = MONO_LEVELS if self.panel in (Panel.K, Panel.O) else COLOUR_LEVELS
        if self.levels not in allowed:
            raise ValueError(f"panel {self.panel} cannot have {self.levels} levels")
        if len(self.dots) != PANEL_LINES * PANEL_DOTS:
            raise ValueError(f"panel {self.panel} has {len(self.dots)} dots")


@dataclass(frozen=True)
class CardSide:
    """The panels of one side, in printing order (Y, M, C, K, O)."""

    panels: tuple[PanelImage, ...]

    def panel(self, which: Panel) -> PanelImage:
        for p in self.panels:
            if p.panel is which:
                return p
        raise KeyError(which)
