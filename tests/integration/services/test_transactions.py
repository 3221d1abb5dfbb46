"""A service is one transaction: when its job cannot be enqueued, nothing of it remains."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import asyncpg
import pytest
from PIL import Image

from cardqueue import EnqueueResult, NewJob, Queue
from cardqueue.queue import Conn
from issuance.domain.identity import CitizenId
from issuance.domain.roles import Role
from issuance.services import admin, cards
from issuance.services.ordering import HolderInput, job_key
from issuance.store import Operator, Store
from issuance.tools.testdata import random_citizen_id
from issuance.vault import Vault
from sscard_core.errors import DatabaseError


class FailingQueue(Queue):
    """A queue whose enqueue fails after the service has written its records."""

    async def enqueue_many(
        self, jobs: Sequence[NewJob], conn: Conn | None = None
    ) -> list[EnqueueResult]:
        raise DatabaseError("the queue is unreachable")


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 380), (90, 90, 90)).save(out, format="PNG")
    return out.getvalue()


async def _clerk(store: Store) -> Operator:
    await admin.create_bank(store, "BKA", "A", active=True)
    await admin.create_outlet(store, admin.OutletInput("A1", "BKA", "A1"))
    made = await admin.create_operator(store, "c", Role.CLERK, bank="BKA", outlet="A1")
    op = await store.operator_by_token(made.token)
    assert op is not None
    return op


def _application() -> cards.Application:
    cid = CitizenId.parse(random_citizen_id(random.Random(3), region="110105"))
    holder = HolderInput(cid.value, "王五", cid.gender, cid.birth_date, 1, "110105")
    return cards.Application(holder, _photo())


async def test_a_failed_enqueue_leaves_no_holder_card_or_audit(
    db_pool: asyncpg.Pool, db_vault: Vault
) -> None:
    store = Store(db_pool, db_vault)
    op = await _clerk(store)
    with pytest.raises(DatabaseError):
        await cards.apply(store, FailingQueue(db_pool), op, _application())
    for table in ("holders", "holder_photos", "cards", "card_events", "audit_log"):
        assert await db_pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_apply_writes_card_job_and_audit_together(
    db_pool: asyncpg.Pool, db_vault: Vault
) -> None:
    store = Store(db_pool, db_vault)
    op = await _clerk(store)
    card = await cards.apply(store, Queue(db_pool), op, _application(), request_key="x" * 200)
    assert card.job_id is not None
    job = await Queue(db_pool).get(card.job_id)
    assert job.idempotency_key == job_key(op, "x" * 200, "card")
    assert len(job.idempotency_key) <= 200
    await db_pool.execute("SELECT audit_chain_pending(1000)")  # as every server does each second
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log") == 1


def test_job_keys_from_the_same_request_key_agree() -> None:
    op = Operator(1, "c", Role.CLERK, "BKA", "A1")
    assert job_key(op, "k", "card") == job_key(op, "k", "card")
    assert job_key(op, "k", "card") != job_key(op, "k", "pin_change")
    assert job_key(op, None, "card") != job_key(op, None, "card")
