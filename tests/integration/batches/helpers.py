"""Helpers of the batch API tests: posting batch files and counting rows."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.api.world import World
from tests.unit.batches.builders import Person, batch_csv, people, photo_zip


async def submit(
    world: World,
    persons: list[Person],
    *,
    who: str = "clerk_a",
    params: dict[str, Any] | None = None,
    encoding: str = "utf-8",
    archive: bytes | None = None,
) -> httpx.Response:
    """POST a CSV batch and its photo zip as multipart."""
    files = {
        "file": ("batch.csv", batch_csv(persons).encode(encoding), "text/csv"),
        "photos": ("photos.zip", archive if archive is not None else photo_zip(persons),
                   "application/zip"),
    }  # fmt: skip
    return await world.client.post(
        "/v1/batches", files=files, params=params or {}, headers=world.auth(who)
    )


async def table_count(world: World, table: str) -> int:
    async with world.store.transaction() as tx:
        return int(await tx.connection.fetchval(f"SELECT count(*) FROM {table}"))


def batch_people(count: int, seed: int = 5) -> list[Person]:
    return people(count, seed=seed)
