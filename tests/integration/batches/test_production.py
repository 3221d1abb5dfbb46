"""A batch in production: progress, failing a dead card, completion, documents, scope."""

from __future__ import annotations

from typing import Any

from tests.integration.api.world import World
from tests.integration.batches.helpers import batch_people, submit


async def _claim(world: World, site: str, limit: int) -> list[int]:
    r = await world.post("central_a", "/v1/agent/claim", {
        "worker": "line-1", "site": site, "capabilities": ["print_encode"], "limit": limit,
        "wait_seconds": 0,
    })  # fmt: skip
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["jobs"]]


async def _complete(world: World, job_id: int, printer: str) -> None:
    r = await world.post("central_a", f"/v1/agent/jobs/{job_id}/complete",
                         {"worker": "line-1", "result": {"printer": printer}})  # fmt: skip
    assert r.status_code == 204, r.text


async def _progress(world: World, batch: str, who: str = "clerk_a") -> dict[str, Any]:
    r = await world.client.get(f"/v1/batches/{batch}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_batch_runs_to_completion_with_one_card_failed_by_a_supervisor(
    world: World,
) -> None:
    r = await submit(world, batch_people(6, seed=12))
    assert r.status_code == 201, r.text
    batch, site = r.json()["batch"]["id"], r.json()["batch"]["site"]
    first = await _progress(world, batch)
    assert (first["remaining"], first["done"], first["complete"]) == (6, 0, False)
    assert first["cards_per_hour"] is None and first["estimated_finish"] is None

    jobs = await _claim(world, site, 6)
    assert len(jobs) == 6
    for n, job_id in enumerate(jobs[:5]):
        await _complete(world, job_id, f"P{n % 2}")
    failed = await world.post("central_a", f"/v1/agent/jobs/{jobs[5]}/fail", {
        "worker": "line-1", "error": "chip broken", "transient": False, "spoiled_card": True,
        "printer": "P1",
    })  # fmt: skip
    assert failed.status_code == 200, failed.text
    dead = await _progress(world, batch)
    assert (dead["done"], dead["failed"], dead["remaining"], dead["spoiled"]) == (5, 1, 0, 1)
    assert dead["complete"] is True  # a dead-lettered job counts as failed
    assert dead["cards_per_hour"] is not None and dead["cards_per_hour"] > 0

    card = await world.store.card_by_job(jobs[5])
    assert card is not None
    path = f"/v1/batches/{batch}/cards/{card.card_number}/fail"
    refused = await world.post("clerk_a", path, {"reason": "chip defect"})
    assert refused.status_code == 403, refused.text
    done = await world.post("supervisor_a", path, {"reason": "chip defect"})
    assert done.status_code == 200, done.text
    assert done.json()["failed"] == 1
    assert (await world.store.card(card.id)).status.value == "spoiled"

    for doc in ("manifest.pdf", "report.pdf"):
        pdf = await world.client.get(f"/v1/batches/{batch}/{doc}", headers=world.auth("clerk_a"))
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")


async def test_another_bank_cannot_see_a_batch(world: World) -> None:
    r = await submit(world, batch_people(2, seed=13))
    batch = r.json()["batch"]["id"]
    other = await world.client.get(f"/v1/batches/{batch}", headers=world.auth("clerk_b"))
    assert other.status_code == 404
    missing = await world.client.get("/v1/batches/B20260101-999999", headers=world.auth("clerk_a"))
    assert missing.status_code == 404
    assert other.json()["code"] == missing.json()["code"]
