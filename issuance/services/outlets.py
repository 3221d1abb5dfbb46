"""Outlet filings (第七条 服务网点调整备案) and the 70 % rule (第五条(四)).

A bank administrator files an outlet's opening, change or closing with the fields of the
filing form; the bureau acknowledges or returns it. The outlet's live record changes only
when the filing is acknowledged; every filing is kept, so an outlet's history is the list
of its filings. Each filing carries the bank's instant-issuance share as the filing would
leave it, and is flagged when that share is below 70 %.

Outlets outside Beijing that only activate cards (第四条(二)) are registered as
activation-only: they issue no cards, take no orders and do not count in the 70 % rule,
which is about the bank's outlets in Beijing (本行本市营业网点).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from issuance.domain.banks import (
    INSTANT_RATIO,
    BankStage,
    FilingKind,
    Outlet,
    OutletState,
    instant_ratio,
)
from issuance.domain.counter_services import Service
from issuance.domain.identity import BeijingDistrict
from issuance.domain.roles import Operation
from issuance.services.admin import OUTLET_CODE, today
from issuance.services.common import check
from issuance.services.oversight import log, oversight
from issuance.store import Operator, Store
from issuance.store.oversight import FilingRow, OutletRow, OversightStore
from sscard_core.errors import ConflictError, FieldError, NotFound

CLOSED_STAGES = frozenset({BankStage.REJECTED, BankStage.EXITED})
REGION = r"[0-9]{6}"


@dataclass(frozen=True)
class OutletForm:
    """The fields of 《北京市社会保障卡合作银行服务网点调整备案表》."""

    code: str
    name: str
    district: str
    address: str
    opening_hours: str
    services: tuple[str, ...]
    instant: bool = False
    security_terminal: bool = False
    psam_serial: str | None = None
    activation_only: bool = False


@dataclass(frozen=True)
class InstantShare:
    bank: str
    instant: int
    open: int
    meets_rule: bool

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.instant, self.open) if self.open else Fraction(0)


def _validated(form: OutletForm, bank: str) -> OutletRow:
    if not OUTLET_CODE.fullmatch(form.code):
        raise FieldError("code", "must be 2 to 32 letters, digits, '_' or '-'")
    if not 0 < len(form.name.strip()) <= 100:
        raise FieldError("name", "must be 1 to 100 characters")
    if not 0 < len(form.address.strip()) <= 200:
        raise FieldError("address", "the outlet's address, 1 to 200 characters")
    if not 0 < len(form.opening_hours.strip()) <= 200:
        raise FieldError("opening_hours", "the opening hours, 1 to 200 characters")
    _district(form)
    services = _services(form.services)
    if form.activation_only and (form.instant or Service.APPLY.value in services):
        raise FieldError("activation_only", "an activation-only outlet issues no cards",
                         code="activation_only_issues")  # fmt: skip
    row = OutletRow(
        code=form.code, bank=bank, name=form.name.strip(), district=form.district,
        address=form.address.strip(), can_issue_instantly=form.instant,
        has_security_terminal=form.security_terminal, psam_serial=form.psam_serial or None,
        open=True, opening_hours=form.opening_hours.strip(), services=list(services),
        activation_only=form.activation_only,
    )  # fmt: skip
    if not row.activation_only:
        _domain(row)  # instant issuance needs a security terminal and a PSAM card (第五条(六))
    return row


def _district(form: OutletForm) -> None:
    if form.activation_only:
        if len(form.district) != 6 or not form.district.isdigit():
            raise FieldError("district", "must be a six-digit region code")
        return
    try:
        BeijingDistrict(form.district)
    except ValueError:
        raise FieldError(
            "district", "must be a Beijing district code (1101xx); an outlet elsewhere only "
            "activates cards (第四条(二))",
        ) from None  # fmt: skip


def _services(services: Iterable[str]) -> tuple[str, ...]:
    known = {s.value for s in Service}
    chosen = tuple(dict.fromkeys(services))
    unknown = [s for s in chosen if s not in known]
    if unknown or not chosen:
        raise FieldError("services", f"one or more of {', '.join(sorted(known))}")
    return chosen


def _domain(o: OutletRow) -> Outlet:
    return Outlet(
        code=o.code, bank_code=o.bank, name=o.name, district=BeijingDistrict(o.district),
        address=o.address, can_issue_instantly=o.can_issue_instantly,
        has_security_terminal=o.has_security_terminal, psam_serial=o.psam_serial,
        state=OutletState.OPEN if o.open else OutletState.CLOSED,
    )  # fmt: skip


def share_of(bank: str, outlets: Sequence[OutletRow]) -> InstantShare:
    """The bank's instant-issuance share among its open outlets in Beijing."""
    counted = [_domain(o) for o in outlets if not o.activation_only and o.open]
    ratio = instant_ratio(counted)
    instant = sum(o.can_issue_instantly for o in counted)
    return InstantShare(bank, instant, len(counted), bool(counted) and ratio >= INSTANT_RATIO)


def _after(outlets: Sequence[OutletRow], kind: FilingKind, row: OutletRow) -> list[OutletRow]:
    others = [o for o in outlets if o.code != row.code]
    if kind is FilingKind.CLOSE:
        return others
    return [*others, row]


def _closed(o: OutletRow) -> OutletRow:
    return replace(o, open=False, can_issue_instantly=False)


