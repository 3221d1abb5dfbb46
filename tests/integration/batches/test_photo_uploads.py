"""A batch's photos are written ahead of its transaction: kept when it commits, deleted when
it fails (whether the service or its caller owns the transaction), swept when its process died.
An API process takes a bounded number of batches at once, so they never hold its whole pool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from issuance.api.batches import BATCHES_AT_ONCE
from issuance.services import batches
from issuance.services.batches import Submission, sweep_uploads
from issuance.store import Operator
from issuance.store.store import PHOTO_CONTEXT, open_bytes
from issuance.vault import is_sealed
from sscard_core.errors import BatchRejected
from tests.integration.api.world import World
from tests.integration.batches.helpers import batch_people, submit, table_count
from tests.unit.batches.builders import batch_csv, photo_zip, portrait, with_name

UPLOAD_TABLES = ("holder_photos", "photo_uploads")


async def _clerk(world: World) -> Operator:
    op = await world.store.operator_by_token(world.tokens["clerk_a"])
    assert op is not None
    return op


async def test_a_batch_the_service_rejects_late_leaves_no_photo(world: World) -> None:
    persons = batch_people(1_300, seed=40)
    persons[-1] = with_name(persons[-1], "")
    submission = Submission(batch_csv(persons).encode(), photo_zip(persons))
    with pytest.raises(BatchRejected):
        await batches.submit(world.store, world.queue, await _clerk(world), submission)
    for table in (*UPLOAD_TABLES, "cards", "batches"):
        assert await table_count(world, table) == 0, table


async def test_an_accepted_batch_keeps_its_photos_and_closes_its_upload(world: World) -> None:
    photo = portrait(seed=3)
    persons = batch_people(600, seed=41)
    r = await submit(world, persons, archive=photo_zip(persons, photo))
    assert r.status_code == 201, r.text
    assert await table_count(world, "photo_uploads") == 0
    assert await table_count(world, "holder_photos") == 600
    async with world.store.transaction() as tx:
        shown = await tx.connection.fetch(
            "SELECT p.image, p.upload FROM cards c JOIN holder_photos p ON p.id = c.photo"
        )
    assert len(shown) == 600
    opened = {(open_bytes(world.store.vault, bytes(r["image"]), PHOTO_CONTEXT), r["upload"])
              for r in shown}  # fmt: skip
    assert opened == {(photo, r.json()["batch"]["id"])}
    assert all(is_sealed(bytes(r["image"])) for r in shown)


async def _upload(world: World, batch: str, count: int) -> None:
    await world.store.open_upload(batch)
    await world.store.insert_photos([(portrait(), "image/jpeg")] * count, upload=batch)


async def test_the_sweep_deletes_failed_and_stale_uploads_and_keeps_the_live_one(
    world: World,
) -> None:
    await _upload(world, "B20261129-000001", 3)  # failed
    await _upload(world, "B20261129-000002", 2)  # its process died two hours ago
    await _upload(world, "B20261129-000003", 4)  # still being written
    await world.store.fail_upload("B20261129-000001")
    async with world.store.transaction() as tx:
        await tx.connection.execute(
            "UPDATE photo_uploads SET at = now() - interval '2 hours' WHERE batch = $1",
            "B20261129-000002",
        )
    assert await sweep_uploads(world.store) == 2
    async with world.store.transaction() as tx:
        left = await tx.connection.fetch("SELECT upload, count(*) FROM holder_photos GROUP BY 1")
        uploads = await tx.connection.fetch("SELECT batch FROM photo_uploads")
    assert [(r["upload"], r["count"]) for r in left] == [("B20261129-000003", 4)]
    assert [r["batch"] for r in uploads] == ["B20261129-000003"]
    assert await sweep_uploads(world.store) == 0


async def test_an_api_process_takes_two_batches_at_once_and_the_rest_wait(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = 0
    most = 0
    real = batches.submit

    async def counting(*args: Any, **kwargs: Any) -> batches.Accepted:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            await asyncio.sleep(0.2)
            return await real(*args, **kwargs)
        finally:
            inside -= 1

    monkeypatch.setattr(batches, "submit", counting)
    groups = [batch_people(3, seed=50 + n) for n in range(5)]
    responses = await asyncio.gather(*(submit(world, persons) for persons in groups))
    assert [r.status_code for r in responses] == [201] * 5
    assert most == BATCHES_AT_ONCE == 2
