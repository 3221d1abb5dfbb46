"""Which personal values an operator sees whole, and how the others are masked (第五条(七)).

An answer shows a citizen ID as the receipt does (first six and last four
characters), a phone with its first three and last four digits and an address
with its first six characters, unless :data:`DISCLOSED` grants the operator's
role the whole value for the service at hand. A read that shows any whole value
is audited with its purpose.
"""

from __future__ import annotations

from enum import StrEnum

from issuance.domain.roles import Role

ID_HEAD, ID_TAIL = 6, 4
PHONE_HEAD, PHONE_TAIL = 3, 4
ADDRESS_HEAD = 6
MASK = "*"


class Field(StrEnum):
    """A personal value that is masked unless needed."""

    CITIZEN_ID = "citizen_id"
    PHONE = "phone"
    ADDRESS = "address"


class Need(StrEnum):
    """The service at hand: why an operator reads a holder's record."""

    QUERY_STATUS = "query_status"  # 应用状态查询: who holds which card
    CHANGE_INFO = "change_info"  # 信息变更: checking the values being changed with the holder
    HOME_VISIT = "home_visit"  # 上门服务: reaching the holder's home
    IDENTITY_CHECK = "identity_check"  # a supervisor comparing the record with an ID document
    SUPERVISION = "supervision"  # the bureau's inquiry into a complaint or an irregularity


NONE: frozenset[Field] = frozenset()
CONTACT = frozenset({Field.PHONE, Field.ADDRESS})
ALL = frozenset(Field)

# (role, service at hand) -> the values shown whole. Anything not listed is masked.
DISCLOSED: dict[tuple[Role, Need], frozenset[Field]] = {
    (Role.CLERK, Need.CHANGE_INFO): CONTACT,
    (Role.CLERK, Need.HOME_VISIT): CONTACT,
    (Role.SUPERVISOR, Need.CHANGE_INFO): CONTACT,
    (Role.SUPERVISOR, Need.HOME_VISIT): CONTACT,
    (Role.SUPERVISOR, Need.IDENTITY_CHECK): ALL,
    (Role.BUREAU_AUDITOR, Need.SUPERVISION): ALL,
}


def disclosed(role: Role, need: Need) -> frozenset[Field]:
    """The values ``role`` sees whole for ``need``."""
    return DISCLOSED.get((role, need), NONE)


def mask_citizen_id(value: str) -> str:
    """``110101********1234`` (an empty value, erased by retention, stays empty)."""
    if len(value) <= ID_HEAD + ID_TAIL:
        return MASK * len(value)
    return value[:ID_HEAD] + MASK * (len(value) - ID_HEAD - ID_TAIL) + value[-ID_TAIL:]


def mask_phone(value: str) -> str:
    """``138****5678``; a number too short to keep both ends is masked whole."""
    if len(value) <= PHONE_HEAD + PHONE_TAIL:
        return MASK * len(value)
    return value[:PHONE_HEAD] + MASK * (len(value) - PHONE_HEAD - PHONE_TAIL) + value[-PHONE_TAIL:]


def mask_address(value: str) -> str:
    """The first six characters (the city and district, as a rule) and ``****``."""
    if not value:
        return ""
    return value[:ADDRESS_HEAD] + MASK * 4 if len(value) > ADDRESS_HEAD else MASK * 4


MASKS = {
    Field.CITIZEN_ID: mask_citizen_id,
    Field.PHONE: mask_phone,
    Field.ADDRESS: mask_address,
}


def shown(field: Field, value: str, whole: frozenset[Field]) -> str:
    """``value`` as the answer shows it: whole if ``field`` is in ``whole``, else masked."""
    return value if field in whole else MASKS[field](value)
