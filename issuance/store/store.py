"""The counter service's one repository: every statement is a named query in ``queries.sql``.

A :class:`Store` runs on a pool or on one connection. ``async with
store.transaction() as tx`` gives a store bound to one connection inside a
transaction; calling ``transaction()`` on a bound store opens a savepoint, so
a service that opens its own transaction still commits together with the
caller's (the API wraps a service and its idempotency record in one
transaction). Reads that precede a change lock their rows (``FOR UPDATE``), so
two counters acting on one card are serialised by the database.

Rows come back as the frozen dataclasses of :mod:`issuance.store.records`;
constraint violations become sscard errors here, at the boundary.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from issuance.domain.cards import CardStatus
from issuance.domain.roles import Role
from issuance.store.records import (
    AuditEntry,
    AuditFilter,
    AuditRow,
    BatchCounts,
    BatchEntryRecord,
    BatchRecord,
    CardJobRead,
    CardRecord,
    Credentials,
    EventRecord,
    HolderRecord,
    IssuedToken,
    NewBatch,
    NewCard,
    Operator,
    OutletRecord,
    PrinterRecord,
    PrintRecord,
    PrintSettled,
    PsamMove,
    PsamRecord,
    ReconciliationRecord,
    StockRequestRecord,
    StoredResponse,
    TerminalRecord,
)
from issuance.vault import Vault, is_sealed
from sscard_core.card_data import Gender
from sscard_core.connect import CONNECTION_ERRORS, database_errors
from sscard_core.errors import ConflictError
from sscard_core.messages import JobState, JobStep
from sscard_core.queries import load_queries

Q = load_queries("issuance.store")
SIMPLE = load_queries("issuance.store", "simple.sql")
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Executor = asyncpg.Pool | Conn

PHOTO_COLUMNS = ("id", "image", "media_type", "upload")
HOLDER_FIELDS = ("name", "gender", "birth_date", "ethnicity", "birthplace", "phone", "address")


def _int_literal(value: int) -> str:
    return str(int(value))


def _bytes_literal(value: bytes) -> str:
    """A bytea constant of hex digits only: no quote or backslash of the value occurs in it."""
    return f"E'\\\\x{value.hex()}'::bytea"


def _text_literal(value: str) -> str:
    """A text constant with every character escaped (\\xHH or \\UXXXXXXXX): nothing of
    the value can end it. A constant, unlike a function of one, matches an index."""
    escaped = (f"\\x{o:02x}" if o < 0x80 else f"\\U{o:08x}" for o in map(ord, value))
    return "E'" + "".join(escaped) + "'"


def _event_columns(events: Sequence[EventRecord]) -> tuple[list[Any], ...]:
    return (
        [e.action for e in events], [e.from_status for e in events],
        [e.to_status for e in events], [e.operator for e in events],
        [e.outlet for e in events], [e.at for e in events], [e.reason for e in events],
        [e.note for e in events],
    )  # fmt: skip


def token_digest(token: str) -> bytes:
    """The SHA-256 of a bearer token: the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).digest()


def _print(row: asyncpg.Record) -> PrintRecord:
    return PrintRecord(
        row["job_id"], row["attempt"], row["card_number"], row["worker"], row["announced_at"]
    )


# Context labels: a sealed value opens only in the column it was sealed for.
HOLDER_CONTEXT = b"holders.sealed"
ADDRESS_CONTEXT = b"holders.sealed_address"
CARD_DATA_CONTEXT = b"cards.card_data"
PHOTO_CONTEXT = b"holder_photos.image"
ANSWER_CONTEXT = b"idempotency.body"
VISIT_CONTEXT = b"home_visits.address"
TOTP_CONTEXT = b"operators.totp_secret"
SEALED_TEXT = "sealed:"


def person(vault: Vault, row: asyncpg.Record) -> tuple[str, str, str]:
    """(citizen ID, name, phone) of a holder row: sealed, legacy plain, or erased (empty)."""
    sealed = row["sealed"]
    if sealed is not None:
        c, n, p = vault.open_json(bytes(sealed), HOLDER_CONTEXT)
        return str(c), str(n), str(p)
    return row["citizen_id"] or "", row["name"] or "", row["phone"] or ""


def seal_person(vault: Vault, citizen_id: str, name: str, phone: str) -> bytes:
    return vault.seal_json([citizen_id, name, phone], HOLDER_CONTEXT)


def seal_address(vault: Vault, address: str) -> bytes:
    return vault.seal(address.encode(), ADDRESS_CONTEXT)


def _holder(vault: Vault, row: asyncpg.Record) -> HolderRecord:
    citizen_id, name, phone = person(vault, row)
    sealed_address = row["sealed_address"]
    address = (
        row["address"] or ""
        if sealed_address is None
        else vault.open(bytes(sealed_address), ADDRESS_CONTEXT).decode()
    )
    return HolderRecord(
        id=row["id"], citizen_id=citizen_id, name=name,
        gender=Gender(row["gender"]), birth_date=row["birth_date"], ethnicity=row["ethnicity"],
        birthplace=row["birthplace"], phone=phone, address=address,
        bank=row["bank"],
    )  # fmt: skip


def open_bytes(vault: Vault, value: bytes, context: bytes) -> bytes:
    """A bytea value that may be sealed (or written before 0007, plain)."""
    return vault.open(value, context) if is_sealed(value) else value


def seal_in_text(vault: Vault, value: str, context: bytes) -> str:
    """``sealed:<base64 sealed value>``, for a text column."""
    return SEALED_TEXT + base64.b64encode(vault.seal(value.encode(), context)).decode()


