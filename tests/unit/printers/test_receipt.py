"""The handover receipt PDF."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from issuance.domain.fees import WAIVERS, WITHDRAWAL_CLAUSE, FeeItem
from issuance.services.fees import FEE_ITEM_OF
from printers.documents.receipt import (
    Receipt,
    WaivedFee,
    beijing_time,
    mask_citizen_id,
    receipt_pdf,
)
from sscard_core.errors import FieldError

CITIZEN_ID = "110101198001011234"


def receipt(**changes: object) -> Receipt:
    fields: dict[str, object] = {
        "card_number": "A12345678",
        "holder_name": "阿依古丽·买买提",
        "citizen_id": CITIZEN_ID,
        "outlet_name": "北京农商银行朝阳支行营业部",
        "handed_over_at": datetime(2025, 3, 14, 10, 30),
        "clerk_id": "G0042",
    }
    fields.update(changes)
    return Receipt(**fields)  # type: ignore[arg-type]


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return receipt_pdf(receipt())


def test_the_pdf_parses_with_one_page(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1


def test_the_receipt_states_the_card_holder_and_outlet(pdf: bytes) -> None:
    text = text_of(pdf)
    for expected in (
        "社会保障卡领卡回执",
        "A12345678",
        "阿依古丽·买买提",
        "北京农商银行朝阳支行营业部",
    ):
        assert expected in text
    assert "2025-03-14 10:30" in text
    assert "G0042" in text


def test_the_citizen_id_is_masked(pdf: bytes) -> None:
    text = text_of(pdf)
    assert "110101********1234" in text
    assert CITIZEN_ID not in text
    assert CITIZEN_ID.encode() not in pdf


def test_all_six_waivers_are_listed_in_order(pdf: bytes) -> None:
    text = text_of(pdf)
    positions = [text.index(f"{n}. 免收{fee.label}") for n, fee in enumerate(WaivedFee, start=1)]
    assert positions == sorted(positions)
    assert [fee.label for fee in WaivedFee] == [
        "工本费",
        "金融账户年费",
        "小额账户管理费",
        "跨行代发手续费",
        "发卡快递费",
        "每月至少五笔跨行取现手续费",
    ]


def test_the_waivers_are_the_domain_waivers_plus_the_withdrawals() -> None:
    items = [FEE_ITEM_OF[fee] for fee in WaivedFee]
    assert items[:5] == [waiver.item for waiver in sorted(WAIVERS, key=lambda w: w.number)]
    assert items[5] is FeeItem.INTERBANK_WITHDRAWAL
    assert WITHDRAWAL_CLAUSE == 6


def test_there_are_signature_lines_for_holder_and_clerk(pdf: bytes) -> None:
    text = text_of(pdf)
    assert "持卡人签名" in text and "经办柜员签名" in text


def test_the_same_receipt_gives_the_same_bytes(pdf: bytes) -> None:
    assert receipt_pdf(receipt()) == pdf


def test_the_clerk_line_is_left_out_without_a_clerk() -> None:
    assert "柜员号" not in text_of(receipt_pdf(receipt(clerk_id="")))


@pytest.mark.parametrize(
    ("citizen_id", "masked"),
    [
        ("110101198001011234", "110101********1234"),
        ("11010119800101123X", "110101********123X"),
        ("110101800101123", "110101*****1123"),  # first-generation 15-digit number
    ],
)
def test_mask_citizen_id(citizen_id: str, masked: str) -> None:
    assert mask_citizen_id(citizen_id) == masked


def test_a_number_too_short_to_mask_is_refused() -> None:
    with pytest.raises(FieldError) as info:
        mask_citizen_id("1101011234")
    assert info.value.code == "invalid_citizen_id"


def test_times_are_shown_in_beijing_time() -> None:
    assert beijing_time(datetime(2025, 3, 14, 2, 30, tzinfo=UTC)) == "2025-03-14 10:30"
    assert beijing_time(datetime(2025, 3, 14, 18, 5, tzinfo=UTC)) == "2025-03-15 02:05"
    assert beijing_time(datetime(2025, 3, 14, 10, 30)) == "2025-03-14 10:30"
