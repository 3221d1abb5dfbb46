"""The batch manifest and the completion report PDFs."""

from __future__ import annotations

import io
import random
import re
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from pypdf import PdfReader

from issuance.tools.testdata import random_citizen_id, random_name
from printers.documents.manifest import (
    MANIFEST_LAYOUT,
    BatchHeading,
    Completion,
    ManifestEntry,
    ManifestStatus,
    PrinterRun,
    completion_pdf,
    manifest_page_count,
    manifest_pdf,
    printer_pages,
    qr_modules,
    qr_path,
)

HEADING = BatchHeading("B20261129-007", "北京农商银行朝阳支行", date(2026, 11, 29))
STATUSES = (
    ManifestStatus.ISSUED,
    ManifestStatus.ISSUED,
    ManifestStatus.ISSUED,
    ManifestStatus.FAILED,
    ManifestStatus.SPOILED,
)


def entries(count: int, seed: int = 5) -> list[ManifestEntry]:
    rng = random.Random(seed)
    return [
        ManifestEntry(f"A{i:08d}", random_name(rng), random_citizen_id(rng), STATUSES[i % 5])
        for i in range(count)
    ]


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (1, 1), (18, 1), (19, 2), (38, 2), (39, 3)])
def test_page_count_leaves_room_for_the_totals(count: int, pages: int) -> None:
    assert MANIFEST_LAYOUT.rows_per_page == 20
    assert manifest_page_count(count) == pages
    assert len(pages_text(manifest_pdf(HEADING, entries(count)))) == pages


def test_manifest_text_headers_footers_and_totals() -> None:
    cards = entries(45)
    text = pages_text(manifest_pdf(HEADING, cards))
    assert len(text) == 3
    for number, page in enumerate(text, start=1):
        assert "社会保障卡制卡清单" in page
        assert "B20261129-007" in page and "北京农商银行朝阳支行" in page and "2026-11-29" in page
        assert f"第 {number} 页 / 共 3 页" in page
    assert cards[0].holder_name in text[0] and cards[44].holder_name in text[2]
    assert cards[21].card_number in text[1]
    masked = cards[0].citizen_id[:6] + "********" + cards[0].citizen_id[-4:]
    assert masked in text[0]
    assert all(c.citizen_id not in "".join(text) for c in cards)
    assert "合计 45 张" in text[2]
    assert "已制卡 27    制卡失败 9    废卡 9    待制卡 0" in text[2]


def test_the_manifest_is_reproducible() -> None:
    cards = entries(3)
    assert manifest_pdf(HEADING, cards) == manifest_pdf(HEADING, cards)


QR_TEXTS = ["A00000001", "B20261129-007/A12345678", "card 9", "卡号 A00000001", "A" * 21]


def decoded(modules: npt.NDArray[np.bool_]) -> zxingcpp.Barcode | None:
    """What a scanner reads from the matrix, drawn 4 pixels a module with a quiet zone."""
    image = np.pad(np.where(modules, 0, 255).astype(np.uint8), 4, constant_values=255)
    scanned = image.repeat(4, axis=0).repeat(4, axis=1)
    return zxingcpp.read_barcode(scanned, formats=zxingcpp.BarcodeFormat.QRCode)


def painted(path: str) -> npt.NDArray[np.bool_]:
    """The modules a QR code's path operators paint (the top row always holds a finder)."""
    rectangles = [line.split() for line in path.splitlines()]
    assert all(op == "re" and height == "1" for *_, height, op in rectangles)
    size = max(int(y) for _, y, *_ in rectangles) + 1
    grid = np.zeros((size, size), dtype=bool)
    for x, y, width, *_ in rectangles:
        row, left, right = size - 1 - int(y), int(x), int(x) + int(width)
        assert not grid[row, left:right].any(), "rectangles overlap"
        grid[row, left:right] = True
    return grid


@pytest.mark.parametrize("text", QR_TEXTS)
def test_the_qr_code_scans_as_its_text_at_level_m_or_better(text: str) -> None:
    found = decoded(qr_modules(text))
    assert found is not None and found.valid
    assert found.text == text
    assert found.ec_level in ("M", "Q", "H")


def test_the_qr_code_is_the_smallest_version_that_holds_level_m() -> None:
    # Version 1 (21 x 21) holds 20 alphanumeric characters at level M, version 2 (25 x 25) 38.
    assert qr_modules("A" * 20).shape == (21, 21)
    assert qr_modules("A" * 21).shape == (25, 25)


def test_a_path_has_one_rectangle_per_dark_run_to_the_edges() -> None:
    modules = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 1], [1, 1, 1, 1]], dtype=bool)
    assert qr_path(modules).splitlines() == [
        "0 3 2 1 re", "3 3 1 1 re", "0 1 1 1 re", "2 1 2 1 re", "0 0 4 1 re",
    ]  # fmt: skip


@pytest.mark.parametrize("text", QR_TEXTS)
def test_the_drawn_path_paints_exactly_the_dark_modules(text: str) -> None:
    modules = qr_modules(text)
    assert (painted(qr_path(modules)) == modules).all()


def test_each_rows_qr_code_on_the_page_scans_as_its_card_number() -> None:
    cards = entries(3)
    content = PdfReader(io.BytesIO(manifest_pdf(HEADING, cards))).pages[0].get_contents()
    assert content is not None
    paths = re.findall(r"q 0 g [-\d. ]+ cm\n(.*?)\nf Q", content.get_data().decode(), re.DOTALL)
    scanned = [decoded(painted(path)) for path in paths]
    assert [code.text for code in scanned if code is not None] == [c.card_number for c in cards]


def test_printer_rates() -> None:
    run = PrinterRun("EV-01", cards=120, spoiled=2, busy=timedelta(hours=1, minutes=30))
    assert run.cards_per_hour == pytest.approx(80.0)
    assert run.seconds_per_card == pytest.approx(45.0)
    idle = PrinterRun("EV-02", cards=0, spoiled=0, busy=timedelta(0))
    assert (idle.cards_per_hour, idle.seconds_per_card) == (0.0, 0.0)


def test_completion_report() -> None:
    runs = (
        PrinterRun("EV-01", cards=120, spoiled=2, busy=timedelta(hours=1, minutes=30)),
        PrinterRun("EV-02", cards=95, spoiled=0, busy=timedelta(hours=1)),
    )
    report = Completion(HEADING, issued=215, failed=5, spoiled=2, printers=runs)
    [page] = pages_text(completion_pdf(report))
    assert "社会保障卡制卡完成报告" in page and "第 1 页 / 共 1 页" in page
    for line in ("应制卡 220 张", "已制卡 215 张", "制卡失败 5 张", "废卡 2 张", "成功率 97.7%"):
        assert line in page
    assert "EV-01" in page and "1:30:00" in page and "45.0" in page and "80" in page
    assert "EV-02" in page and "95" in page


def test_completion_report_with_many_printers_spans_pages() -> None:
    runs = tuple(PrinterRun(f"P{i:03d}", 10, 0, timedelta(minutes=10)) for i in range(100))
    pages = printer_pages(runs)
    assert sum(len(p) for p in pages) == 100
    text = pages_text(completion_pdf(Completion(HEADING, 1000, 0, 0, runs)))
    assert len(text) == len(pages) > 1
    assert "P099" in text[-1] and f"共 {len(pages)} 页" in text[-1]
