"""The yearly evaluation report of one cooperating bank (第九条), as an A4 PDF.

The report shows the inputs of the evaluation (cards handed over, satisfaction, 12345
complaints, the bureau's three scores), each criterion's score and weight, the weighted
total against the pass mark, the verdict, and the interviews and spot checks of the year.
Chinese text uses the font of the receipt and the manifest (``_register_font``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from printers.documents.receipt import _register_font

TITLE = "北京市社会保障卡合作银行年度服务质量评价报告"
CRITERIA_ZH = {
    "cards_issued": "发卡量",
    "satisfaction": "服务满意度",
    "complaints_12345": "12345 投诉数量",
    "publicity": "社会保障卡服务宣传",
    "security_rules": "安全管理制度制定",
    "technical_support": "技术保障情况",
}
MARGIN = 20.0
PITCH = 7.5


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


def _text(pdf: Canvas, x: float, y: float, value: str, size: float = 10.5) -> None:
    pdf.setFont(_register_font(), size)
    pdf.drawString(x * mm, y * mm, value)


def _table(pdf: Canvas, report: EvaluationReport, y: float) -> float:
    columns = (MARGIN, MARGIN + 55, MARGIN + 110, MARGIN + 135)
    for x, head in zip(columns, ("评价项目", "计量", "得分", "权重"), strict=True):
        _text(pdf, x, y, head)
    pdf.line(MARGIN * mm, (y - 2) * mm, (A4[0] / mm - MARGIN) * mm, (y - 2) * mm)
    for line in report.lines:
        y -= PITCH
        values = (CRITERIA_ZH.get(line.criterion, line.criterion), line.measured,
                  str(line.score), f"{line.weight}%")  # fmt: skip
        for x, value in zip(columns, values, strict=True):
            _text(pdf, x, y, value)
    return y - PITCH * 1.5


def _list(pdf: Canvas, heading: str, items: Sequence[str], y: float) -> float:
    _text(pdf, MARGIN, y, heading, 12)
    for item in items or ("无",):
        y -= PITCH
        _text(pdf, MARGIN + 4, y, item[:70])
    return y - PITCH * 1.5


def evaluation_pdf(report: EvaluationReport) -> bytes:
    """The report as an A4 PDF (one page; long lists are cut at the page's foot)."""
    out = io.BytesIO()
    pdf = Canvas(out, pagesize=A4, invariant=True)
    pdf.setTitle(f"{TITLE} {report.bank_code} {report.year}")
    width = A4[0]
    pdf.setFont(_register_font(), 15)
    pdf.drawCentredString(width / 2, 275 * mm, TITLE)
    y = 260.0
    for label, value in (
        ("合作银行", f"{report.bank_name}({report.bank_code})"),
        ("评价年度", f"{report.year} 年"),
        ("评价日期", report.evaluated_on.isoformat()),
    ):
        _text(pdf, MARGIN, y, f"{label}:{value}")
        y -= PITCH
    y = _table(pdf, report, y - PITCH)
    verdict = "合格" if report.passed else "不合格(应进行约谈)"
    _text(pdf, MARGIN, y, f"综合得分:{report.total}    合格线:{report.pass_mark}    "
          f"评价结果:{verdict}", 12)  # fmt: skip
    y = _list(pdf, "约谈记录", report.interviews, y - PITCH * 2)
    _list(pdf, "不定期抽查", report.spot_checks, y)
    _text(pdf, MARGIN, 15, "依据《北京市社会保障卡合作银行服务管理实施细则》第九条", 9)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
