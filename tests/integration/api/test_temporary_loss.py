"""挂失: a temporary loss lapses after TEMPORARY_LOSS_DAYS unless made formal or lifted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from issuance.domain.lifecycle import TEMPORARY_LOSS_DAYS
from issuance.runtime import Runtime
from issuance.services.cards import lapse_temporary_losses
from issuance.store.store import Q
from tests.integration.api.world import World


async def _lose(world: World, pool: asyncpg.Pool, kind: str, *, days_ago: float) -> str:
    card = await world.active()
    number = card["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/loss", {"kind": kind})
    assert r.status_code == 200, r.text
    await pool.execute(
        "UPDATE card_events SET at = now() - make_interval(secs => $2)"
        " WHERE card = (SELECT id FROM cards WHERE card_number = $1) AND to_status LIKE 'lost_%'",
        number, days_ago * 86400,
    )  # fmt: skip
    return str(number)


async def _status(world: World, number: str) -> str:
    r = await world.client.get(f"/v1/cards/{number}", headers=world.auth("clerk_a"))
    assert r.status_code == 200, r.text
    return str(r.json()["card"]["status"])


async def test_old_temporary_losses_lapse_and_others_stay(world: World, rt: Runtime) -> None:
    old = await _lose(world, rt.pool, "temporary", days_ago=TEMPORARY_LOSS_DAYS + 1)
    recent = await _lose(world, rt.pool, "temporary", days_ago=TEMPORARY_LOSS_DAYS - 1)
    formal = await _lose(world, rt.pool, "formal", days_ago=TEMPORARY_LOSS_DAYS + 10)
    changed = await lapse_temporary_losses(rt.store, datetime.now(UTC))
    assert len(changed) == 1
    assert await _status(world, old) == "active"
    assert await _status(world, recent) == "lost_temporary"
    assert await _status(world, formal) == "lost_formal"
    events = await rt.pool.fetch(
        "SELECT action, from_status, to_status FROM card_events"
        " WHERE card = (SELECT id FROM cards WHERE card_number = $1) ORDER BY id",
        old,
    )
    assert tuple(events[-1]) == ("lapse_temporary_loss", "lost_temporary", "active")
    # lapsing again changes nothing
    assert await lapse_temporary_losses(rt.store, datetime.now(UTC)) == []


async def test_nothing_lapses_before_its_time(world: World, rt: Runtime) -> None:
    number = await _lose(world, rt.pool, "temporary", days_ago=0)
    later = datetime.now(UTC) + timedelta(days=TEMPORARY_LOSS_DAYS - 1)
    assert await lapse_temporary_losses(rt.store, later) == []
    assert await _status(world, number) == "lost_temporary"


def _scans(plan: dict[str, object]) -> list[tuple[str, str]]:
    """(node type, index or table) of every scan in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if "Scan" in str(plan["Node Type"]):
        named = plan.get("Index Name", plan.get("Relation Name"))
        found.append((str(plan["Node Type"]), str(named)))
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        found += _scans(child)
    return found


async def test_the_minute_look_reads_only_the_lost_cards(rt: Runtime) -> None:
    """Every API process runs the look once a minute: it must not read the whole cards table
    (with sequential scans off, a missing index still shows as one)."""
    async with rt.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute(
            "PREPARE lapse(timestamptz, text, text, text) AS " + Q["lapse_temporary_losses"]
        )
        try:
            raw = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) EXECUTE lapse(now(), 'lapse_temporary_loss', 'active', '')"
            )
        finally:
            await conn.execute("DEALLOCATE lapse")
    scans = _scans(orjson.loads(raw)[0]["Plan"])
    assert ("Index Scan", "cards_lost_temporary") in scans, scans
    assert not [s for s in scans if s[1] == "cards" and s[0] != "Bitmap Heap Scan"], scans
