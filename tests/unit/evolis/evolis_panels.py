"""Panels for the Evolis tests, drawn as rectangles on the landscape card."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from printers.documents.panels import CARD_HEIGHT, CARD_WIDTH, CardSide, Panel, PanelImage, to_lines


@dataclass(frozen=True)
class Rect:
    """Columns x0..x1 and rows y0..y1 of the landscape card (ends exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int


def landscape_to_panel(panel: Panel, levels: int, landscape: npt.NDArray[np.uint8]) -> PanelImage:
    """A landscape array (rows = y, columns = x) as a panel in printer order (line = x)."""
    assert landscape.shape == (CARD_HEIGHT, CARD_WIDTH)
    return PanelImage(panel, levels, to_lines(landscape).tobytes())


def filled(panel: Panel, levels: int, rects: list[Rect], value: int | None = None) -> PanelImage:
    ink = levels - 1 if value is None else value
    image = np.zeros((CARD_HEIGHT, CARD_WIDTH), dtype=np.uint8)
    for r in rects:
        image[r.y0 : r.y1, r.x0 : r.x1] = ink
    return landscape_to_panel(panel, levels, image)


def blank_side(levels: int = 128) -> CardSide:
    colour = tuple(filled(p, levels, []) for p in (Panel.Y, Panel.M, Panel.C))
    return CardSide((*colour, filled(Panel.K, 2, []), filled(Panel.O, 2, [])))


def random_side(seed: int, levels: int = 128) -> CardSide:
    rng = np.random.default_rng(seed)
    size = CARD_WIDTH * CARD_HEIGHT

    def dots(n: int) -> bytes:
        return rng.integers(0, n, size, dtype=np.uint8).tobytes()

    colour = tuple(PanelImage(p, levels, dots(levels)) for p in (Panel.Y, Panel.M, Panel.C))
    mono = tuple(PanelImage(p, 2, dots(2)) for p in (Panel.K, Panel.O))
    return CardSide(colour + mono)
