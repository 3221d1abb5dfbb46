"""Masks as the receipt shows them, and the per-role table of whole values."""

from __future__ import annotations

import pytest

from issuance.domain.disclosure import (
    ALL,
    Field,
    Need,
    disclosed,
    mask_address,
    mask_citizen_id,
    mask_phone,
    shown,
)
from issuance.domain.roles import Role
from printers.documents.receipt import mask_citizen_id as receipt_mask


def test_the_citizen_id_is_masked_as_on_the_receipt() -> None:
    cid = "11010119900307123X"
    assert mask_citizen_id(cid) == "110101********123X" == receipt_mask(cid)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13912345678", "139****5678"), ("010-12345678", "010*****5678"), ("1234567", "*******"),
     ("", "")],
)  # fmt: skip
def test_phones_keep_three_and_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_addresses_keep_their_first_six_characters() -> None:
    assert mask_address("北京市东城区某街1号") == "北京市东城区****"
    assert mask_address("短地址") == "****"
    assert mask_address("") == ""


def test_only_the_table_grants_whole_values() -> None:
    assert disclosed(Role.CLERK, Need.QUERY_STATUS) == frozenset()
    assert disclosed(Role.CLERK, Need.HOME_VISIT) == {Field.PHONE, Field.ADDRESS}
    assert disclosed(Role.BUREAU_AUDITOR, Need.SUPERVISION) == ALL
    assert disclosed(Role.AGENT, Need.SUPERVISION) == frozenset()
    assert shown(Field.PHONE, "13912345678", frozenset()) == "139****5678"
    assert shown(Field.PHONE, "13912345678", ALL) == "13912345678"
