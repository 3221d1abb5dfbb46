"""The font every PDF sets its text in: the card face's Noto Serif SC, embedded as a subset.

reportlab embeds TrueType fonts only (``glyf`` outlines); Noto Serif SC ships
with CFF outlines. So the glyphs a document needs are converted here, with
fontTools: each cubic outline becomes quadratic contours (``cu2qu``), and a
small TrueType font is built from the document's glyphs alone and registered
with reportlab, which then embeds it (a subset again: only what is drawn).
``pdffonts`` lists it ``emb yes``, and a reader without any Chinese font draws
every character.

What is done once per process: the source font is opened (its tables are read
lazily), and each glyph is converted and compiled the first time a document
uses it, and kept. Per document, only the font of its own characters is
assembled from the kept glyphs, which takes a few milliseconds; the last
:data:`FONTS_KEPT` character sets keep their built font, so a receipt or a
manifest drawn again reuses it.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as OpenTypeFont
from fontTools.ttLib import newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from intake.fonts import card_font_path

FAMILY = "SSCardSerifSC"
NOTDEF = ".notdef"
# How far a quadratic contour may stray from the cubic it replaces, in font units (of 1000).
MAX_ERROR_UNITS = 1.0
# Printable ASCII is always in: numbers, card numbers and masks never miss a glyph.
ALWAYS = frozenset(chr(c) for c in range(0x20, 0x7F))
FONTS_KEPT = 32


@dataclass(frozen=True)
class _Converted:
    """One glyph with TrueType outlines, compiled once: its bytes in ``glyf`` and its metrics."""

    data: bytes
    advance: int
    x_min: int
    points: int
    contours: int


def _converted(glyph: Glyph, advance: int) -> _Converted:
    glyph.recalcBounds(None)
    contours = glyph.numberOfContours
    points = len(glyph.coordinates) if contours > 0 else 0
    x_min = getattr(glyph, "xMin", 0)
    return _Converted(glyph.compile(None, recalcBBoxes=False), advance, x_min, points, contours)


class _Source:
    """The card font, opened once; its glyphs converted to TrueType outlines on first use."""

    def __init__(self) -> None:
        self.font = OpenTypeFont(str(card_font_path()), lazy=True)
        self.cmap: dict[int, str] = self.font.getBestCmap()
        self.glyphs = self.font.getGlyphSet()
        self.metrics = self.font["hmtx"].metrics
        self.units_per_em: int = self.font["head"].unitsPerEm
        self.ascent: int = self.font["hhea"].ascent
        self.descent: int = self.font["hhea"].descent
        head = self.font["head"]
        self.bbox = (head.xMin, head.yMin, head.xMax, head.yMax)
        self.converted: dict[str, _Converted] = {}
        self.lock = threading.Lock()

    def glyph_name(self, char: str) -> str | None:
        return self.cmap.get(ord(char))

    def convert(self, name: str) -> _Converted:
        found = self.converted.get(name)
        if found is None:
            pen = TTGlyphPen(None)
            self.glyphs[name].draw(Cu2QuPen(pen, MAX_ERROR_UNITS, reverse_direction=True))
            found = self.converted[name] = _converted(pen.glyph(), self.metrics[name][0])
        return found


@cache
def _source() -> _Source:
    return _Source()


def _build(source: _Source, chars: frozenset[str], ps_name: str) -> bytes:
    """A TrueType font of ``chars`` (those the card font has) and .notdef.

    Glyphs go in as the bytes compiled when they were converted; bounding boxes are
    not recomputed (the font's box is the card font's, the ``maxp`` figures the
    largest of these glyphs'), so a font of a few hundred glyphs is built in about a
    millisecond.
    """
    cmap = {ord(c): n for c in sorted(chars) if (n := source.glyph_name(c)) is not None}
    order = [NOTDEF, *sorted(set(cmap.values()) - {NOTDEF})]
    with source.lock:
        converted = {name: source.convert(name) for name in order}
    builder = FontBuilder(source.units_per_em, isTTF=True)
    builder.font.recalcBBoxes = False
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(cmap)
    glyf = builder.font["glyf"] = newTable("glyf")
    builder.font["loca"] = newTable("loca")
    glyf.glyphs = {name: Glyph(c.data) for name, c in converted.items()}
    glyf.glyphOrder = order
    builder.setupHorizontalMetrics({name: (c.advance, c.x_min) for name, c in converted.items()})
    builder.setupHorizontalHeader(ascent=source.ascent, descent=source.descent)
    builder.setupNameTable({"familyName": FAMILY, "styleName": "Regular", "psName": ps_name})
    builder.setupOS2(sTypoAscender=source.ascent, sTypoDescender=source.descent, fsType=0,
                     usWinAscent=source.ascent, usWinDescent=-source.descent)  # fmt: skip
    builder.setupPost()
    _set_bounds(builder, source.bbox, converted.values())
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _set_bounds(
    builder: FontBuilder, bbox: tuple[int, int, int, int], glyphs: Iterable[_Converted]
) -> None:
    head = builder.font["head"]
    head.xMin, head.yMin, head.xMax, head.yMax = bbox
    maxp = builder.font["maxp"]
    kept = list(glyphs)
    maxp.maxPoints = max(c.points for c in kept)
    maxp.maxContours = max(c.contours for c in kept)


class _Registry:
    """The fonts built for recent character sets, registered with reportlab by name.

    A font stays registered while a document that uses it is being drawn (``in_use``);
    past :data:`FONTS_KEPT`, the least recently used font that no document holds is
    dropped.
    """

    def __init__(self) -> None:
        self.names: OrderedDict[frozenset[str], str] = OrderedDict()
        self.in_use: Counter[str] = Counter()
        self.lock = threading.Lock()

    def take(self, chars: frozenset[str]) -> str:
        with self.lock:
            name = self.names.get(chars)
            if name is not None:
                self.names.move_to_end(chars)
                self.in_use[name] += 1
                return name
        digest = hashlib.sha256("".join(sorted(chars)).encode()).hexdigest()[:16]
        name = f"{FAMILY}-{digest}"
        data = _build(_source(), chars, name)
        font = TTFont(name, io.BytesIO(data))
        with self.lock:
            pdfmetrics.registerFont(font)
            self.names[chars] = name
            self.in_use[name] += 1
            self._prune()
        return name

    def release(self, name: str) -> None:
        with self.lock:
            self.in_use[name] -= 1
            if self.in_use[name] <= 0:
                del self.in_use[name]
            self._prune()

    def _prune(self) -> None:
        idle = [chars for chars, name in self.names.items() if name not in self.in_use]
        for chars in idle[: max(0, len(self.names) - FONTS_KEPT)]:
            # reportlab has no public unregister; its registry is a plain dict by name.
            vars(pdfmetrics)["_fonts"].pop(self.names.pop(chars), None)


_REGISTRY = _Registry()


@contextmanager
def document_font(texts: Iterable[str]) -> Iterator[str]:
    """The name of a registered font that draws every character of ``texts`` (and ASCII),
    registered until the block ends: draw and save the document inside it."""
    chars = set(ALWAYS)
    for text in texts:
        chars.update(text)
    name = _REGISTRY.take(frozenset(chars))
    try:
        yield name
    finally:
        _REGISTRY.release(name)


def new_canvas(out: io.BytesIO, pagesize: tuple[float, float], font: str) -> Canvas:
    """A canvas set in ``font`` from the start (no standard font is ever named in the PDF),
    built ``invariant``: no timestamp or random ID, so the same input gives the same bytes."""
    return Canvas(out, pagesize=pagesize, invariant=True, initialFontName=font)  # type: ignore[arg-type]  # reportlab's stub types it as a number


def registered_fonts() -> int:
    """How many of this module's fonts reportlab holds now."""
    with _REGISTRY.lock:
        return len(_REGISTRY.names)


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` that the card font has no glyph for, each once."""
    source = _source()
    return "".join(dict.fromkeys(c for c in text if source.glyph_name(c) is None))
