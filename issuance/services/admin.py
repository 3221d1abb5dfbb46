"""Banks, outlets and operators, as the ``sscard`` admin commands create them.

An operator's bearer token is made here (``secrets.token_urlsafe``), shown
once and stored only as its SHA-256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from issuance.domain.banks import BankStage
from issuance.domain.credentials import CredentialPolicy, new_token
from issuance.domain.identity import BeijingDistrict
from issuance.domain.roles import ALL_BANKS, Role
from issuance.services.common import now
from issuance.store import OutletRecord, Store
from issuance.store.oversight import OversightStore
from sscard_core.card_data import BEIJING_REGION
from sscard_core.errors import FieldError

BANK_CODE = re.compile(r"[A-Z0-9]{2,6}")
OUTLET_CODE = re.compile(r"[A-Za-z0-9_-]{2,32}")
OPERATOR_NAME = re.compile(r"[\w.@-]{1,64}")
BEIJING = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today in Beijing."""
    return datetime.now(BEIJING).date()


@dataclass(frozen=True)
class NewOperator:
    id: int
    name: str
    role: Role
    token: str  # shown once
    expires_at: datetime


def _match(pattern: re.Pattern[str], field: str, value: str, wanted: str) -> str:
    if not pattern.fullmatch(value):
        raise FieldError(field, f"must be {wanted}")
    return value


async def create_bank(store: Store, code: str, name: str, *, active: bool) -> str:
    """A bank; returns its initialising-institution number.

    ``active``: an existing cooperating bank registered at setup (it orders cards at once,
    and is recorded as registered so); otherwise the bank has applied (第六条(一)) and
    moves on by the bureau's decisions (:mod:`issuance.services.oversight`).
    """
    _match(BANK_CODE, "code", code, "2 to 6 upper-case letters or digits")
    if not 0 < len(name.strip()) <= 100:
        raise FieldError("name", "must be 1 to 100 characters")
    stage = BankStage.ACTIVE if active else BankStage.APPLIED
    note = "registered as an existing cooperating bank" if active else "application registered"
    async with store.transaction() as tx:
        institution = await tx.insert_bank(
            code, name.strip(), BEIJING_REGION, stage=stage.value, existing=active
        )
        o = OversightStore(tx.executor)
        await o.insert_decision(
            code, None, stage.value, decided_on=today(), decided_by=None, documents=(), note=note
        )
        await o.log(None, code, f"bank_{stage.value}", code, {"note": note, "setup": True})
        return institution


@dataclass(frozen=True)
class OutletInput:
    code: str
    bank: str
    name: str
    district: str = BeijingDistrict.DONGCHENG.value
    address: str = ""
    instant: bool = False
    psam_serial: str | None = None


async def create_outlet(store: Store, o: OutletInput) -> OutletRecord:
    """An outlet, filed (备案) today; an instant-issue outlet needs a PSAM serial."""
    _match(OUTLET_CODE, "code", o.code, "2 to 32 letters, digits, '_' or '-'")
    try:
        district = BeijingDistrict(o.district)
    except ValueError:
        raise FieldError("district", "must be a Beijing district code (1101xx)") from None
    if o.instant and not o.psam_serial:
        raise FieldError("psam_serial", "an instant-issue outlet needs its PSAM card's serial")
    record = OutletRecord(
        code=o.code, bank=o.bank, name=o.name, district=district.value, address=o.address,
        can_issue_instantly=o.instant, has_security_terminal=o.instant,
        psam_serial=o.psam_serial, open=True,
    )  # fmt: skip
    async with store.transaction() as tx:
        if not await tx.bank_exists(o.bank):
            raise FieldError("bank", f"no bank {o.bank}", code="unknown_bank")
        await tx.insert_outlet(record, now().date())
    return record


async def create_operator(
    store: Store,
    name: str,
    role: Role,
    *,
    bank: str | None = None,
    outlet: str | None = None,
    policy: CredentialPolicy | None = None,
) -> NewOperator:
    """An operator and their bearer token (returned once, stored as SHA-256, expiring
    as ``policy`` says for the role)."""
    _match(OPERATOR_NAME, "name", name, "1 to 64 letters, digits, '.', '@' or '-'")
    if role not in ALL_BANKS and bank is None:
        raise FieldError("bank", f"a {role} belongs to a bank")
    token = new_token()
    async with store.transaction() as tx:
        if bank is not None and not await tx.bank_exists(bank):
            raise FieldError("bank", f"no bank {bank}", code="unknown_bank")
        if outlet is not None:
            found = await tx.outlet(outlet)
            if found is None or found.bank != bank:
                raise FieldError("outlet", f"no outlet {outlet} at bank {bank}")
        operator_id = await tx.insert_operator(name, role, bank, outlet)
        ttl = (policy or CredentialPolicy()).ttl(role)
        issued = await tx.insert_token(operator_id, token, "issued", ttl)
    return NewOperator(operator_id, name, role, token, issued.expires_at)
