"""The audit trail: hash-chained, append-only, searchable in scope, exported, verified."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from issuance.api.app import maintain_forever
from issuance.domain.audit_chain import GENESIS, BreakKind, record_hash
from issuance.runtime import Runtime
from issuance.services import audit
from issuance.store import Operator
from tests.integration.api.world import World


async def _rows(world: World, who: str = "auditor", **params: Any) -> dict[str, Any]:
    r = await world.client.get("/v1/audit", params=params, headers=world.auth(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _operator(world: World, who: str) -> Operator:
    op = await world.store.operator_by_token(world.tokens[who])
    assert op is not None
    return op


async def _tamper(dsn: str, sql: str) -> None:
    """What only the database's owner can do: switch the append-only trigger off, change rows."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            await conn.execute(sql)
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    finally:
        await conn.close()


async def test_every_record_carries_the_hash_of_the_one_before(world: World) -> None:
    await world.active()
    records = (await _rows(world))["records"]
    assert len(records) >= 3
    assert records[0]["prev_hash"] == GENESIS.hex()
    for before, after in itertools.pairwise(records):
        assert after["prev_hash"] == before["hash"]
    report = await audit.verify(world.store)
    assert report.broken is None and report.checked == len(records)


async def test_the_trail_refuses_update_delete_and_truncate(world: World) -> None:
    await world.new_card()
    assert await world.store.chain_pending_audit() == 1
    for sql in (
        "UPDATE audit_log SET purpose = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM audit_chain_head",
        "UPDATE audit_chain_head SET last_id = 0",
    ):
        async with world.store.connected() as s:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await s.connection.execute(sql)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("UPDATE audit_log SET purpose = 'nothing' WHERE id = {second}", BreakKind.CHANGED),
        ("UPDATE audit_log SET at = at - interval '1 hour' WHERE id = {second}", BreakKind.CHANGED),
        ("DELETE FROM audit_log WHERE id = {second}", BreakKind.UNLINKED),
        ("DELETE FROM audit_log WHERE id = {last}", BreakKind.TRUNCATED),
    ],
)
async def test_verify_names_the_first_record_that_does_not_chain(
    world: World, db_dsn: str, sql: str, kind: BreakKind
) -> None:
    await world.active()
    ids = [r["id"] for r in (await _rows(world))["records"]]
    await _tamper(db_dsn, sql.format(second=ids[1], last=ids[-1]))
    report = await audit.verify(world.store)
    assert report.broken is not None
    assert report.broken.kind is kind
    expected = {BreakKind.CHANGED: ids[1], BreakKind.UNLINKED: ids[2], BreakKind.TRUNCATED: ids[-1]}
    assert report.broken.record_id == expected[kind]