async def _bank_open(o: OversightStore, bank: str) -> None:
    found = await o.bank(bank)
    if found is None:
        raise NotFound(f"no bank {bank}", resource="bank")
    if BankStage(found.stage) in CLOSED_STAGES:
        raise ConflictError(f"bank {bank} is {found.stage}: it files no outlets",
                            code="bank_closed", clause="第十条")  # fmt: skip


async def file(
    store: Store, op: Operator, bank: str, kind: FilingKind, form: OutletForm | None,
    *, code: str | None = None, filed_on: date | None = None,
) -> FilingRow:  # fmt: skip
    """File an opening (``form``), a change (``form``) or a closing (``code``) of an outlet."""
    check(op, Operation.MANAGE_OUTLETS, bank)
    async with store.transaction() as tx:
        o = oversight(tx)
        await _bank_open(o, bank)
        outlet_code = form.code if form is not None else code
        if outlet_code is None:
            raise FieldError("code", "the outlet to close")
        current = await o.outlet(outlet_code)
        row = await _filed_row(kind, form, current, bank, outlet_code)
        if await o.pending_filing(outlet_code) is not None:
            raise ConflictError(f"outlet {outlet_code} has a filing awaiting the bureau",
                                code="filing_pending")  # fmt: skip
        after = share_of(bank, _after(await o.outlets_of_bank(bank), kind, row))
        below = not after.meets_rule
        filing_id = await o.insert_filing(
            row, kind.value, filed_on=filed_on or today(), filed_by=op.id,
            after=(after.instant, after.open), below=below,
        )  # fmt: skip
        await log(o, op, bank, f"filing_{kind.value}", outlet_code, filing=filing_id,
                  below_instant_share=below)  # fmt: skip
        found = await o.filing(filing_id)
        assert found is not None
        return found


async def _filed_row(
    kind: FilingKind, form: OutletForm | None, current: OutletRow | None, bank: str, code: str
) -> OutletRow:
    if kind is FilingKind.ADD:
        if form is None:
            raise FieldError("outlet", "an opening filing gives the outlet's fields")
        if current is not None:
            raise ConflictError(f"outlet {code} is already on file", code="outlet_exists")
        return _validated(form, bank)
    if current is None or current.bank != bank:
        raise NotFound(f"no outlet {code} at bank {bank}", resource="outlet")
    if not current.open:
        raise ConflictError(f"outlet {code} is closed", code="outlet_closed")
    if kind is FilingKind.CLOSE:
        return _closed(current)
    if form is None:
        raise FieldError("outlet", "a change filing gives the outlet's fields")
    return _validated(form, bank)


async def decide(
    store: Store, op: Operator, filing_id: int, *, acknowledge: bool, note: str = ""
) -> FilingRow:
    """The bureau acknowledges (the live record changes) or returns (nothing changes) a filing."""
    check(op, Operation.REVIEW_FILINGS, None)
    if len(note) > 1000:
        raise FieldError("note", "at most 1000 characters")
    if not acknowledge and not note.strip():
        raise FieldError("note", "a returned filing says why")
    async with store.transaction() as tx:
        o = oversight(tx)
        filing = await o.filing(filing_id)
        if filing is None:
            raise NotFound(f"no filing {filing_id}", resource="filing")
        if filing.status != "filed":
            raise ConflictError(f"filing {filing_id} was already {filing.status}",
                                code="filing_decided")  # fmt: skip
        row = OutletRow(**filing.outlet_as_filed)
        kind = FilingKind(filing.kind)
        outlets = await o.outlets_of_bank(filing.bank)
        after = share_of(filing.bank, _after(outlets, kind, row) if acknowledge else outlets)
        if acknowledge:
            await _apply(o, kind, row)
        status = "acknowledged" if acknowledge else "returned"
        await o.decide_filing(
            filing_id, status, operator=op.id, note=note.strip(),
            after=(after.instant, after.open), below=not after.meets_rule,
        )  # fmt: skip
        await log(o, op, filing.bank, f"filing_{status}", filing.outlet, filing=filing_id,
                  note=note.strip())  # fmt: skip
        decided = await o.filing(filing_id)
        assert decided is not None
        return decided


async def _apply(o: OversightStore, kind: FilingKind, row: OutletRow) -> None:
    if kind is FilingKind.ADD:
        await o.insert_outlet(row)
        return
    current = await o.outlet(row.code)
    if current is None or not current.open:
        raise ConflictError(f"outlet {row.code} is no longer open", code="outlet_closed")
    await o.update_outlet(row)


async def filings(
    store: Store, op: Operator, *, bank: str | None = None, outlet: str | None = None,
    status: str | None = None,
) -> list[FilingRow]:  # fmt: skip
    """Filings, newest first: a bank administrator sees only the bank's own."""
    check(op, Operation.READ_OVERSIGHT, bank)
    scope = op.bank or bank
    return await oversight(store).filings(scope, outlet, status)


async def outlets(store: Store, op: Operator, bank: str) -> list[OutletRow]:
    check(op, Operation.READ_OVERSIGHT, bank)
    return await oversight(store).outlets_of_bank(bank)


async def instant_share(store: Store, op: Operator, bank: str) -> InstantShare:
    """第五条(四): the bank's share of live outlets in Beijing that issue cards on the spot."""
    check(op, Operation.READ_OVERSIGHT, bank)
    o = oversight(store)
    if await o.bank(bank) is None:
        raise NotFound(f"no bank {bank}", resource="bank")
    return share_of(bank, await o.outlets_of_bank(bank))
