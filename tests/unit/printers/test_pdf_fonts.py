"""Every PDF embeds its font and prints its Chinese text where no Chinese font is installed.

Each document is rendered with poppler (``pdftoppm``) under a fontconfig that
knows no font at all, and the area of each Chinese word (located by
``pdftotext -bbox``) must hold ink. A control PDF set in reportlab's
non-embedded ``STSong-Light`` shows that this renderer draws nothing for a
font the PDF does not carry.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from printers.documents.manifest import (
    BatchHeading,
    Completion,
    ManifestEntry,
    ManifestStatus,
    PrinterRun,
    completion_pdf,
    manifest_pdf,
)
from printers.documents.pdffont import FONTS_KEPT, document_font, registered_fonts
from printers.documents.receipt import Receipt, receipt_pdf

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (scripts/check.sh installs it as root)"
)

DPI = 100
INK_LEVEL = 128  # a pixel darker than this is ink
MIN_INK_SHARE = 0.04  # of a word's box
CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)
HEADING = BatchHeading("B20261129-007", "北京农商银行朝阳支行", date(2026, 11, 29))
RARE_NAME = "𠂇丽"  # U+20087: outside GBK, in the card font

Word = tuple[tuple[float, float, float, float], str]


def receipt() -> bytes:
    return receipt_pdf(
        Receipt("A12345678", "阿依古丽·买买提", "110101198001011234", "北京农商银行朝阳支行营业部",
                datetime(2025, 3, 14, 10, 30), "G0042")
    )  # fmt: skip


def manifest() -> bytes:
    cards = [
        ManifestEntry("A00000001", "王小明", "110101198001011234", ManifestStatus.ISSUED),
        ManifestEntry("A00000002", RARE_NAME, "110101198001011234", ManifestStatus.SPOILED),
    ]
    return manifest_pdf(HEADING, cards)


def completion() -> bytes:
    runs = (PrinterRun("EV-01", 10, 1, timedelta(minutes=12)),)
    return completion_pdf(Completion(HEADING, issued=10, failed=1, spoiled=1, printers=runs))


def not_embedded() -> bytes:
    """The control: Chinese in reportlab's built-in CID font, which is never embedded."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = Canvas(out, initialFontName="STSong-Light")
    pdf.setFont("STSong-Light", 16)
    pdf.drawString(100, 700, "社会保障卡制卡清单")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


DOCUMENTS: dict[str, Callable[[], bytes]] = {
    "receipt": receipt, "manifest": manifest, "completion": completion,
}  # fmt: skip


@pytest.fixture(scope="module")
def no_fonts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose fontconfig finds no font at all."""
    folder = tmp_path_factory.mktemp("fontconfig")
    conf = folder / "fonts.conf"
    conf.write_text(
        f"<?xml version='1.0'?><fontconfig><dir>{folder / 'none'}</dir>"
        f"<cachedir>{folder / 'cache'}</cachedir></fontconfig>"
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(folder)}


def _run(args: list[str], env: dict[str, str]) -> bytes:
    return subprocess.run(args, env=env, check=True, capture_output=True, timeout=60).stdout


def rendered(pdf: bytes, folder: Path, env: dict[str, str]) -> tuple[Image.Image, list[Word]]:
    """Page 1 in grey at :data:`DPI`, and its words with their boxes (in points)."""
    path = folder / "doc.pdf"
    path.write_bytes(pdf)
    _run(["pdftoppm", "-r", str(DPI), "-gray", "-f", "1", "-l", "1", "-png",
          str(path), str(folder / "page")], env)  # fmt: skip
    image = Image.open(next(folder.glob("page*.png"))).convert("L")
    html = _run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"], env).decode()
    words = [((float(a), float(b), float(c), float(d)), text)
             for a, b, c, d, text in WORD.findall(html)]  # fmt: skip
    return image, words


def ink_share(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    scale = DPI / 72
    crop = image.crop(tuple(round(v * scale) for v in box))  # type: ignore[arg-type]
    dark = crop.point(lambda p: 255 if p < INK_LEVEL else 0).histogram()[255]
    return dark / max(1, crop.width * crop.height)


def chinese_words(words: list[Word]) -> list[Word]:
    return [(box, text) for box, text in words if CJK.search(text)]


def test_the_control_draws_no_chinese_without_an_embedded_font(
    tmp_path: Path, no_fonts: dict[str, str]
) -> None:
    image, words = rendered(not_embedded(), tmp_path, no_fonts)
    found = chinese_words(words)
    assert found, "pdftotext found the control's text"
    assert all(ink_share(image, box) < MIN_INK_SHARE / 4 for box, _ in found)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_chinese_word_is_drawn(name: str, tmp_path: Path, no_fonts: dict[str, str]) -> None:
    image, words = rendered(DOCUMENTS[name](), tmp_path, no_fonts)
    found = chinese_words(words)
    assert len(found) >= 3
    blank = [text for box, text in found if ink_share(image, box) < MIN_INK_SHARE]
    assert blank == []


def test_a_name_outside_gbk_is_drawn(tmp_path: Path, no_fonts: dict[str, str]) -> None:
    """U+20087 is drawn, one em left of 丽 (reportlab's ToUnicode map cannot name a character
    outside the BMP, so pdftotext does not find it: the box of 丽 locates it)."""
    image, words = rendered(manifest(), tmp_path, no_fonts)
    (x0, y0, x1, y1), *_ = [box for box, text in words if text.endswith(RARE_NAME[-1])]
    assert ink_share(image, (x0 - (x1 - x0), y0, x0, y1)) >= MIN_INK_SHARE / 4  # a sparse glyph


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_font_is_embedded(name: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(DOCUMENTS[name]())
    listing = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()[2:]
    assert listing, "the document uses a font"
    for line in listing:  # name, type..., emb, sub, uni, object, generation
        assert line.split()[-5] == "yes", line


def test_the_font_of_a_character_set_is_built_once() -> None:
    texts = ["社会保障卡", "王小明"]
    with document_font(texts) as first, document_font(list(reversed(texts))) as again:
        assert first == again


def test_fonts_in_use_are_kept_and_idle_ones_dropped_past_the_limit() -> None:
    with document_font(["在用"]) as held:
        for code in range(0x4E00, 0x4E00 + FONTS_KEPT + 8):
            with document_font([chr(code)]):
                pass
        assert pdfmetrics.getFont(held).fontName == held  # still registered while in use
        assert registered_fonts() <= FONTS_KEPT + 1
    assert registered_fonts() <= FONTS_KEPT
