"""信息变更, bank change and 上门服务 (home visit).

* Information change: fields printed on the card or written to its chip
  (:data:`issuance.domain.counter_services.INFO_FIELDS`) update the record AND order a
  replacement card (reason ``data_changed``) for the person's live card; any
  other field only updates the record.
* Bank change: the operator's bank orders a new card for a person whose
  record is with another bank; the old card stays usable until the new card
  is activated, when it is cancelled (see ``cards.activate``). The holder
  record moves to the new bank at once.
* Home visit: an application taken at the holder's home; the card is made by
  the outlet's mobile kit (site ``<outlet>:mobile``) at the appointment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime

from cardqueue import Queue
from issuance.domain.cards import Action, ReplaceReason
from issuance.domain.counter_services import InfoField, change_needs_new_card
from issuance.domain.identity import CitizenId
from issuance.domain.roles import Operation
from issuance.services.cards import Application, holder_for_application
from issuance.services.common import AuditAction, Purpose, audit, check, counter_outlet
from issuance.services.ordering import (
    HolderInput,
    Order,
    mobile_placement,
    order_card,
    placement,
    validated_holder,
    validated_photo,
)
from issuance.store import CardRecord, HolderRecord, Operator, Store
from sscard_core.card_data import Gender
from sscard_core.errors import ConflictError, FieldError, NotFound


@dataclass(frozen=True)
class InfoChange:
    """New values; None leaves a field as it is."""

    name: str | None = None
    gender: Gender | None = None
    birth_date: date | None = None
    ethnicity: int | None = None
    birthplace: str | None = None
    phone: str | None = None
    address: str | None = None
    photo: bytes | None = None


@dataclass(frozen=True)
class ChangeResult:
    holder: HolderRecord
    changed: tuple[InfoField, ...]
    card: CardRecord | None  # the replacement card, when one was ordered


def _missing_holder() -> NotFound:
    return NotFound("no such holder", resource="holder")


async def scoped_holder(
    tx: Store, op: Operator, operation: Operation, cid: str, *, lock: bool = True
) -> HolderRecord:
    holder = await tx.holder_by_citizen_id(CitizenId.parse(cid).value, lock=lock)
    if holder is None:
        raise _missing_holder()
    try:
        check(op, operation, holder.bank)
    except NotFound:
        raise _missing_holder() from None
    return holder


def _merged(holder: HolderRecord, change: InfoChange) -> tuple[HolderInput, list[InfoField]]:
    current = HolderInput(
        holder.citizen_id, holder.name, holder.gender, holder.birth_date, holder.ethnicity,
        holder.birthplace, holder.phone, holder.address,
    )  # fmt: skip
    updates = {
        f.name: getattr(change, f.name)
        for f in dataclasses.fields(change)
        if f.name != "photo" and getattr(change, f.name) is not None
    }
    merged = dataclasses.replace(current, **updates)
    valid = validated_holder(merged)
    changed = [InfoField(k) for k in updates if getattr(valid, k) != getattr(current, k)]
    if change.photo is not None:
        changed.append(InfoField.PHOTO)
    return valid, changed


async def change_info(
    store: Store,
    queue: Queue,
    op: Operator,
    citizen_id: str,
    change: InfoChange,
    *,
    request_key: str | None = None,
) -> ChangeResult:
    """信息变更: update the record; a printed or chip field also orders a replacement."""
    check(op, Operation.CHANGE_INFO, None)
    async with store.transaction() as tx:
        holder = await scoped_holder(tx, op, Operation.CHANGE_INFO, citizen_id)
        data, changed = _merged(holder, change)
        updated = await tx.update_holder(
            HolderRecord(holder.id, holder.citizen_id, data.name, data.gender, data.birth_date,
                         data.ethnicity, data.birthplace, data.phone, data.address, holder.bank)
        )  # fmt: skip
        card = None
        if change_needs_new_card(changed):
            card = await _replacement(
                tx, queue, op, updated, photo=change.photo, request_key=request_key
            )
        await audit(
            tx, op, Purpose.CHANGE_INFO, holder.id, AuditAction.CHANGE,
            card=None if card is None else card.id,
        )  # fmt: skip
        return ChangeResult(updated, tuple(changed), card)


async def _replacement(
    tx: Store,
    queue: Queue,
    op: Operator,
    holder: HolderRecord,
    *,
    photo: bytes | None,
    request_key: str | None,
) -> CardRecord | None:
    cards = [c for c in await tx.cards_of_holder(holder.id) if c.status.info.live]
    if not cards:
        return None
    current = cards[-1]
    outlet = await counter_outlet(tx, op)
    photo_id = current.photo
    if photo is not None:
        photo_id = await tx.insert_photo(photo, validated_photo(photo))
    order = Order(
        holder, photo_id, outlet, placement(outlet, False), request_key, subject=current,
        action=Action.REPLACE, reason=ReplaceReason.DATA_CHANGED,
    )  # fmt: skip
    return await order_card(tx, queue, op, order)


async def change_bank(
    store: Store,
    queue: Queue,
    op: Operator,
    citizen_id: str,
    *,
    photo: bytes | None = None,
    wait: bool = False,
    request_key: str | None = None,
) -> CardRecord:
    """A new card from the operator's bank; the old card lives until the new one is activated."""
    check(op, Operation.CHANGE_BANK, op.bank)
    async with store.transaction() as tx:
        holder = await tx.holder_by_citizen_id(CitizenId.parse(citizen_id).value)
        if holder is None:
            raise _missing_holder()
        if holder.bank == op.bank:
            raise ConflictError("the person is already with this bank", code="same_bank")
        live = [c for c in await tx.cards_of_holder(holder.id) if c.status.info.live]
        if not live:
            raise ConflictError("the person has no card to move", code="no_live_card")
        outlet = await counter_outlet(tx, op)
        moved = await tx.update_holder(dataclasses.replace(holder, bank=op.bank or ""))
        photo_id = live[-1].photo
        if photo is not None:
            photo_id = await tx.insert_photo(photo, validated_photo(photo))
        order = Order(
            moved, photo_id, outlet, placement(outlet, wait), request_key, subject=live[-1],
            action=Action.REPLACE, reason=ReplaceReason.BANK_CHANGE, supersede=False,
        )  # fmt: skip
        card = await order_card(tx, queue, op, order)
        await audit(tx, op, Purpose.CHANGE_BANK, holder.id, AuditAction.CHANGE, card=card.id)
        return card


