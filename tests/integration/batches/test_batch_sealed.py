"""A batch's holders, photos, cards and jobs reach the database sealed."""

from __future__ import annotations

from dataclasses import replace

from issuance.runtime import Runtime
from tests.integration.api.world import World
from tests.integration.batches.helpers import batch_people, submit
from tests.integration.plaintext import occurrences


async def test_no_table_holds_a_batch_applicants_plain_id_name_or_phone(
    world: World, rt: Runtime
) -> None:
    persons = [replace(p, phone=f"1391234{i:04d}") for i, p in enumerate(batch_people(20, 77))]
    r = await submit(world, persons)
    assert r.status_code == 201, r.text
    batch = r.json()["batch"]["id"]
    needles = [v for p in persons for v in (p.citizen_id, p.name, p.phone)]
    async with rt.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM holders") == len(persons)
        assert await occurrences(conn, needles) == []
    # the manifest, which opens them, still names every applicant
    entries = await world.store.batch_entries(batch)
    assert sorted(e.name for e in entries) == sorted(p.name for p in persons)
