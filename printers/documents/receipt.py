"""The handover receipt: the PDF a holder signs when they collect their card.

One A5 page: the card number, the holder's name, the citizen ID masked to
its first six and last four characters (``110101********1234``), the outlet,
the time of handover (Beijing time), the six fees the bank must waive under
第五条(五) of the cooperation rules, and signature lines for holder and clerk.

All text is set in the card's own font, Noto Serif SC, embedded as a subset
of the characters the receipt draws (:mod:`printers.documents.pdffont`): the receipt
prints the same on a machine without any Chinese font, and its text remains
extractable (searchable, and checkable in tests).

The PDF is built with ``invariant=True``: no creation timestamp or random
document ID, so the same receipt always gives the same bytes, and the PDF's
metadata carries no personal data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from printers.documents.pdffont import document_font, new_canvas
from sscard_core.errors import FieldError

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # China keeps no daylight saving
ID_KEEP_HEAD = 6
ID_KEEP_TAIL = 4
TITLE = "社会保障卡领卡回执"
WAIVER_INTRO = "依据合作银行服务要求第五条(五), 本行已免收以下费用:"
WAIVED = "免收"
SIGNATURES = ("持卡人签名", "经办柜员签名")
CLERK_NUMBER = "柜员号"


class WaivedFee(Enum):
    """The six waivers of 第五条(五), in the rule's order and wording.

    The labels quote the rule (免收金融账户年费, 每月至少免除五笔跨行取现手续费)
    rather than the shorter names of :class:`issuance.domain.fees.FeeItem`
    (:data:`issuance.services.fees.FEE_ITEM_OF` pairs them).
    """

    PRODUCTION = "工本费"
    ACCOUNT_ANNUAL = "金融账户年费"
    SMALL_ACCOUNT_MANAGEMENT = "小额账户管理费"
    INTERBANK_PAYROLL = "跨行代发手续费"
    CARD_DELIVERY = "发卡快递费"
    INTERBANK_WITHDRAWAL = "每月至少五笔跨行取现手续费"

    @property
    def label(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Receipt:
    """What a handover receipt states."""

    card_number: str
    holder_name: str
    citizen_id: str
    outlet_name: str
    handed_over_at: datetime  # naive means Beijing time
    clerk_id: str = ""


@dataclass(frozen=True)
class PageLayout:
    """Positions on the A5 page, in millimetres from the bottom-left corner."""

    margin: float = 14.0
    title_y: float = 192.0
    first_row_y: float = 176.0
    row_pitch: float = 8.0
    value_x: float = 44.0
    title_size: float = 16.0
    text_size: float = 10.5
    signature_y: float = 30.0
    signature_width: float = 50.0


LAYOUT = PageLayout()


def mask_citizen_id(citizen_id: str) -> str:
    """Keep the first six and last four characters: ``110101********1234``."""
    if len(citizen_id) <= ID_KEEP_HEAD + ID_KEEP_TAIL:
        raise FieldError("citizen_id", "too short to mask", code="invalid_citizen_id")
    hidden = len(citizen_id) - ID_KEEP_HEAD - ID_KEEP_TAIL
    return citizen_id[:ID_KEEP_HEAD] + "*" * hidden + citizen_id[-ID_KEEP_TAIL:]


def beijing_time(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM`` in Beijing time (a naive ``moment`` already is)."""
    local = moment.astimezone(BEIJING) if moment.tzinfo is not None else moment
    return local.strftime("%Y-%m-%d %H:%M")


def receipt_rows(receipt: Receipt) -> tuple[tuple[str, str], ...]:
    """The label/value rows printed at the top of the receipt."""
    return (
        ("社会保障卡号", receipt.card_number),
        ("持卡人姓名", receipt.holder_name),
        ("社会保障号码", mask_citizen_id(receipt.citizen_id)),
        ("领卡网点", receipt.outlet_name),
        ("领卡时间", beijing_time(receipt.handed_over_at)),
    )


def receipt_texts(rows: tuple[tuple[str, str], ...]) -> list[str]:
    """Every text the receipt draws: the characters its font must hold."""
    fixed = [TITLE, WAIVER_INTRO, WAIVED, CLERK_NUMBER, *SIGNATURES]
    return fixed + [fee.label for fee in WaivedFee] + [t for row in rows for t in row]


def _draw_rows(pdf: Canvas, rows: tuple[tuple[str, str], ...], lay: PageLayout) -> float:
    """Draw label/value rows from the top; return the y (mm) below the last one."""
    y = lay.first_row_y
    for label, value in rows:
        pdf.drawString(lay.margin * mm, y * mm, label)
        pdf.drawString(lay.value_x * mm, y * mm, value)
        y -= lay.row_pitch
    return y


def _draw_waivers(pdf: Canvas, top: float, lay: PageLayout) -> None:
    y = top - lay.row_pitch / 2
    pdf.drawString(lay.margin * mm, y * mm, WAIVER_INTRO)
    for number, fee in enumerate(WaivedFee, start=1):
        y -= lay.row_pitch * 0.8
        pdf.drawString((lay.margin + 4) * mm, y * mm, f"{number}. {WAIVED}{fee.label}")


def _draw_signatures(pdf: Canvas, receipt: Receipt, lay: PageLayout) -> None:
    width = A5[0] / mm
    right = width / 2 + 2
    for x, label in ((lay.margin, SIGNATURES[0]), (right, SIGNATURES[1])):
        pdf.drawString(x * mm, (lay.signature_y + 3) * mm, label)
        pdf.line(x * mm, lay.signature_y * mm, (x + lay.signature_width) * mm, lay.signature_y * mm)
    if receipt.clerk_id:
        pdf.drawString(right * mm, (lay.signature_y - 6) * mm, f"{CLERK_NUMBER} {receipt.clerk_id}")


def receipt_pdf(receipt: Receipt, lay: PageLayout = LAYOUT) -> bytes:
    """The receipt as a one-page A5 PDF."""
    rows = receipt_rows(receipt)
    out = io.BytesIO()
    with document_font(receipt_texts(rows)) as font:
        pdf = new_canvas(out, A5, font)
        pdf.setTitle(TITLE)
        pdf.setFont(font, lay.title_size)
        pdf.drawCentredString(A5[0] / 2, lay.title_y * mm, TITLE)
        pdf.setFont(font, lay.text_size)
        below = _draw_rows(pdf, rows, lay)
        _draw_waivers(pdf, below, lay)
        _draw_signatures(pdf, receipt, lay)
        pdf.showPage()
        pdf.save()
    return out.getvalue()