@dataclass(frozen=True)
class HomeVisit:
    application: Application
    appointment_at: datetime
    address: str


async def home_visit(
    store: Store, queue: Queue, op: Operator, visit: HomeVisit, request_key: str | None = None
) -> tuple[int, CardRecord]:
    """上门服务: an application whose card the outlet's mobile kit makes at the appointment."""
    check(op, Operation.HOME_VISIT, op.bank)
    if visit.appointment_at.tzinfo is None:
        raise FieldError("appointment_at", "must carry a time zone", code="naive_datetime")
    if not visit.address.strip():
        raise FieldError("address", "the visit needs an address")
    data = validated_holder(visit.application.holder)
    media_type = validated_photo(visit.application.photo)
    async with store.transaction() as tx:
        outlet = await counter_outlet(tx, op)
        a = await holder_for_application(tx, op, data, visit.application.photo, media_type)
        holder = a.holder
        order = Order(
            holder, a.photo, outlet, mobile_placement(outlet), request_key, new_holder=a.new
        )
        card = await order_card(tx, queue, op, order)
        visit_id = await tx.insert_home_visit(
            holder.id, card.id, outlet=outlet.code, at=visit.appointment_at,
            address=visit.address, job=card.job_id or 0, op=op.id,
        )  # fmt: skip
        await audit(tx, op, Purpose.HOME_VISIT, holder.id, AuditAction.CHANGE, card=card.id)
        return visit_id, card
