"""A supervisor cancels or redrives a dead-lettered job; a cancelled card job spoils its card."""

from __future__ import annotations

from typing import Any

import pytest

from sscard_core.messages import JobState, JobStep
from tests.clock import later
from tests.integration.api.world import World

CLAIM = {"worker": "w1", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0}


async def _claim(world: World) -> int:
    r = await world.post("agent_a", "/v1/agent/claim", CLAIM)
    assert r.status_code == 200, r.text
    (job,) = r.json()["jobs"]
    return int(job["id"])


async def _dead_card(world: World) -> tuple[dict[str, Any], int]:
    card = await world.new_card(wait=True)
    job_id = await _claim(world)
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job_id}/fail",
        {"worker": "w1", "error": "chip rejected the personalisation", "transient": False},
    )
    assert r.json() == {"state": "dead"}
    return card, job_id


async def _status(world: World, number: str) -> str:
    card = await world.store.card_by_number(number)
    assert card is not None
    return card.status.value


async def _events(world: World, number: str) -> list[tuple[str, str | None, str, str]]:
    card = await world.store.card_by_number(number)
    assert card is not None
    return [
        (e.action, e.from_status, e.to_status, e.note)
        for e in await world.store.events_of_card(card.id)
    ]


async def test_cancelling_a_dead_card_job_spoils_its_card(world: World) -> None:
    card, job_id = await _dead_card(world)
    assert await _status(world, card["card_number"]) == "in_production"
    r = await world.post(
        "supervisor_a", f"/v1/jobs/{job_id}/cancel", {"reason": "card body lost"}, key="c-1"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["job_id"], body["state"]) == (job_id, "cancelled")
    assert (body["card"]["card_number"], body["card"]["status"]) == (card["card_number"], "spoiled")
    assert (await world.queue.get(job_id)).state is JobState.CANCELLED
    assert (await _events(world, card["card_number"]))[-1] == (
        "spoil",
        "in_production",
        "spoiled",
        f"job {job_id} cancelled: card body lost",
    )
    again = await world.post(
        "supervisor_a", f"/v1/jobs/{job_id}/cancel", {"reason": "card body lost"}, key="c-1"
    )
    assert again.json() == body


async def test_a_failed_reconciliation_then_a_cancel_spoils_the_card(world: World) -> None:
    card = await world.new_card(wait=True)
    job_id = await _claim(world)
    await world.queue.heartbeat("w1", [job_id], JobStep.PRINTING)
    assert (job_id, JobState.IN_DOUBT) in await world.queue.at(later()).reap_expired()
    early = await world.post("supervisor_a", f"/v1/jobs/{job_id}/cancel", {"reason": "x"})
    assert (early.status_code, early.json()["code"]) == (409, "job_not_cancellable")
    r = await world.post(
        "supervisor_a",
        f"/v1/agent/jobs/{job_id}/reconcile",
        {"outcome": "failed", "note": "card jammed and was torn"},
    )
    assert r.status_code == 204
    assert (await world.queue.get(job_id)).state is JobState.DEAD
    assert await _status(world, card["card_number"]) == "in_production"
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/cancel", {"reason": "torn"})
    assert r.status_code == 200, r.text
    assert await _status(world, card["card_number"]) == "spoiled"


async def test_a_cancel_interrupted_after_the_queue_step_is_finished_by_repeating_it(
    world: World,
) -> None:
    card, job_id = await _dead_card(world)
    await world.queue.cancel(job_id, "cancelled, then the service stopped")
    assert await _status(world, card["card_number"]) == "in_production"
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/cancel", {"reason": "again"})
    assert r.status_code == 200, r.text
    assert await _status(world, card["card_number"]) == "spoiled"
    spoils = [e for e in await _events(world, card["card_number"]) if e[0] == "spoil"]
    assert len(spoils) == 1


async def test_redriving_a_dead_job_lets_the_card_be_made(world: World) -> None:
    card, job_id = await _dead_card(world)
    dead = await world.queue.get(job_id)
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/redrive")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["card"]["status"]) == ("queued", "in_production")
    job = await world.queue.get(job_id)
    # a fresh set of attempts; the count goes on, so no attempt number names two runs
    assert (job.state, job.attempts) == (JobState.QUEUED, dead.attempts)
    assert job.max_attempts == dead.attempts + dead.max_attempts
    assert await _claim(world) == job_id
    done = await world.post("agent_a", f"/v1/agent/jobs/{job_id}/complete", {"worker": "w1"})
    assert done.status_code == 204
    assert await _status(world, card["card_number"]) == "ready"


async def test_only_a_dead_job_is_redriven(world: World) -> None:
    card = await world.new_card(wait=True)
    r = await world.post("supervisor_a", f"/v1/jobs/{card['job_id']}/redrive")
    assert (r.status_code, r.json()["code"], r.json()["state"]) == (409, "job_not_dead", "queued")


async def test_a_running_job_is_not_cancelled(world: World) -> None:
    card = await world.new_card(wait=True)
    await _claim(world)
    r = await world.post("supervisor_a", f"/v1/jobs/{card['job_id']}/cancel", {"reason": "x"})
    assert (r.status_code, r.json()["code"]) == (409, "job_not_cancellable")
    assert await _status(world, card["card_number"]) == "in_production"


@pytest.mark.parametrize("action", ["cancel", "redrive"])
async def test_another_banks_job_looks_missing(world: World, action: str) -> None:
    _, job_id = await _dead_card(world)
    body = {"reason": "x"} if action == "cancel" else None
    foreign = await world.post("supervisor_b", f"/v1/jobs/{job_id}/{action}", body)
    missing = await world.post("supervisor_b", f"/v1/jobs/{job_id + 10_000}/{action}", body)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "job_not_found"
    assert (await world.queue.get(job_id)).state is JobState.DEAD


@pytest.mark.parametrize("who", ["clerk_a", "agent_a", "admin_a", "auditor"])
async def test_only_a_supervisor_decides(world: World, who: str) -> None:
    _, job_id = await _dead_card(world)
    r = await world.post(who, f"/v1/jobs/{job_id}/cancel", {"reason": "x"})
    assert r.status_code == 403
    assert (await world.queue.get(job_id)).state is JobState.DEAD


async def test_cancelling_a_dead_pin_job_leaves_the_card_as_it_was(world: World) -> None:
    card = await world.issued()
    r = await world.post("clerk_a", f"/v1/cards/{card['card_number']}/pin-reset")
    assert r.status_code == 202, r.text
    claim = {**CLAIM, "capabilities": ["encode"]}
    (job,) = (await world.post("agent_a", "/v1/agent/claim", claim)).json()["jobs"]
    failed = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job['id']}/fail",
        {"worker": "w1", "error": "the two entries of the new PIN differ", "transient": False},
    )
    assert failed.json() == {"state": "dead"}
    r = await world.post("supervisor_a", f"/v1/jobs/{job['id']}/cancel", {"reason": "holder left"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["card"]) == ("cancelled", None)
    assert await _status(world, card["card_number"]) == "issued"