def open_in_text(vault: Vault, text: str, context: bytes) -> str:
    """The value :func:`seal_in_text` stored (a value written before sealing is plain)."""
    if not text.startswith(SEALED_TEXT):
        return text
    return vault.open(base64.b64decode(text[len(SEALED_TEXT) :]), context).decode()


def seal_visit_address(vault: Vault, address: str) -> str:
    return seal_in_text(vault, address, VISIT_CONTEXT)


def open_visit_address(vault: Vault, text: str) -> str:
    """A home visit's address as :func:`seal_visit_address` stored it (or, before 0007, plain)."""
    return open_in_text(vault, text, VISIT_CONTEXT)


def _card(vault: Vault, row: asyncpg.Record) -> CardRecord:
    return CardRecord(
        id=row["id"], card_number=row["card_number"], card_identifier=row["card_identifier"],
        holder=row["holder"], bank=row["bank"], status=CardStatus(row["status"]),
        issue_date=row["issue_date"], expiry_date=row["expiry_date"],
        card_data=vault.open_text(row["card_data"], CARD_DATA_CONTEXT), photo=row["photo"],
        ordered_at_outlet=row["ordered_at_outlet"],
        activated_at_outlet=row["activated_at_outlet"], job_id=row["job_id"],
        replaces=row["replaces"], superseded_by=row["superseded_by"],
    )  # fmt: skip


def _required(row: asyncpg.Record | None) -> asyncpg.Record:
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def _audit_row(r: asyncpg.Record) -> AuditRow:
    keys = r.keys()
    return AuditRow(
        id=r["id"], at=r["at"], operator=r["operator"], bank=r["bank"], outlet=r["outlet"],
        purpose=r["purpose"], holder=r["holder"], card=r["card"], action=r["action"],
        detail=r["detail"], prev_hash=bytes(r["prev_hash"]), hash=bytes(r["hash"]),
        operator_name=r["operator_name"] if "operator_name" in keys else "",
        card_number=r["card_number"] if "card_number" in keys else None,
    )  # fmt: skip


def _outlet(row: asyncpg.Record) -> OutletRecord:
    return OutletRecord(**dict(row))


