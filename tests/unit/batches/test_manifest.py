"""The batch manifest and the completion report PDFs."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

import pytest
import qrcode
from pypdf import PdfReader

from issuance.domain.identity import random_citizen_id
from issuance.domain.names import random_name
from printers.manifest import (
    MANIFEST_LAYOUT,
    BatchHeading,
    CardStatus,
    Completion,
    ManifestEntry,
    PrinterRun,
    completion_pdf,
    manifest_page_count,
    manifest_pdf,
    printer_pages,
    qr_modules,
)

HEADING = BatchHeading("B20261129-007", "北京农商银行朝阳支行", date(2026, 11, 29))
STATUSES = (
    CardStatus.ISSUED,
    CardStatus.ISSUED,
    CardStatus.ISSUED,
    CardStatus.FAILED,
    CardStatus.SPOILED,
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


@pytest.mark.parametrize("text", ["A00000001", "B20261129-007/A12345678", "card 9"])
def test_qr_matrix_is_a_standard_qr_code(text: str) -> None:
    ours = qr_modules(text)
    version = (len(ours) - 17) // 4
    reference = qrcode.QRCode(
        version=version,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=0,
        mask_pattern=0,
    )
    reference.add_data(text, optimize=0)
    reference.make(fit=False)
    assert [list(row) for row in ours] == [[int(m) for m in row] for row in reference.get_matrix()]


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
