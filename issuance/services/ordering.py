"""Ordering a card: validated holder data and photo → holder record, card, events, job.

A new card takes its number and identifier from one value of the card-number
sequence (:mod:`issuance.domain.numbers`), is inserted ``requested``, moves to
``in_production`` when its production job is enqueued on the same connection,
and supersedes the person's older live cards (one card per person): the card
the service is about gets the service's own action (补卡 REISSUE, 换卡
REPLACE), any other live card SUPERSEDE. A bank change keeps the old card
(:attr:`Order.supersede` False): it is cancelled when the new one is
activated.

Where the card is made: at the counter's own printer (site = outlet code,
priority INSTANT) when the outlet issues instantly and the holder waits;
otherwise at the bank's central production line (site ``central:<BANK>``,
STANDARD: each bank's line is its own site, so a central agent only ever
claims its own bank's cards). A home visit sends it to the outlet's mobile
kit (site ``<outlet>:mobile``, EXPEDITED).

The job's idempotency key is derived from the request's Idempotency-Key, so a
retried request can never make a second card even if its first response was
lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from cardqueue import NewJob, Queue
from intake.photo import PhotoFormat, PhotoLimits
from intake.screening import printed_name, screen_photo
from issuance.domain import lifecycle
from issuance.domain.cards import REASON_ALLOWED, Action, Card, CardStatus, ReplaceReason
from issuance.domain.identity import CitizenId, cross_check
from issuance.domain.lifecycle import cards_to_supersede
from issuance.domain.names import HolderName
from issuance.domain.numbers import BEIJING_IDENTIFIERS, card_number
from issuance.services.common import now, production_events, transition
from issuance.services.oversight import ensure_may_order
from issuance.store import CardRecord, HolderRecord, Operator, OutletRecord, Store
from issuance.store.records import AuditEntry, NewCard
from sscard_core.card_data import BEIJING_REGION, CardData, Gender, card_data_to_json
from sscard_core.errors import FieldError, PhotoError, UnprintableName
from sscard_core.messages import Capability, Priority

CARD_TYPE = "3"  # 卡类别 of a third-generation social security card
VALIDITY_YEARS = 10
CENTRAL_PREFIX = "central:"
MOBILE_SUFFIX = ":mobile"
CARD_JOB = "card"
PHOTO_FIELD = "photo"
MEDIA_TYPES: dict[PhotoFormat, str] = {PhotoFormat.JPEG: "image/jpeg", PhotoFormat.PNG: "image/png"}


@dataclass(frozen=True)
class HolderInput:
    """A holder's data as typed at the counter."""

    citizen_id: str
    name: str
    gender: Gender
    birth_date: date
    ethnicity: int
    birthplace: str
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class Placement:
    """Where and how urgently a card job runs."""

    site: str
    priority: Priority


@dataclass(frozen=True)
class Order:
    """One card to make for ``holder``."""

    holder: HolderRecord
    photo: int
    outlet: OutletRecord
    placement: Placement
    request_key: str | None
    subject: CardRecord | None = None  # the card the service is about (reissued/replaced)
    action: Action = Action.SUPERSEDE  # what happens to ``subject``
    reason: ReplaceReason | None = None
    supersede: bool = True  # False for a bank change: the old card lives until activation
    new_holder: bool = False  # the holder was inserted by this transaction: no card is theirs
    audit: AuditEntry | None = None  # the order's audit row, written with the card


def validated_holder(data: HolderInput) -> HolderInput:
    """Normalised holder data; FieldError on the first bad field."""
    cid = CitizenId.parse(data.citizen_id)
    name = HolderName.parse(data.name).value
    try:
        printed_name(name)
    except UnprintableName as exc:
        raise FieldError("name", exc.message, code=exc.code) from exc
    cross_check(cid, data.birth_date, data.gender)
    if not 1 <= data.ethnicity <= 56:
        raise FieldError("ethnicity", "must be a GB 3304 code from 1 to 56")
    if not (len(data.birthplace) == 6 and data.birthplace.isascii() and data.birthplace.isdigit()):
        raise FieldError("birthplace", "must be a six-digit region code")
    return dataclasses.replace(data, citizen_id=cid.value, name=name)


def validated_photo(data: bytes) -> str:
    """The photo's media type; FieldError on ``photo`` if it is not a usable JPEG or PNG."""
    try:
        return MEDIA_TYPES[screen_photo(data, PhotoLimits())]
    except PhotoError as exc:
        reason = exc.fields.get("reason", "unusable")
        raise FieldError(PHOTO_FIELD, f"{reason}: {exc.message}", code=exc.code) from exc


def central_site(bank: str) -> str:
    """The site of ``bank``'s central production line."""
    return CENTRAL_PREFIX + bank


def placement(outlet: OutletRecord, wait: bool) -> Placement:
    if wait and outlet.can_issue_instantly:
        return Placement(outlet.code, Priority.INSTANT)
    return Placement(central_site(outlet.bank), Priority.STANDARD)


def mobile_placement(outlet: OutletRecord) -> Placement:
    return Placement(outlet.code + MOBILE_SUFFIX, Priority.EXPEDITED)


def holder_record(data: HolderInput, bank: str, holder_id: int = 0) -> HolderRecord:
    return HolderRecord(
        id=holder_id, citizen_id=data.citizen_id, name=data.name, gender=data.gender,
        birth_date=data.birth_date, ethnicity=data.ethnicity, birthplace=data.birthplace,
        phone=data.phone, address=data.address, bank=bank,
    )  # fmt: skip