class Store:
    """Named queries over a pool, or over one connection inside a transaction."""

    def __init__(self, executor: Executor, vault: Vault) -> None:
        self._db = executor
        self._vault = vault

    @property
    def vault(self) -> Vault:
        return self._vault

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """A store bound to one connection in a transaction.

        Inside a transaction already (a service called by the API's idempotency
        wrapper) it joins that transaction rather than open a savepoint: nothing
        recovers from a failed part of a request, so a savepoint would only cost
        two round trips.
        """
        with database_errors():
            if isinstance(self._db, asyncpg.Pool):
                async with self._db.acquire() as conn, conn.transaction():
                    yield Store(conn, self._vault)
            elif self._db.is_in_transaction():
                yield self
            else:
                async with self._db.transaction():
                    yield self

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[Store]:
        """A store bound to one pooled connection, without a transaction (reads, and
        single-statement writes that commit on their own)."""
        with database_errors():
            if isinstance(self._db, asyncpg.Pool):
                async with self._db.acquire() as conn:
                    yield Store(conn, self._vault)
            else:
                yield self

    @property
    def in_transaction(self) -> bool:
        """True when the store is bound to a connection inside a transaction."""
        return not isinstance(self._db, asyncpg.Pool) and self._db.is_in_transaction()

    @property
    def bound(self) -> Conn | None:
        """The bound connection, or None when the store runs each query on the pool."""
        return None if isinstance(self._db, asyncpg.Pool) else self._db

    @property
    def executor(self) -> Executor:
        """The pool or the bound connection the store runs on (for the other repositories)."""
        return self._db

    @property
    def connection(self) -> Conn:
        """The bound connection (for the queue's ``conn`` parameters)."""
        if isinstance(self._db, asyncpg.Pool):
            raise RuntimeError("the store is not bound to a transaction")
        return self._db

    # --- banks, outlets, operators ------------------------------------------------------

    async def insert_bank(
        self, code: str, name: str, region: str, *, stage: str, existing: bool
    ) -> str:
        """Insert a bank in lifecycle ``stage``; returns its institution number (``region``
        and a serial). ``existing``: registered as an already cooperating bank."""
        institution = await self._db.fetchval(Q["insert_bank"], code, name, region, stage, existing)
        if institution is None:
            raise ConflictError(f"bank {code} exists", code="bank_exists", bank=code)
        return str(institution)

    async def bank_exists(self, code: str) -> bool:
        return await self._db.fetchrow(Q["get_bank"], code) is not None

    async def institution_code(self, bank: str) -> str | None:
        row = await self._db.fetchrow(Q["get_bank"], bank)
        return None if row is None else str(row["institution_code"])

    async def insert_outlet(self, outlet: OutletRecord, filed_on: date) -> None:
        o = outlet
        created = await self._db.fetchval(
            Q["insert_outlet"], o.code, o.bank, o.name, o.district, o.address,
            o.can_issue_instantly, o.has_security_terminal, o.psam_serial,
        )  # fmt: skip
        if created is None:
            raise ConflictError(f"outlet {o.code} exists", code="outlet_exists", outlet=o.code)
        filed = orjson.dumps(o.__dict__).decode()
        await self._db.execute(Q["insert_filing"], o.code, o.bank, "add", filed_on, filed)

    async def outlet(self, code: str) -> OutletRecord | None:
        row = await self._db.fetchrow(Q["get_outlet"], code)
        return None if row is None else _outlet(row)

    async def insert_operator(
        self, name: str, role: Role, bank: str | None, outlet: str | None
    ) -> int:
        found = await self._db.fetchval(Q["insert_operator"], name, role.value, bank, outlet)
        if found is None:
            raise ConflictError(f"operator {name} exists", code="operator_exists", name=name)
        return int(found)

    async def insert_token(
        self, operator: int, token: str, via: str, ttl: timedelta
    ) -> IssuedToken:
        row = _required(
            await self._db.fetchrow(Q["insert_token"], operator, token_digest(token), via, ttl)
        )
        return IssuedToken(token, int(row["id"]), row["expires_at"])

    async def operator_by_token(self, token: str) -> Operator | None:
        """The operator behind a live token (None: unknown, revoked or expired)."""
        row = await self._db.fetchrow(Q["operator_by_token"], token_digest(token))
        if row is None:
            return None
        return Operator(
            row["id"], row["name"], Role(row["role"]), row["bank"], row["outlet"],
            row["token_id"], row["expires_at"],
        )  # fmt: skip

    async def credentials(self, name: str) -> Credentials | None:
        row = await self._db.fetchrow(Q["operator_by_name"], name)
        if row is None:
            return None
        op = Operator(row["id"], row["name"], Role(row["role"]), row["bank"], row["outlet"])
        stored = row["totp_secret"]
        secret = None if stored is None else open_in_text(self._vault, stored, TOTP_CONTEXT)
        return Credentials(
            op, row["password_scrypt"], secret, row["totp_confirmed"], int(row["totp_last_step"])
        )

    async def revoke_token(self, token_id: int) -> int:
        """Revoke one token (every server process's cache is told); how many were live."""
        return int(_required(await self._db.fetchrow(Q["revoke_token"], token_id))["n"])

    async def revoke_tokens_of(self, operator: int) -> int:
        """Revoke every live token of ``operator``; how many there were."""
        row = await self._db.fetchrow(Q["revoke_tokens_of_operator"], operator)
        return int(_required(row)["n"])

    async def set_password(self, operator: int, scrypt: str) -> None:
        await self._db.execute(Q["set_password"], operator, scrypt)

    async def set_totp(self, operator: int, secret: str | None, confirmed: bool) -> None:
        """Record a TOTP secret, sealed (None removes the second factor)."""
        sealed = None if secret is None else seal_in_text(self._vault, secret, TOTP_CONTEXT)
        await self._db.execute(Q["set_totp"], operator, sealed, confirmed)

    async def use_totp_step(self, operator: int, step: int) -> bool:
        """Record a TOTP step as used; False if it (or a later one) already was (a replay)."""
        return await self._db.fetchval(Q["use_totp_step"], operator, step) is not None

    async def record_sign_in(self, name: str, address: str, succeeded: bool) -> None:
        await self._db.execute(Q["insert_sign_in_attempt"], name, address, succeeded)

    async def sign_in_failures(self, name: str, address: str, window: timedelta) -> tuple[int, int]:
        """Recent failed sign-ins (of this name since its last success, of this address)."""
        row = _required(await self._db.fetchrow(Q["sign_in_failures"], name, address, window))
        return int(row["by_name"]), int(row["by_address"])

    # --- holders and photos ---------------------------------------------------------------

    async def holder_by_citizen_id(
        self, citizen_id: str, *, lock: bool = True
    ) -> HolderRecord | None:
        """The holder, locked FOR UPDATE unless ``lock`` is False (a read that changes nothing)."""
        query = Q["holder_by_citizen_id"] if lock else Q["holder_by_citizen_id_unlocked"]
        row = await self._db.fetchrow(query, self._vault.blind_indexes(citizen_id))
        return None if row is None else _holder(self._vault, row)

    async def holder(self, holder_id: int) -> HolderRecord:
        row = await self._db.fetchrow(Q["holder_by_id"], holder_id)
        if row is None:
            raise LookupError(f"holder {holder_id} vanished")
        return _holder(self._vault, row)

    async def insert_holder(self, h: HolderRecord) -> HolderRecord:
        try:
            v = self._vault
            row = await self._db.fetchrow(
                Q["insert_holder"], v.blind_index(h.citizen_id),
                seal_person(v, h.citizen_id, h.name, h.phone), seal_address(v, h.address),
                h.gender.value, h.birth_date, h.ethnicity, h.birthplace, h.bank,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "this person was registered by a concurrent request", code="concurrent_request"
            ) from exc
        return _holder(self._vault, _required(row))

    async def update_holder(self, h: HolderRecord) -> HolderRecord:
        v = self._vault
        row = await self._db.fetchrow(
            Q["update_holder"], h.id, seal_person(v, h.citizen_id, h.name, h.phone),
            seal_address(v, h.address), h.gender.value, h.birth_date, h.ethnicity, h.birthplace,
            h.bank, v.blind_index(h.citizen_id) if h.citizen_id else None,  # erased: no index
        )  # fmt: skip
        return _holder(v, _required(row))

    async def insert_holder_with_photo(
        self, h: HolderRecord, image: bytes, media_type: str
    ) -> tuple[HolderRecord, int]:
        """A new holder and their photo, in one statement; the record and the photo's id."""
        v = self._vault
        try:
            row = await self._db.fetchrow(
                Q["insert_holder_with_photo"], v.blind_index(h.citizen_id),
                seal_person(v, h.citizen_id, h.name, h.phone), seal_address(v, h.address),
                h.gender.value, h.birth_date, h.ethnicity, h.birthplace, h.bank,
                v.seal(image, PHOTO_CONTEXT), media_type,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "this person was registered by a concurrent request", code="concurrent_request"
            ) from exc
        found = _required(row)
        return _holder(v, found), int(found["photo"])

    async def insert_photo(self, image: bytes, media_type: str) -> int:
        sealed = self._vault.seal(image, PHOTO_CONTEXT)
        return int(await self._db.fetchval(Q["insert_photo"], sealed, media_type))

    async def photo_of_job(self, job_id: int) -> tuple[bytes, str, str] | None:
        """(image, media type, bank of the card) for the card job ``job_id`` makes."""
        row = await self._db.fetchrow(Q["photo_of_job"], job_id)
        if row is None:
            return None
        image = open_bytes(self._vault, bytes(row["image"]), PHOTO_CONTEXT)
        return image, row["media_type"], row["bank"]

    # --- cards and their events -----------------------------------------------------------

    async def card_by_number(self, number: str, *, lock: bool = True) -> CardRecord | None:
        """The card, locked FOR UPDATE unless ``lock`` is False (a read that changes nothing)."""
        query = Q["card_by_number"] if lock else Q["card_by_number_unlocked"]
        row = await self._db.fetchrow(query, number)
        return None if row is None else _card(self._vault, row)

    async def read_card_audited(
        self, number: str, scope: str | None, op: Operator, purpose: str, action: str
    ) -> CardJobRead | None:
        """Card ``number`` if its bank is ``scope`` (None: any bank), with its job's state and
        step while in production, and the audit row of the read, in one statement (None, and
        no audit row, when the card is missing or out of scope)."""
        row = await self._db.fetchrow(
            Q["read_card_audited"], number, scope, op.id, op.bank, op.outlet, purpose, action
        )
        if row is None:
            return None
        state, step = row["job_state"], row["job_step"]
        return CardJobRead(
            _card(self._vault, row),
            None if state is None else JobState(state),
            None if step is None else JobStep(step),
        )

    async def card(self, card_id: int) -> CardRecord:
        row = await self._db.fetchrow(Q["card_by_id"], card_id)
        if row is None:
            raise LookupError(f"card {card_id} vanished")
        return _card(self._vault, row)

    async def card_by_job(self, job_id: int) -> CardRecord | None:
        row = await self._db.fetchrow(Q["card_by_job"], job_id)
        return None if row is None else _card(self._vault, row)

    async def cards_of_holder(self, holder: int, *, lock: bool = True) -> list[CardRecord]:
        """The holder's cards, oldest first, locked unless ``lock`` is False."""
        query = Q["cards_of_holder"] if lock else Q["cards_of_holder_unlocked"]
        return [_card(self._vault, r) for r in await self._db.fetch(query, holder)]

    async def cards_of_holder_audited(
        self, holder: int, op: Operator, purpose: str, action: str
    ) -> list[CardRecord]:
        """The holder's cards, oldest first, unlocked, and the read's audit row (one statement)."""
        rows = await self._db.fetch(
            Q["cards_of_holder_audited"], holder, op.id, op.bank, op.outlet, purpose, action
        )
        return [_card(self._vault, r) for r in rows]

    async def set_superseded_by(self, card_id: int, newer: int) -> None:
        await self._db.execute(Q["set_superseded_by"], card_id, newer)

    async def transition_card(self, card_id: int, event: EventRecord) -> None:
        """Set the card's status to the event's ``to_status`` and store the event."""
        e = event
        try:
            await self._db.execute(
                Q["transition_card"], card_id, e.action, e.from_status, e.to_status, e.operator,
                e.outlet, e.at, e.reason, e.note,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "this person already has an active card", code="card_already_active"
            ) from exc

    async def transition_card_audited(
        self,
        card: CardRecord,
        event: EventRecord,
        entry: AuditEntry,
        *,
        activated_at: str | None = None,
    ) -> None:
        """:meth:`transition_card` and the change's audit row in one statement; with
        ``activated_at``, the outlet where the card is activated is recorded too."""
        e, a = event, entry
        try:
            await self._db.execute(
                Q["transition_card_audited"], card.id, e.action, e.from_status, e.to_status,
                a.operator.id, a.operator.outlet, e.at, e.reason, e.note, activated_at,
                a.operator.bank, a.purpose, card.holder, a.action,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "this person already has an active card", code="card_already_active"
            ) from exc

    async def draw_card(self, bank: str) -> tuple[int, int, str | None]:
        """(card-number sequence value, card id drawn ahead, the bank's institution number)."""
        row = _required(await self._db.fetchrow(Q["draw_card"], bank))
        institution = row["institution"]
        return int(row["n"]), int(row["id"]), None if institution is None else str(institution)

    async def insert_events(self, card_id: int, events: Sequence[EventRecord]) -> None:
        """Several events of one card, in one statement."""
        await self._db.execute(Q["insert_events"], card_id, *_event_columns(events))

    async def insert_card_with_events(
        self, card_id: int, card: NewCard, job_id: int, status: CardStatus,
        events: Sequence[EventRecord], *, audit: AuditEntry | None = None,
    ) -> None:  # fmt: skip
        """One card (id drawn ahead) with ``status``, its first events and, given ``audit``,
        the order's audit row (naming the card and its holder), in one statement."""
        c = card
        sealed = self._vault.seal_text(c.card_data, CARD_DATA_CONTEXT)
        op = None if audit is None else audit.operator
        try:
            await self._db.execute(
                Q["insert_card_with_events"], card_id, c.card_number, c.card_identifier,
                c.holder, c.bank, c.issue_date, c.expiry_date, sealed, c.photo,
                c.ordered_at_outlet, job_id, c.replaces, status.value, *_event_columns(events),
                None if op is None else op.id, None if op is None else op.bank,
                None if op is None else op.outlet, None if audit is None else audit.purpose,
                None if audit is None else audit.action,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "a card for this person is already being made", code="card_pending"
            ) from exc

    async def events_of_card(self, card_id: int) -> list[EventRecord]:
        return [EventRecord(**dict(r)) for r in await self._db.fetch(Q["events_of_card"], card_id)]

    # --- audit and idempotency -------------------------------------------------------------

    async def audit(
        self,
        op: Operator,
        purpose: str,
        holder: int | None,
        action: str,
        *,
        card: int | None = None,
        detail: str = "",
    ) -> None:
        """One audit row, chained to the one before when the transaction commits."""
        await self._db.execute(
            Q["insert_audit"], op.id, op.bank, op.outlet, purpose, holder, action, card, detail
        )

    async def chain_pending_audit(self, limit: int = 100_000) -> int:
        """Chain the committed pending audit records into the trail; how many were chained.

        Every read of the trail calls this first, so it sees every committed record chained."""
        return int(await self._db.fetchval(Q["chain_pending_audit"], limit))

    async def audit_of_holder(self, holder: int) -> list[dict[str, Any]]:
        await self.chain_pending_audit()
        return [dict(r) for r in await self._db.fetch(Q["audit_of_holder"], holder)]

    async def audit_claimed_cards(self, op: Operator, purpose: str, job_ids: Sequence[int]) -> None:
        """One read row per card made by the claimed jobs ``job_ids`` (their payload)."""
        await self._db.execute(
            Q["audit_claimed_cards"], op.id, op.bank, op.outlet, purpose, list(job_ids)
        )

    async def audit_batch(self, op: Operator, purpose: str, batch_id: str) -> None:
        """One read row per card of batch ``batch_id`` (its manifest names every holder)."""
        await self._db.execute(Q["audit_batch"], op.id, op.bank, op.outlet, purpose, batch_id)

    async def search_audit(self, f: AuditFilter, *, after: int, limit: int) -> list[AuditRow]:
        """Audit rows with id above ``after`` matching ``f``, oldest first (the first page
        chains the pending records first)."""
        if after == 0:
            await self.chain_pending_audit()
        rows = await self._db.fetch(
            Q["search_audit"], after, f.bank, f.holder, f.card, f.operator, f.since, f.until,
            f.action, limit,
        )  # fmt: skip
        return [_audit_row(r) for r in rows]

    async def audit_rows(self, f: AuditFilter, *, batch: int = 1000) -> AsyncIterator[AuditRow]:
        """Every audit row matching ``f``, oldest first, read ``batch`` rows at a time."""
        after = 0
        while True:
            rows = await self.search_audit(f, after=after, limit=batch)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = rows[-1].id

    async def audit_chain(self) -> AsyncIterator[AuditRow]:
        """Every audit row in chain order, through a cursor (needs a transaction)."""
        async for r in self.connection.cursor(Q["audit_chain"], prefetch=2000):
            yield _audit_row(r)

    async def audit_chain_size(self) -> int:
        return int(await self._db.fetchval(Q["audit_chain_size"]))

    async def audit_chain_head(self) -> tuple[int, bytes]:
        row = _required(await self._db.fetchrow(Q["audit_chain_head"]))
        return int(row["last_id"]), bytes(row["last_hash"])

    async def lapse_temporary_losses(
        self, reported_before: datetime, action: str, to_status: str, note: str
    ) -> list[int]:
        """Lapse temporary losses reported before ``reported_before``; the cards changed."""
        rows = await self._db.fetch(
            Q["lapse_temporary_losses"], reported_before, action, to_status, note
        )
        return [int(r["card"]) for r in rows]

    async def prune_idempotency(self, before: datetime) -> int:
        """Forget idempotency records made before ``before``; how many."""
        return int(await self._db.fetchval(Q["prune_idempotency"], before))

    async def idempotency_get(self, operator: int, key: str) -> StoredResponse | None:
        row = await self._db.fetchrow(Q["idempotency_get"], operator, key)
        if row is None:
            return None
        body = None if row["body"] is None else open_bytes(self._vault, row["body"], ANSWER_CONTEXT)
        return StoredResponse(bytes(row["request_sha256"]), row["status"], body)

    @asynccontextmanager
    async def keyed_transaction(
        self, operator: int, key: str, digest: bytes
    ) -> AsyncIterator[tuple[Store, bool]]:
        """A transaction that begins by taking ``key`` for ``operator``, in one round trip.

        Yields the bound store and whether the key was new. The transaction is
        committed only by :meth:`finish_and_commit`; left any other way it is
        rolled back.
        """
        if not isinstance(self._db, asyncpg.Pool):
            raise RuntimeError("a keyed transaction starts from the pool")
        begin = SIMPLE["begin_and_claim"].format(
            operator=_int_literal(operator), key=_text_literal(key), digest=_bytes_literal(digest)
        )
        with database_errors():
            async with self._db.acquire() as conn:
                try:
                    claimed = await conn.execute(begin) == "INSERT 0 1"
                    yield Store(conn, self._vault), claimed
                except BaseException:
                    if not conn.is_closed() and conn.is_in_transaction():
                        with contextlib.suppress(*CONNECTION_ERRORS, asyncpg.PostgresError):
                            await conn.execute("ROLLBACK")
                    raise
                if conn.is_in_transaction():
                    await conn.execute("ROLLBACK")

    async def finish_and_commit(self, operator: int, key: str, status: int, body: bytes) -> None:
        """Remember the answer under the key and commit the keyed transaction, in one round trip."""
        sealed = self._vault.seal(body, ANSWER_CONTEXT)
        finish = SIMPLE["finish_and_commit"].format(
            status=_int_literal(status),
            body=_bytes_literal(sealed),
            operator=_int_literal(operator),
            key=_text_literal(key),
        )
        await self._db.execute(finish)

    # --- printers, spoiled cards, visits, withdrawals, fees --------------------------------

    async def upsert_printer(self, p: PrinterRecord) -> None:
        await self._db.execute(Q["upsert_printer"], p.site, p.name, p.status, p.fault)

    async def printers_of_site(self, site: str) -> list[PrinterRecord]:
        return [PrinterRecord(**dict(r)) for r in await self._db.fetch(Q["printers_of_site"], site)]

    async def clear_printer(self, site: str, name: str) -> bool:
        return await self._db.fetchval(Q["clear_printer"], site, name) is not None

    async def insert_spoiled(
        self,
        job_id: int,
        card_id: int | None,
        printer: str | None,
        reason: str,
        attempt: int | None = None,
    ) -> bool:
        """Record a spoiled body; with ``attempt``, once per attempt however often retried.

        True when this call recorded it."""
        found = await self._db.fetchval(
            Q["insert_spoiled"], job_id, card_id, printer, reason, attempt
        )
        return found is not None

    async def insert_print(self, job_id: int, attempt: int, card_number: str, worker: str) -> None:
        """Record that attempt ``attempt`` of ``job_id`` is about to print ``card_number``.

        Raises :class:`~sscard_core.errors.ConflictError` ``card_already_printed`` when
        another print of that number may exist or was delivered.
        """
        try:
            await self._db.execute(Q["insert_print"], job_id, attempt, card_number, worker)
        except asyncpg.UniqueViolationError:
            other = await self.print_of_number(card_number)
            raise ConflictError(
                f"card {card_number} may already exist (printed for job "
                f"{other.job_id if other else '?'}); it is not printed again",
                code="card_already_printed",
                card_number=card_number,
            ) from None

    async def open_prints(self, job_id: int) -> list[PrintRecord]:
        """The prints of ``job_id`` whose card may physically exist."""
        return [_print(r) for r in await self._db.fetch(Q["open_prints"], job_id)]

    async def print_of_number(self, card_number: str) -> PrintRecord | None:
        row = await self._db.fetchrow(Q["print_of_number"], card_number)
        return None if row is None else _print(row)

    async def settle_prints(self, job_id: int, settled: PrintSettled, evidence: str) -> int:
        """Settle ``job_id``'s open prints by evidence; how many were open."""
        rows = await self._db.fetch(Q["settle_prints"], job_id, settled.value, evidence)
        return len(rows)

    async def spoiled_of_job(self, job_id: int) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._db.fetch(Q["spoiled_of_job"], job_id)]

    async def insert_home_visit(
        self, holder: int, card: int, *, outlet: str, at: datetime, address: str, job: int, op: int
    ) -> int:
        sealed = seal_visit_address(self._vault, address)
        args = (holder, card, outlet, at, sealed, job, op)
        return int(await self._db.fetchval(Q["insert_home_visit"], *args))

    async def add_withdrawal(self, card_id: int, month: date) -> int:
        """Count one withdrawal; returns how many the card had made that month before it."""
        return int(await self._db.fetchval(Q["add_withdrawal"], card_id, month))

    async def upsert_fee_schedule(
        self, bank: str, amounts: dict[str, int], free_withdrawals: int, operator: int
    ) -> None:
        text = orjson.dumps(amounts).decode()
        await self._db.execute(Q["upsert_fee_schedule"], bank, text, free_withdrawals, operator)

    async def fee_schedule(self, bank: str) -> tuple[dict[str, int], int] | None:
        row = await self._db.fetchrow(Q["fee_schedule_of"], bank)
        if row is None:
            return None
        return orjson.loads(row["amounts"]), int(row["free_withdrawals_per_month"])

    # --- expedited small batches (bulk statements: one per kind of row) --------------------

    async def citizen_ids_with_live_card(self, citizen_ids: Sequence[str]) -> set[str]:
        by_index = {i: c for c in citizen_ids for i in self._vault.blind_indexes(c)}
        rows = await self._db.fetch(Q["citizen_ids_with_live_card"], list(by_index))
        return {by_index[bytes(r["citizen_id_index"])] for r in rows}

    async def next_batch_id(self) -> str:
        return str(await self._db.fetchval(Q["next_batch_id"]))

    async def next_card_sequences(self, count: int) -> list[tuple[int, int]]:
        """``count`` (card-number sequence value, card id) pairs, drawn ahead of the insert."""
        rows = await self._db.fetch(Q["next_card_sequences"], count)
        return [(int(r["n"]), int(r["id"])) for r in rows]

    async def upsert_holders(self, holders: Sequence[HolderRecord], bank: str) -> dict[str, int]:
        """Insert or update holders by citizen ID; their ids by citizen ID (a new holder's
        address is empty, a known one's is kept)."""
        v = self._vault
        by_index = {v.blind_index(h.citizen_id): h.citizen_id for h in holders}
        if v.index_rotating:  # known holders still under an older index key move to the current
            olds = [(o, i) for i in by_index for o in v.blind_indexes(by_index[i])[1:]]
            await self._db.execute(Q["reindex_holders"], [o for o, _ in olds], [i for _, i in olds])
        columns = (
            [v.blind_index(h.citizen_id) for h in holders],
            [seal_person(v, h.citizen_id, h.name, h.phone) for h in holders],
            [h.gender.value for h in holders], [h.birth_date for h in holders],
            [h.ethnicity for h in holders], [h.birthplace for h in holders],
        )  # fmt: skip
        rows = await self._db.fetch(Q["upsert_holders"], *columns, seal_address(v, ""), bank)
        return {by_index[bytes(r["citizen_id_index"])]: int(r["id"]) for r in rows}

    async def insert_photos(self, photos: Sequence[tuple[bytes, str]], *, upload: str) -> list[int]:
        """Insert (image, media type) rows written ahead by batch ``upload``; their ids, in order.

        The ids are drawn ahead and the rows sent with COPY: a batch's photos are
        about 200 MB, which an ``INSERT ... SELECT unnest($bytea[])`` would first
        build into arrays on both sides.
        """
        drawn = [int(r["id"]) for r in await self._db.fetch(Q["next_photo_ids"], len(photos))]
        seal = self._vault.seal
        records = [
            (photo, seal(image, PHOTO_CONTEXT), media, upload)
            for photo, (image, media) in zip(drawn, photos, strict=True)
        ]
        await self._db.copy_records_to_table(
            "holder_photos", records=records, columns=PHOTO_COLUMNS
        )
        return drawn

    async def open_upload(self, batch: str) -> None:
        await self._db.execute(Q["open_upload"], batch)

    async def close_upload(self, batch: str) -> None:
        await self._db.execute(Q["close_upload"], batch)

    async def discard_upload(self, batch: str) -> None:
        await self._db.execute(Q["discard_upload"], batch)

    async def fail_upload(self, batch: str) -> None:
        await self._db.execute(Q["fail_upload"], batch)

    async def dead_uploads(self, age: timedelta) -> list[str]:
        return [str(r["batch"]) for r in await self._db.fetch(Q["dead_uploads"], age)]

    async def insert_cards(
        self, cards: Sequence[tuple[int, NewCard, int]], status: CardStatus
    ) -> None:
        """Insert many (id drawn ahead, card, job id) with ``status``, in one statement."""
        columns = (
            [i for i, _, _ in cards], [c.card_number for _, c, _ in cards],
            [c.card_identifier for _, c, _ in cards], [c.holder for _, c, _ in cards],
            [c.bank for _, c, _ in cards], [c.issue_date for _, c, _ in cards],
            [c.expiry_date for _, c, _ in cards],
            [self._vault.seal_text(c.card_data, CARD_DATA_CONTEXT) for _, c, _ in cards],
            [c.photo for _, c, _ in cards], [c.ordered_at_outlet for _, c, _ in cards],
            [j for _, _, j in cards], [c.replaces for _, c, _ in cards],
        )  # fmt: skip
        try:
            await self._db.execute(Q["insert_cards_bulk"], *columns, status.value)
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "a card for this person is already being made", code="card_pending"
            ) from exc

    async def insert_events_many(self, card_ids: Sequence[int], event: EventRecord) -> None:
        """The same event for many cards."""
        e = event
        await self._db.execute(
            Q["insert_events_bulk"], list(card_ids), e.action, e.from_status, e.to_status,
            e.operator, e.outlet, e.at,
        )  # fmt: skip

    async def audit_many(
        self, op: Operator, purpose: str, holders: Sequence[int], action: str
    ) -> None:
        await self._db.execute(
            Q["insert_audit_bulk"], op.id, op.bank, op.outlet, purpose, action, list(holders)
        )

    async def insert_batch(self, b: NewBatch) -> None:
        await self._db.execute(
            Q["insert_batch"], b.id, b.bank, b.site, b.submitted_by, b.file_kind, b.rows_read,
            b.accepted, b.rejected,
        )  # fmt: skip

    async def set_batch_counts(
        self, batch_id: str, *, file_kind: str, rows_read: int, accepted: int, rejected: int
    ) -> None:
        await self._db.execute(
            Q["set_batch_counts"], batch_id, file_kind, rows_read, accepted, rejected
        )

    async def insert_batch_cards(
        self, batch: str, card_ids: Sequence[int], lines: Sequence[int]
    ) -> None:
        await self._db.execute(Q["insert_batch_cards"], batch, list(card_ids), list(lines))

    async def batch(self, batch_id: str) -> BatchRecord | None:
        row = await self._db.fetchrow(Q["get_batch"], batch_id)
        return None if row is None else BatchRecord(**dict(row))

    async def batch_counts(self, batch_id: str) -> BatchCounts:
        return BatchCounts(
            **dict(_required(await self._db.fetchrow(Q["batch_progress"], batch_id)))
        )

    async def batch_completions(self, batch_id: str) -> list[tuple[datetime, str]]:
        """(finished at, printer) of each card made, oldest first."""
        rows = await self._db.fetch(Q["batch_completions"], batch_id)
        return [(r["finished_at"], r["printer"]) for r in rows]

    async def batch_spoiled_by_printer(self, batch_id: str) -> dict[str, int]:
        rows = await self._db.fetch(Q["batch_spoiled_by_printer"], batch_id)
        return {r["printer"]: int(r["n"]) for r in rows}

    async def finish_batch(self, batch_id: str) -> bool:
        """Mark the batch complete; False if it already was."""
        return await self._db.fetchval(Q["finish_batch"], batch_id) is not None

    async def batch_entries(self, batch_id: str) -> list[BatchEntryRecord]:
        rows = await self._db.fetch(Q["batch_entries"], batch_id)
        people = [person(self._vault, r) for r in rows]
        return [
            BatchEntryRecord(
                r["card_number"], name, citizen_id, r["failed_reason"], r["state"],
                r["outcome"], r["spoiled"],
            )
            for r, (citizen_id, name, _) in zip(rows, people, strict=True)
        ]  # fmt: skip

    async def fail_batch_card(self, batch_id: str, card_id: int, reason: str, op: int) -> bool:
        """Record why a card of the batch failed for good; False if it is not in the batch."""
        row = await self._db.fetchval(Q["fail_batch_card"], batch_id, card_id, reason, op)
        return row is not None

    # --- security terminals and PSAM cards ---------------------------------------------------

    async def insert_terminal(self, serial: str, model: str, outlet: str) -> None:
        if await self._db.fetchval(Q["insert_terminal"], serial, model, outlet) is None:
            raise ConflictError(f"terminal {serial} exists", code="terminal_exists")

    async def terminal(self, serial: str) -> TerminalRecord | None:
        row = await self._db.fetchrow(Q["get_terminal"], serial)
        return None if row is None else TerminalRecord(**dict(row))

    async def set_terminal_state(self, serial: str, state: str) -> bool:
        return await self._db.fetchval(Q["set_terminal_state"], serial, state) is not None

    async def terminals_of_outlet(self, outlet: str) -> list[TerminalRecord]:
        rows = await self._db.fetch(Q["terminals_of_outlet"], outlet)
        return [TerminalRecord(**dict(r)) for r in rows]

    async def insert_psam(self, serial: str, bank: str, move: PsamMove) -> None:
        """A PSAM received by ``bank``, with its first recorded move."""
        if await self._db.fetchval(Q["insert_psam"], serial, bank) is None:
            raise ConflictError(f"PSAM {serial} exists", code="psam_exists")
        await self.move_psam(serial, None, move)

    async def psam(self, serial: str, *, lock: bool = False) -> PsamRecord | None:
        row = await self._db.fetchrow(Q["get_psam_locked" if lock else "get_psam"], serial)
        return None if row is None else PsamRecord(**dict(row))

    async def psams_of_outlet(self, outlet: str) -> list[PsamRecord]:
        return [PsamRecord(**dict(r)) for r in await self._db.fetch(Q["psams_of_outlet"], outlet)]

    async def move_psam(self, serial: str, terminal: str | None, m: PsamMove) -> None:
        try:
            await self._db.execute(
                Q["move_psam"], serial, m.to_state, terminal, m.action, m.from_state, m.operator,
                m.actor, m.note,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                f"terminal {terminal} holds another PSAM", code="terminal_occupied"
            ) from exc

    async def psam_events(self, serial: str) -> list[PsamMove]:
        return [PsamMove(**dict(r)) for r in await self._db.fetch(Q["psam_events"], serial)]

    # --- blank card bodies -----------------------------------------------------------------

    async def insert_stock_request(
        self, *, kind: str, bank: str, outlet: str, to_outlet: str | None, lot: str,
        quantity: int, note: str, operator: int,
    ) -> int:  # fmt: skip
        try:
            found = await self._db.fetchval(
                Q["insert_stock_request"], kind, bank, outlet, to_outlet, lot, quantity, note,
                operator,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"lot {lot} was received already", code="lot_received") from exc
        return int(found)

    async def stock_request(
        self, request_id: int, *, lock: bool = False
    ) -> StockRequestRecord | None:
        if lock and await self._db.fetchval(Q["lock_stock_request"], request_id) is None:
            return None
        row = await self._db.fetchrow(Q["get_stock_request"], request_id)
        return None if row is None else StockRequestRecord(**dict(row))

    async def decide_stock_request(self, request_id: int, state: str, operator: int) -> bool:
        found = await self._db.fetchval(Q["decide_stock_request"], request_id, state, operator)
        return found is not None

    async def pending_stock_requests(self, outlet: str) -> list[StockRequestRecord]:
        rows = await self._db.fetch(Q["pending_stock_requests"], outlet)
        return [StockRequestRecord(**dict(r)) for r in rows]

    async def insert_stock_move(
        self, outlet: str, kind: str, quantity: int, request: int | None
    ) -> None:
        await self._db.execute(Q["insert_stock_move"], outlet, kind, quantity, request)

    async def lock_outlet_stock(self, outlet: str) -> None:
        await self._db.execute(Q["lock_outlet_stock"], outlet)

    async def stock_balance(self, outlet: str, before: datetime | None = None) -> int:
        return int(await self._db.fetchval(Q["stock_balance"], outlet, before))

    async def stock_day(self, outlet: str, start: datetime, end: datetime) -> dict[str, int]:
        rows = await self._db.fetch(Q["stock_day"], outlet, start, end)
        return {r["kind"]: int(r["n"]) for r in rows}

    async def record_job_body(self, job_id: int, kind: str) -> None:
        """A body of a card job was fed, printed or spoiled (once per attempt)."""
        await self._db.execute(Q["record_job_body"], job_id, kind)

    async def record_attempt_body(self, job_id: int, kind: str, attempt: int) -> None:
        """A body of attempt ``attempt`` of a card job was fed or spoiled (once)."""
        await self._db.execute(Q["record_attempt_body"], job_id, kind, attempt)

    async def insert_reconciliation(self, r: ReconciliationRecord) -> bool:
        found = await self._db.fetchval(
            Q["insert_reconciliation"], r.outlet, r.day, r.opening, r.received, r.issued,
            r.spoiled, r.destroyed, r.expected, r.counted, r.fed,
            orjson.dumps(r.exceptions).decode(), r.reconciled_by,
        )  # fmt: skip
        return found is not None

    async def reconciliations(self, outlet: str, limit: int = 31) -> list[ReconciliationRecord]:
        rows = await self._db.fetch(Q["reconciliations"], outlet, limit)
        return [
            ReconciliationRecord(**{**dict(r), "exceptions": orjson.loads(r["exceptions"])})
            for r in rows
        ]
