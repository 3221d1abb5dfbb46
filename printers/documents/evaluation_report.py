"""The yearly evaluation report of one cooperating bank (第九条), as an A4 PDF.

The report shows the inputs of the evaluation (cards handed over, satisfaction, 12345
complaints, the bureau's three scores), each criterion's score and weight, the weighted
total against the pass mark, the verdict, and the interviews and spot checks of the year.
Its text is set in the font of the receipt and the manifest (:mod:`printers.documents.pdffont`),
embedded as a subset of the characters the report draws.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from printers.documents.pdffont import document_font, new_canvas

TITLE = "北京市社会保障卡合作银行年度服务质量评价报告"
FOOTER = "依据《北京市社会保障卡合作银行服务管理实施细则》第九条"
CRITERIA_ZH = {
    "cards_issued": "发卡量",
    "satisfaction": "服务满意度",
    "complaints_12345": "12345 投诉数量",
    "publicity": "社会保障卡服务宣传",
    "security_rules": "安全管理制度制定",
    "technical_support": "技术保障情况",
}
HEADINGS = ("评价项目", "计量", "得分", "权重")
MARGIN = 20.0
PITCH = 7.5
ITEM_CHARS = 70


@dataclass(frozen=True)
class CriterionLine:
    criterion: str
    measured: str  # the input, as shown
    score: int
    weight: int


@dataclass(frozen=True)
class EvaluationReport:
    bank_code: str
    bank_name: str
    year: int
    evaluated_on: date
    lines: Sequence[CriterionLine]
    total: str
    pass_mark: int
    passed: bool
    interviews: Sequence[str]  # one line each: date and summary
    spot_checks: Sequence[str]


def _header(r: EvaluationReport) -> list[str]:
    return [
        f"合作银行:{r.bank_name}({r.bank_code})",
        f"评价年度:{r.year} 年",
        f"评价日期:{r.evaluated_on.isoformat()}",
    ]


def _row(line: CriterionLine) -> tuple[str, str, str, str]:
    name = CRITERIA_ZH.get(line.criterion, line.criterion)
    return name, line.measured, str(line.score), f"{line.weight}%"


def _verdict(r: EvaluationReport) -> str:
    verdict = "合格" if r.passed else "不合格(应进行约谈)"
    return f"综合得分:{r.total}    合格线:{r.pass_mark}    评价结果:{verdict}"


def report_texts(r: EvaluationReport) -> list[str]:
    """Every text the report draws: the characters its font must hold."""
    rows = [cell for line in r.lines for cell in _row(line)]
    items = [i[:ITEM_CHARS] for i in (*r.interviews, *r.spot_checks)]
    return [TITLE, FOOTER, "约谈记录", "不定期抽查", "无", *HEADINGS, *_header(r), *rows,
            _verdict(r), *items]  # fmt: skip


def _table(pdf: Canvas, font: str, r: EvaluationReport, y: float) -> float:
    columns = (MARGIN, MARGIN + 55, MARGIN + 110, MARGIN + 135)
    for x, head in zip(columns, HEADINGS, strict=True):
        pdf.drawString(x * mm, y * mm, head)
    pdf.line(MARGIN * mm, (y - 2) * mm, (A4[0] / mm - MARGIN) * mm, (y - 2) * mm)
    for line in r.lines:
        y -= PITCH
        for x, value in zip(columns, _row(line), strict=True):
            pdf.drawString(x * mm, y * mm, value)
    return y - PITCH * 1.5


def _list(pdf: Canvas, font: str, heading: str, items: Sequence[str], y: float) -> float:
    pdf.setFont(font, 12)
    pdf.drawString(MARGIN * mm, y * mm, heading)
    pdf.setFont(font, 10.5)
    for item in items or ("无",):
        y -= PITCH
        pdf.drawString((MARGIN + 4) * mm, y * mm, item[:ITEM_CHARS])
    return y - PITCH * 1.5


def evaluation_pdf(r: EvaluationReport) -> bytes:
    """The report as an A4 PDF (one page; long lists are cut at the page's foot)."""
    out = io.BytesIO()
    with document_font(report_texts(r)) as font:
        pdf = new_canvas(out, A4, font)
        pdf.setTitle(f"{TITLE} {r.bank_code} {r.year}")
        pdf.setFont(font, 15)
        pdf.drawCentredString(A4[0] / 2, 275 * mm, TITLE)
        pdf.setFont(font, 10.5)
        y = 260.0
        for text in _header(r):
            pdf.drawString(MARGIN * mm, y * mm, text)
            y -= PITCH
        y = _table(pdf, font, r, y - PITCH)
        pdf.setFont(font, 12)
        pdf.drawString(MARGIN * mm, y * mm, _verdict(r))
        y = _list(pdf, font, "约谈记录", r.interviews, y - PITCH * 2)
        _list(pdf, font, "不定期抽查", r.spot_checks, y)
        pdf.setFont(font, 9)
        pdf.drawString(MARGIN * mm, 15 * mm, FOOTER)
        pdf.showPage()
        pdf.save()
    return out.getvalue()