def _expiry(issued: date) -> date:
    try:
        return issued.replace(year=issued.year + VALIDITY_YEARS)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + VALIDITY_YEARS, day=28)


class Person(Protocol):
    """What a card says of its holder (a holder record, or a batch row)."""

    @property
    def citizen_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def gender(self) -> Gender: ...
    @property
    def ethnicity(self) -> int: ...
    @property
    def birthplace(self) -> str: ...
    @property
    def birth_date(self) -> date: ...


@dataclass(frozen=True)
class Issue:
    """Who issues a card, where and when."""

    bank: str
    institution: str | None
    outlet: str | None
    issued: date


def new_card(
    sequence: int, person: Person, issue: Issue, *, holder: int, photo: int,
    replaces: int | None = None,
) -> NewCard:  # fmt: skip
    """The card numbered from ``sequence``: its record and what goes on its face and chip."""
    data = CardData(
        card_number=card_number(sequence), card_identifier=BEIJING_IDENTIFIERS.make(sequence),
        card_type=CARD_TYPE, issuing_institution=issue.institution or BEIJING_REGION.ljust(12, "0"),
        issue_date=issue.issued, expiry_date=_expiry(issue.issued), citizen_id=person.citizen_id,
        name=person.name, gender=person.gender, ethnicity=person.ethnicity,
        birthplace=person.birthplace, birth_date=person.birth_date,
    )  # fmt: skip
    return NewCard(
        card_number=data.card_number, card_identifier=data.card_identifier, holder=holder,
        bank=issue.bank, issue_date=data.issue_date, expiry_date=data.expiry_date,
        card_data=card_data_to_json(data), photo=photo, ordered_at_outlet=issue.outlet,
        replaces=replaces,
    )  # fmt: skip


def _new_card(order: Order, sequence: int, institution: str | None) -> NewCard:
    h = order.holder
    issue = Issue(h.bank, institution, order.outlet.code, now().date())
    replaces = None if order.subject is None else order.subject.id
    return new_card(sequence, h, issue, holder=h.id, photo=order.photo, replaces=replaces)


async def _retire_old_cards(tx: Store, op: Operator, order: Order) -> list[int]:
    """Apply the service's action to its card and SUPERSEDE to other live cards; their ids.

    A card of this person still being made blocks the order (``card_pending``).
    """
    if order.subject is not None:
        lifecycle.apply(order.subject.status, order.action)  # the service's own state check first
    elif order.new_holder:
        return []
    cards = await tx.cards_of_holder(order.holder.id)
    domain = [Card(str(c.id), order.holder.citizen_id, c.bank, c.status) for c in cards]
    live = {int(c.card_id) for c in cards_to_supersede(domain)}
    if not order.supersede:
        return []
    retired: list[int] = []
    if order.subject is not None:
        reason = order.reason if order.action in REASON_ALLOWED else None
        await transition(tx, order.subject, order.action, op, reason=reason)
        retired.append(order.subject.id)
    for card in cards:
        if card.id in live and card.id not in retired:
            await transition(tx, card, Action.SUPERSEDE, op)
            retired.append(card.id)
    return retired


def job_key(op: Operator, request_key: str | None, kind: str) -> str:
    """The job's idempotency key: derived from the operator and request key, else unique.

    The request key is hashed so that any accepted key (up to 200 characters)
    gives a job key within the queue's limit.
    """
    if request_key is None:
        return f"{kind}:{uuid.uuid4().hex}"
    digest = hashlib.sha256(request_key.encode()).hexdigest()
    return f"{kind}:{op.id}:{digest}"


async def order_card(tx: Store, queue: Queue, op: Operator, order: Order) -> CardRecord:
    """Retire older cards, enqueue the job, insert the card in production with its first
    events: all on ``tx``'s connection (the card's id is drawn ahead for the job). Only an
    active bank orders cards (:func:`issuance.services.oversight.ensure_may_order`)."""
    await ensure_may_order(tx, order.holder.bank, order.outlet)
    retired = await _retire_old_cards(tx, op, order)
    sequence, card_id, institution = await tx.draw_card(order.holder.bank)
    new = _new_card(order, sequence, institution)
    job = NewJob(
        idempotency_key=job_key(op, order.request_key, CARD_JOB), kind=CARD_JOB,
        site=order.placement.site, capability=Capability.PRINT_ENCODE,
        priority=order.placement.priority,
        payload={"card_id": card_id, "card": new.card_data, "outlet": order.outlet.code},
    )  # fmt: skip
    (result,) = await queue.enqueue_many([job], conn=tx.connection)
    events = production_events(card_id, new.holder, new.bank, op)
    await tx.insert_card_with_events(
        card_id, new, result.job_id, CardStatus.IN_PRODUCTION, events, audit=order.audit
    )
    for old in retired:
        await tx.set_superseded_by(old, card_id)
    return _record(card_id, new, result.job_id)


def _record(card_id: int, new: NewCard, job_id: int) -> CardRecord:
    """The card just inserted, as the store would read it back."""
    return CardRecord(
        id=card_id, card_number=new.card_number, card_identifier=new.card_identifier,
        holder=new.holder, bank=new.bank, status=CardStatus.IN_PRODUCTION,
        issue_date=new.issue_date, expiry_date=new.expiry_date, card_data=new.card_data,
        photo=new.photo, ordered_at_outlet=new.ordered_at_outlet, activated_at_outlet=None,
        job_id=job_id, replaces=new.replaces, superseded_by=None,
    )  # fmt: skip