def _cli(dsn: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn, "SSCARD_DATA_DIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "issuance.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


async def test_the_cli_verifies_exports_and_names_a_tampered_record(
    world: World, rt: Runtime, db_dsn: str
) -> None:
    data = rt.settings.data_dir
    card = await world.new_card()
    ok = await asyncio.to_thread(_cli, db_dsn, data, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "the audit chain holds" in ok.stdout

    out = rt.settings.data_dir / "audit.csv"
    args = ("audit", "export", "--card", card["card_number"], "--output", str(out))
    exported = await asyncio.to_thread(_cli, db_dsn, data, *args)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows and {r["card_number"] for r in rows} == {card["card_number"]}

    first = int(rows[0]["id"])
    await _tamper(db_dsn, f"UPDATE audit_log SET operator = operator WHERE id = {first}")
    await _tamper(db_dsn, f"UPDATE audit_log SET detail = 'edited' WHERE id = {first}")
    bad = await asyncio.to_thread(_cli, db_dsn, data, "audit", "verify")
    assert bad.returncode == 1
    assert f"broken at record {first} (changed)" in " ".join(bad.stdout.split())


async def test_concurrent_writers_chain_one_after_another(world: World) -> None:
    op = await _operator(world, "clerk_a")

    async def write(n: int) -> None:
        async with world.store.transaction() as tx:
            await tx.audit(op, "query_status", None, "read", detail=f"w{n}")
            await tx.connection.execute("SELECT pg_sleep(0.005)")
            await tx.audit(op, "query_status", None, "read", detail=f"w{n}b")

    await asyncio.gather(*(write(n) for n in range(24)))
    report = await audit.verify(world.store)
    assert report.broken is None and report.checked == 48


async def test_auditors_search_every_bank_and_a_bank_only_its_own(world: World) -> None:
    a = await world.new_card("clerk_a")
    b = await world.new_card("clerk_b")
    both = {r["bank"] for r in (await _rows(world, "auditor"))["records"]}
    assert both == {"BKA", "BKB"}
    own = (await _rows(world, "admin_a"))["records"]
    assert own and {r["bank"] for r in own} == {"BKA"}
    assert (await _rows(world, "admin_a", card_number=b["card_number"]))["records"] == []
    by_b = (await _rows(world, "supervisor_b", card_number=b["card_number"]))["records"]
    assert by_b and all(r["card_number"] == b["card_number"] for r in by_b if r["card"])
    refused = await world.client.get("/v1/audit", headers=world.auth("clerk_a"))
    assert refused.status_code == 403
    assert (await world.client.get("/v1/audit", headers=world.auth("agent_a"))).status_code == 403
    assert a["card_number"] != b["card_number"]


async def test_search_by_holder_operator_time_and_pages(world: World) -> None:
    cid = world.citizen_id()
    r = await world.apply(citizen_id=cid, wait=True)
    assert r.status_code == 201, r.text
    await world.new_card("clerk_a2")
    mine = (await _rows(world, citizen_id=cid))["records"]
    assert mine and len({r["holder"] for r in mine}) == 1
    by_op = (await _rows(world, operator="clerk_a2"))["records"]
    assert by_op and {r["operator_name"] for r in by_op} == {"clerk_a2"}
    assert (await _rows(world, operator="nobody"))["records"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await _rows(world, since=future))["records"] == []
    assert len((await _rows(world, until=future))["records"]) >= 2

    seen: list[int] = []
    after = 0
    while True:
        page = await _rows(world, limit=1, after=after)
        seen += [r["id"] for r in page["records"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    everything = [r["id"] for r in (await _rows(world))["records"]]
    assert seen == everything

    naive = await world.client.get(
        "/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=world.auth("auditor")
    )
    assert naive.status_code == 422, naive.text
    bad = await world.client.get("/v1/audit", params={"limit": 0}, headers=world.auth("auditor"))
    assert bad.status_code == 422


async def test_the_csv_export_streams_the_scope_of_the_caller(world: World) -> None:
    await world.new_card("clerk_a")
    await world.new_card("clerk_b")
    r = await world.client.get("/v1/audit.csv", headers=world.auth("admin_a"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["bank"] for row in rows} == {"BKA"}
    assert list(rows[0]) == list(audit.CSV_COLUMNS)
    whole = await world.client.get("/v1/audit.csv", headers=world.auth("auditor"))
    assert len(list(csv.DictReader(io.StringIO(whole.text)))) > len(rows)


async def test_a_claim_audits_the_card_data_it_hands_out(world: World) -> None:
    card = await world.new_card()
    await world.make(card)
    reads = (await _rows(world, card_number=card["card_number"], action="read"))["records"]
    assert [(r["operator_name"], r["purpose"]) for r in reads] == [("agent_a", "production")]


async def test_the_python_check_agrees_with_the_database(world: World) -> None:
    await world.new_card()
    async with world.store.connected() as s, s.connection.transaction():
        async for row in s.audit_chain():
            assert record_hash(row) == row.hash


async def test_an_insert_of_no_rows_leaves_the_chain_head_as_it_was(db_pool: asyncpg.Pool) -> None:
    """A claim that hands out no card writes an empty INSERT ... SELECT into the trail, even on a
    trail with no record yet."""
    head = "SELECT last_id, last_hash FROM audit_chain_head"
    before = await db_pool.fetchrow(head)
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log") == 0
    await db_pool.execute(
        "INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action) "
        "SELECT operator, bank, outlet, purpose, holder, action FROM audit_log WHERE false"
    )
    assert await db_pool.fetchrow(head) == before


_AUDIT_ROW = (
    "INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action) "
    "SELECT id, NULL, NULL, 'query_status', NULL, 'read' FROM operators LIMIT 1"
)
_NO_AUDIT_ROW = (
    "INSERT INTO audit_log (operator, bank, outlet, purpose, holder, action) "
    "SELECT operator, bank, outlet, purpose, holder, action FROM audit_log WHERE false"
)


async def test_an_insert_of_no_rows_waits_for_no_writer_and_moves_no_head(db_dsn: str) -> None:
    """An audited read that found nothing, while another transaction holds the chain with a record
    not yet committed, neither waits for that transaction nor moves the head behind its record."""
    writer, reader = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        await writer.execute(
            "INSERT INTO operators (name, role) VALUES ('auditor-x', 'bureau_auditor')"
        )
        await writer.execute(_AUDIT_ROW)  # a committed record the reader sees
        tx = writer.transaction()
        await tx.start()
        await writer.execute(_AUDIT_ROW)
        # a wait on the writer's locks would fail this statement instead of hanging the test
        await reader.execute("SET lock_timeout = '10s'")
        await reader.execute(_NO_AUDIT_ROW)
        await tx.commit()
        last = await reader.fetchrow("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        head = await reader.fetchrow("SELECT last_id, last_hash FROM audit_chain_head")
        assert last is not None and head is not None
        assert (head["last_id"], head["last_hash"]) == (last["id"], last["hash"])
    finally:
        await writer.close()
        await reader.close()


async def test_an_audited_commit_waits_for_no_chain_lock_and_is_chained_after(
    world: World, db_dsn: str
) -> None:
    """A request's audit record commits into audit_pending without the chain lock: the request
    commits while another transaction holds the lock, and the next chaining puts its record
    after the records chained before it."""
    op = await _operator(world, "clerk_a")
    locker = await asyncpg.connect(db_dsn)
    try:
        held = locker.transaction()
        await held.start()
        await locker.execute(_AUDIT_ROW)  # holds the chain lock until it commits
        async with world.store.transaction() as tx:
            # a wait for the chain lock would fail the commit instead of hanging the test
            await tx.connection.execute("SET LOCAL lock_timeout = '10s'")
            await tx.audit(op, "query_status", None, "read", detail="committed while locked")
        assert await world.store.executor.fetchval("SELECT count(*) FROM audit_pending") == 1
        await held.commit()
        assert await world.store.chain_pending_audit() == 1
        trail = await locker.fetch("SELECT detail FROM audit_log ORDER BY id")
        assert [r["detail"] for r in trail][-2:] == ["", "committed while locked"]
        assert await locker.fetchval("SELECT count(*) FROM audit_pending") == 0
    finally:
        await locker.close()
    report = await audit.verify(world.store)
    assert report.broken is None


async def test_every_server_chains_the_pending_records_each_second(
    world: World, rt: Runtime
) -> None:
    await world.new_card()
    pending = "SELECT count(*) FROM audit_pending"
    assert await world.store.executor.fetchval(pending) == 1
    loop = asyncio.create_task(maintain_forever(rt, every=0.05))
    try:
        for _ in range(200):  # the loop's first pass chains it; 10 s at most
            if await world.store.executor.fetchval(pending) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert await world.store.executor.fetchval(pending) == 0
    assert (await audit.verify(world.store)).checked == 1


async def test_a_rolled_back_transaction_leaves_no_record_pending_or_chained(world: World) -> None:
    op = await _operator(world, "clerk_a")
    before = await audit.verify(world.store)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with world.store.transaction() as tx:
            await tx.audit(op, "query_status", None, "read", detail="never committed")
            raise Abandoned
    after = await audit.verify(world.store)
    assert after.checked == before.checked and after.broken is None
    async with world.store.connected() as s:
        assert await s.connection.fetchval("SELECT count(*) FROM audit_pending") == 0
