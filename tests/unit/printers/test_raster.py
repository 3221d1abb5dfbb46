"""Rasterising a face into Y, M, C, K, O panels and compositing panels back."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from printers.documents.face import FaceImage, composite, render_face
from printers.documents.panels import (
    CARD_HEIGHT,
    CARD_WIDTH,
    PANEL_DOTS,
    PANEL_LINES,
    CardSide,
    Panel,
)
from printers.documents.raster import (
    CHIP_WINDOW_MM,
    WindowMM,
    panel_array,
    panels_to_image,
    panels_to_png,
    quantise,
    rasterise,
)
from tests.samples import card_data

SIZE = (CARD_WIDTH, CARD_HEIGHT)


def blank_face() -> tuple[Image.Image, Image.Image]:
    return Image.new("RGB", SIZE, (255, 255, 255)), Image.new("1", SIZE, 0)


def dots(side: CardSide, panel: Panel) -> np.ndarray:
    """A panel in printer order: (lines, dots)."""
    return np.frombuffer(side.panel(panel).dots, dtype=np.uint8).reshape(PANEL_LINES, PANEL_DOTS)


@pytest.fixture(scope="module")
def face() -> FaceImage:
    data = card_data()
    rng = np.random.default_rng(3)
    photo = Image.fromarray(rng.integers(0, 256, (300, 240, 3), dtype=np.uint8))
    return render_face(data, photo)


@pytest.mark.parametrize("levels", [32, 64, 128])
def test_panels_have_the_printer_order_sizes_and_levels(face: FaceImage, levels: int) -> None:
    side = rasterise(face, colour_levels=levels)
    assert [p.panel for p in side.panels] == [Panel.Y, Panel.M, Panel.C, Panel.K, Panel.O]
    assert [p.levels for p in side.panels] == [levels, levels, levels, 2, 2]
    for panel in side.panels:
        assert len(panel.dots) == PANEL_LINES * PANEL_DOTS
        assert max(panel.dots) <= panel.levels - 1


def test_an_unsupported_level_count_is_refused(face: FaceImage) -> None:
    with pytest.raises(ValueError, match="colour_levels"):
        rasterise(face, colour_levels=256)


def test_text_lands_in_k_and_not_in_the_dyes(face: FaceImage) -> None:
    side = rasterise(face)
    k = dots(side, Panel.K)
    assert set(np.unique(k)) == {0, 1}
    assert k.sum() > 2000
    text = k == 1
    for dye in (Panel.Y, Panel.M, Panel.C):
        assert not dots(side, dye)[text].any()


def test_dyes_are_the_quantised_complement_of_the_colour_layer() -> None:
    colour, k = blank_face()
    draw = ImageDraw.Draw(colour)
    draw.rectangle((0, 0, 99, 99), fill=(0, 0, 0))  # full ink
    draw.rectangle(
        (100, 0, 199, 99), fill=(255, 128, 0)
    )  # no cyan, half magenta (127/255 of 31 = 15.4), full yellow
    side = rasterise(FaceImage(colour=colour, k=k), colour_levels=32)
    y, m, c = (panel_array(side.panel(p)) for p in (Panel.Y, Panel.M, Panel.C))
    assert (
        (y[:100, :100] == 31).all() and (m[:100, :100] == 31).all() and (c[:100, :100] == 31).all()
    )
    assert c[50, 150] == 0 and m[50, 150] == 15 and y[50, 150] == 31
    assert not y[200:, :].any()  # white card: no ink


@pytest.mark.parametrize("levels", [32, 64, 128])
def test_quantise_maps_the_ends_and_rounds(levels: int) -> None:
    ink = np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8)
    out = quantise(ink, levels)
    assert out[0] == 0 and out[-1] == levels - 1
    expected = np.round(ink.astype(float) * (levels - 1) / 255).astype(np.uint8)
    assert (np.abs(out.astype(int) - expected.astype(int)) <= 1).all()
    assert len(np.unique(quantise(np.arange(256, dtype=np.uint8), levels))) == levels


def test_a_dot_at_x_y_appears_at_line_x_dot_647_minus_y() -> None:
    """The bottom row comes first in a line, as the vendor's driver sends it."""
    colour, k = blank_face()
    k.putpixel((700, 50), 1)
    colour.putpixel((10, 600), (0, 255, 255))  # cyan only
    side = rasterise(FaceImage(colour=colour, k=k))
    k_dots = dots(side, Panel.K)
    assert k_dots[700, 647 - 50] == 1 and k_dots.sum() == 1
    c_dots = dots(side, Panel.C)
    assert c_dots[10, 647 - 600] == 31 and np.count_nonzero(c_dots) == 1
    assert not dots(side, Panel.M).any()


def test_the_overlay_covers_the_card_by_default(face: FaceImage) -> None:
    assert (dots(rasterise(face), Panel.O) == 1).all()


def test_an_overlay_window_is_left_bare(face: FaceImage) -> None:
    overlay = dots(rasterise(face, overlay_window=CHIP_WINDOW_MM), Panel.O)[:, ::-1]  # [x, y]
    # Chip contacts: x 10.25..19.87 mm, y 19.23..28.55 mm -> dots 121..235, 227..337.
    assert overlay[121:235, 227:337].sum() == 0
    assert overlay[:115, :].all() and overlay[240:, :].all()
    assert overlay[:, :220].all() and overlay[:, 345:].all()
    bare = PANEL_LINES * PANEL_DOTS - int(overlay.sum())
    assert bare == 114 * 110


def test_a_window_is_clipped_to_the_card(face: FaceImage) -> None:
    corner = WindowMM(left=80.0, top=50.0, width=20.0, height=20.0)
    overlay = dots(rasterise(face, overlay_window=corner), Panel.O)[:, ::-1]  # [x, y]
    assert overlay[-1, -1] == 0 and overlay[0, 0] == 1


def test_panels_composite_back_to_the_face(face: FaceImage) -> None:
    side = rasterise(face, colour_levels=128)
    rebuilt = np.asarray(panels_to_image(side), dtype=np.int16)
    original = np.asarray(composite(face), dtype=np.int16)
    assert rebuilt.shape == original.shape
    assert np.abs(rebuilt - original).max() <= 2  # half a level of 128


def test_panels_to_png_is_a_png_of_the_card(face: FaceImage) -> None:
    png = panels_to_png(rasterise(face))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.size == SIZE and image.mode == "RGB"


def test_a_side_without_dyes_composites_as_black_text_only(face: FaceImage) -> None:
    full = rasterise(face)
    side = CardSide(panels=(full.panel(Panel.K),))
    picture = np.asarray(panels_to_image(side))
    k = np.asarray(face.k)
    assert (picture[k] == 0).all() and (picture[~k] == 255).all()
