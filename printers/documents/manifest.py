"""Batch manifests and completion reports (PDF) for expedited small batches.

The **manifest** (制卡清单) travels with a batch's cards: one row per card
with its number, the holder's name, the citizen ID masked as on the receipt
(:func:`printers.documents.receipt.mask_citizen_id`), the card's status and a QR code
that the handover scanner reads. Every page has a header (batch, outlet,
date) and a footer ``第 X 页 / 共 Y 页``; the last page closes with the
totals per status. Rows have a fixed pitch, so the page count is known before
drawing (:func:`manifest_page_count`) and Y is printed on every page.

The **completion report** (制卡完成报告) gives the counts issued, failed and
spoiled, and for each printer the cards it made, the time it was busy, the
mean seconds per card and the cards per hour.

QR codes are encoded by zxing-cpp (its writer, libzint, in C: about a quarter
of the time reportlab's pure-Python encoder took, with the best of the eight
mask patterns chosen, where reportlab's was held to a fixed one) and drawn
straight onto the canvas as vector rectangles, one per horizontal run of dark
modules, in one filled path per code: no image is made, so 10 000 rows render
in a few seconds. The code holds the card number only (no personal data), in
the smallest version that fits at error correction level M.

All text is set in the card's Noto Serif SC, embedded as the subset of the
characters the document draws (:mod:`printers.documents.pdffont`), and PDFs are built
``invariant`` (same input, same bytes).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

import numpy as np
import numpy.typing as npt
import zxingcpp
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from printers.documents.pdffont import document_font, new_canvas
from printers.documents.receipt import mask_citizen_id

MANIFEST_TITLE = "社会保障卡制卡清单"
COMPLETION_TITLE = "社会保障卡制卡完成报告"
QR_LEVEL = "M"
QR_QUIET_MODULES = 2
SECONDS_PER_HOUR = 3600


class ManifestStatus(Enum):
    """A card's status on the manifest, with its printed label."""

    ISSUED = "已制卡"
    FAILED = "制卡失败"
    SPOILED = "废卡"
    PENDING = "待制卡"

    @property
    def label(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class BatchHeading:
    """What every page of a batch's documents is headed with."""

    batch_id: str
    outlet_name: str
    made_on: date


@dataclass(frozen=True)
class ManifestEntry:
    """One card of the batch."""

    card_number: str
    holder_name: str
    citizen_id: str
    status: ManifestStatus


@dataclass(frozen=True)
class ManifestLayout:
    """A4 portrait; millimetres from the bottom-left corner."""

    margin: float = 15.0
    header_top: float = 282.0
    table_top: float = 262.0
    row_pitch: float = 12.0
    rows_per_page: int = 20
    totals_rows: int = 2  # row slots kept free on the last page for the totals
    qr_size: float = 10.5
    footer_y: float = 10.0
    title_size: float = 14.0
    text_size: float = 9.0
    columns: tuple[tuple[str, float], ...] = (
        ("序号", 15.0),
        ("社会保障卡号", 30.0),
        ("姓名", 62.0),
        ("社会保障号码", 108.0),
        ("状态", 150.0),
        ("交接码", 172.0),
    )


MANIFEST_LAYOUT = ManifestLayout()


def qr_modules(text: str) -> npt.NDArray[np.bool_]:
    """The QR matrix of ``text``, rows top to bottom (True is a dark module)."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=QR_LEVEL)
    dark: npt.NDArray[np.bool_] = np.asarray(code.to_image(scale=1, add_quiet_zones=False)) == 0
    return dark


_RUN = "{} {} {} 1 re".format


def qr_path(modules: npt.NDArray[np.bool_]) -> str:
    """PDF path operators with one unit square per module, one rectangle per dark run.

    Coordinates are whole module units, so the operators are written as plain
    integers instead of going through reportlab's float formatting. A run
    starts where a row steps from light to dark and ends where it steps back
    (each row is padded with light modules at both ends).
    """
    count = len(modules)
    steps = np.diff(modules.astype(np.int8), axis=1, prepend=0, append=0)
    rows, starts = np.nonzero(steps == 1)  # row by row, left to right
    _, ends = np.nonzero(steps == -1)  # in the same order: a run's end follows its start
    ys = count - 1 - rows
    return "\n".join(map(_RUN, starts.tolist(), ys.tolist(), (ends - starts).tolist()))


def draw_qr(pdf: Canvas, text: str, x: float, y: float, size: float) -> None:
    """A QR code of ``text`` in the square of side ``size`` (points) at ``x``, ``y``."""
    modules = qr_modules(text)
    unit = size / (len(modules) + 2 * QR_QUIET_MODULES)
    origin_x = x + QR_QUIET_MODULES * unit
    origin_y = y + QR_QUIET_MODULES * unit
    transform = f"{unit:.4f} 0 0 {unit:.4f} {origin_x:.2f} {origin_y:.2f} cm"
    pdf.addLiteral(f"q 0 g {transform}\n{qr_path(modules)}\nf Q")


def manifest_page_count(entries: int, lay: ManifestLayout = MANIFEST_LAYOUT) -> int:
    """Pages of a manifest of ``entries`` cards, totals included."""
    slots = entries + lay.totals_rows
    return max(1, -(-slots // lay.rows_per_page))


def heading_line(heading: BatchHeading) -> str:
    """The line under a document's title: batch, outlet and date."""
    return "    ".join(
        (
            f"批次号 {heading.batch_id}",
            f"网点 {heading.outlet_name}",
            f"日期 {heading.made_on:%Y-%m-%d}",
        )
    )


def footer_text(page: int, pages: int) -> str:
    return f"第 {page} 页 / 共 {pages} 页"


def _draw_heading(
    pdf: Canvas, font: str, title: str, heading: BatchHeading, lay: ManifestLayout
) -> None:
    pdf.setFont(font, lay.title_size)
    pdf.drawCentredString(A4[0] / 2, lay.header_top * mm, title)
    pdf.setFont(font, lay.text_size)
    pdf.drawString(lay.margin * mm, (lay.header_top - 9) * mm, heading_line(heading))
    pdf.line(
        lay.margin * mm,
        (lay.header_top - 12) * mm,
        (A4[0] / mm - lay.margin) * mm,
        (lay.header_top - 12) * mm,
    )


def _draw_footer(pdf: Canvas, font: str, page: int, pages: int, lay: ManifestLayout) -> None:
    pdf.setFont(font, lay.text_size)
    pdf.drawCentredString(A4[0] / 2, lay.footer_y * mm, footer_text(page, pages))


def _draw_column_titles(pdf: Canvas, lay: ManifestLayout) -> None:
    for title, x in lay.columns:
        pdf.drawString(x * mm, lay.table_top * mm, title)


def entry_cells(number: int, entry: ManifestEntry) -> tuple[str, ...]:
    """The text cells of one manifest row."""
    return (
        str(number),
        entry.card_number,
        entry.holder_name,
        mask_citizen_id(entry.citizen_id),
        entry.status.label,
    )


def _draw_rows(
    pdf: Canvas, first: int, chunk: Sequence[ManifestEntry], lay: ManifestLayout
) -> None:
    """A page's rows: all their text in one text object, then one QR path per row."""
    text = pdf.beginText()
    for slot, entry in enumerate(chunk):
        y = (lay.table_top - lay.row_pitch * (slot + 1)) * mm
        for cell, (_, x) in zip(entry_cells(first + slot + 1, entry), lay.columns, strict=False):
            text.setTextOrigin(x * mm, y)
            text.textOut(cell)
    pdf.drawText(text)
    qr_x = lay.columns[-1][1] * mm
    for slot, entry in enumerate(chunk):
        y = lay.table_top - lay.row_pitch * (slot + 1)
        draw_qr(pdf, entry.card_number, qr_x, (y - 3.5) * mm, lay.qr_size * mm)


def totals_lines(entries: Sequence[ManifestEntry]) -> tuple[str, str]:
    """The two totals lines of a manifest."""
    counts = Counter(e.status for e in entries)
    per_status = "    ".join(f"{s.label} {counts[s]}" for s in ManifestStatus)
    return f"合计 {len(entries)} 张", per_status


def _draw_totals(
    pdf: Canvas, entries: Sequence[ManifestEntry], slot: int, lay: ManifestLayout
) -> None:
    y = lay.table_top - lay.row_pitch * (slot + 1)
    first, second = totals_lines(entries)
    pdf.drawString(lay.margin * mm, y * mm, first)
    pdf.drawString(lay.margin * mm, (y - lay.row_pitch / 2) * mm, second)


def _start_page(
    pdf: Canvas, font: str, heading: BatchHeading, page: int, pages: int, *, lay: ManifestLayout
) -> None:
    _draw_heading(pdf, font, MANIFEST_TITLE, heading, lay)
    _draw_footer(pdf, font, page, pages, lay)
    _draw_column_titles(pdf, lay)


def manifest_texts(
    heading: BatchHeading, entries: Sequence[ManifestEntry], lay: ManifestLayout
) -> list[str]:
    """Every text a manifest draws, as far as its characters go (numbers are ASCII)."""
    fixed = [MANIFEST_TITLE, heading_line(heading), footer_text(0, 0)]
    fixed += [title for title, _ in lay.columns] + [s.label for s in ManifestStatus]
    return fixed + list(totals_lines(entries)) + [e.holder_name for e in entries]


def manifest_pdf(
    heading: BatchHeading, entries: Sequence[ManifestEntry], lay: ManifestLayout = MANIFEST_LAYOUT
) -> bytes:
    """The batch manifest as an A4 PDF."""
    pages = manifest_page_count(len(entries), lay)
    out = io.BytesIO()
    with document_font(manifest_texts(heading, entries, lay)) as font:
        pdf = new_canvas(out, A4, font)
        pdf.setTitle(MANIFEST_TITLE)
        for page in range(pages):
            _start_page(pdf, font, heading, page + 1, pages, lay=lay)
            first = page * lay.rows_per_page
            chunk = entries[first : first + lay.rows_per_page]
            _draw_rows(pdf, first, chunk, lay)
            if page == pages - 1:
                _draw_totals(pdf, entries, len(chunk), lay)
            pdf.showPage()
        pdf.save()
    return out.getvalue()


@dataclass(frozen=True)
class PrinterRun:
    """One printer's share of a batch."""

    printer_id: str
    cards: int
    spoiled: int
    busy: timedelta

    @property
    def seconds_per_card(self) -> float:
        return self.busy.total_seconds() / self.cards if self.cards else 0.0

    @property
    def cards_per_hour(self) -> float:
        seconds = self.busy.total_seconds()
        return self.cards * SECONDS_PER_HOUR / seconds if seconds > 0 else 0.0


@dataclass(frozen=True)
class Completion:
    """What a batch came to."""

    heading: BatchHeading
    issued: int
    failed: int
    spoiled: int
    printers: tuple[PrinterRun, ...]

    @property
    def total(self) -> int:
        return self.issued + self.failed


def _busy_text(busy: timedelta) -> str:
    seconds = round(busy.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def completion_lines(report: Completion) -> tuple[str, ...]:
    """The count lines at the top of a completion report."""
    rate = report.issued / report.total * 100 if report.total else 0.0
    return (
        f"应制卡 {report.total} 张",
        f"已制卡 {report.issued} 张",
        f"制卡失败 {report.failed} 张",
        f"废卡 {report.spoiled} 张",
        f"成功率 {rate:.1f}%",
    )


PRINTER_COLUMNS: tuple[tuple[str, float], ...] = (
    ("打印机", 15.0),
    ("制卡数", 60.0),
    ("废卡数", 82.0),
    ("用时", 104.0),
    ("每张秒数", 130.0),
    ("每小时张数", 160.0),
)


def printer_cells(run: PrinterRun) -> tuple[str, ...]:
    """One printer's row of the completion report."""
    return (
        run.printer_id,
        str(run.cards),
        str(run.spoiled),
        _busy_text(run.busy),
        f"{run.seconds_per_card:.1f}",
        f"{run.cards_per_hour:.0f}",
    )


def _draw_table_row(pdf: Canvas, cells: Sequence[str], y: float) -> None:
    for text, (_, x) in zip(cells, PRINTER_COLUMNS, strict=True):
        pdf.drawString(x * mm, y * mm, text)


COUNT_LINES = 5  # lines of :func:`completion_lines`


def _draw_counts(pdf: Canvas, report: Completion, lay: ManifestLayout) -> float:
    """Draw the count lines; return the y (mm) of the printer table's titles."""
    y = lay.table_top
    for line in completion_lines(report):
        pdf.drawString(lay.margin * mm, y * mm, line)
        y -= lay.row_pitch / 2
    return y - lay.row_pitch / 2


def _rows_below(top: float, lay: ManifestLayout) -> int:
    """Printer rows that fit under a title row at ``top`` (mm) above the footer."""
    return max(1, int((top - lay.footer_y - 10) // (lay.row_pitch / 2)))


def printer_pages(
    runs: Sequence[PrinterRun], lay: ManifestLayout = MANIFEST_LAYOUT
) -> list[Sequence[PrinterRun]]:
    """The printers split into pages; the first page also holds the counts."""
    first_top = lay.table_top - (COUNT_LINES + 1) * lay.row_pitch / 2
    first = _rows_below(first_top, lay)
    pages: list[Sequence[PrinterRun]] = [runs[:first]]
    per_page = _rows_below(lay.table_top, lay)
    for start in range(first, len(runs), per_page):
        pages.append(runs[start : start + per_page])
    return pages


def completion_texts(report: Completion) -> list[str]:
    """Every text a completion report draws, as far as its characters go."""
    fixed = [COMPLETION_TITLE, heading_line(report.heading), footer_text(0, 0)]
    fixed += [title for title, _ in PRINTER_COLUMNS] + list(completion_lines(report))
    return fixed + [run.printer_id for run in report.printers]


def completion_pdf(report: Completion, lay: ManifestLayout = MANIFEST_LAYOUT) -> bytes:
    """The completion report as an A4 PDF."""
    out = io.BytesIO()
    with document_font(completion_texts(report)) as font:
        pdf = new_canvas(out, A4, font)
        pdf.setTitle(COMPLETION_TITLE)
        for page, runs in enumerate(printer_pages(report.printers, lay), start=1):
            _draw_completion_page(pdf, font, report, page, runs, lay=lay)
        pdf.save()
    return out.getvalue()


def _draw_completion_page(
    pdf: Canvas, font: str, report: Completion, page: int, runs: Sequence[PrinterRun],
    *, lay: ManifestLayout,
) -> None:  # fmt: skip
    pages = len(printer_pages(report.printers, lay))
    _draw_heading(pdf, font, COMPLETION_TITLE, report.heading, lay)
    _draw_footer(pdf, font, page, pages, lay)
    y = _draw_counts(pdf, report, lay) if page == 1 else lay.table_top
    _draw_table_row(pdf, [title for title, _ in PRINTER_COLUMNS], y)
    for run in runs:
        y -= lay.row_pitch / 2
        _draw_table_row(pdf, printer_cells(run), y)
    pdf.showPage()
