"""The outlet agent's contract: claim, heartbeat, complete, fail, reconcile, photos, printers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from issuance.api.app import create_app
from issuance.runtime import Runtime
from issuance.services import dispatch as agent_service
from sscard_core.messages import JobState, JobStep
from tests.clock import later
from tests.integration.api.world import World

CLAIM = {"worker": "w1", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0}


async def _claim(world: World, **changes: Any) -> list[dict[str, Any]]:
    r = await world.post("agent_a", "/v1/agent/claim", {**CLAIM, **changes})
    assert r.status_code == 200, r.text
    jobs: list[dict[str, Any]] = r.json()["jobs"]
    return jobs


async def test_claim_complete_round_trip_makes_the_card_ready(world: World) -> None:
    card = await world.new_card(wait=True)
    (job,) = await _claim(world)
    assert set(job) == {"id", "kind", "priority", "attempts", "lease_seconds", "payload"}
    assert (job["id"], job["kind"], job["priority"], job["attempts"]) == (
        card["job_id"],
        "card",
        0,
        1,
    )
    payload = job["payload"]
    assert set(payload) == {"card_id", "card", "photo_url", "outlet"}
    assert payload["photo_url"] == f"/v1/agent/jobs/{job['id']}/photo"
    assert payload["outlet"] == "A1"
    assert payload["card"]["card_number"] == card["card_number"]
    assert payload["card"]["issue_date"] == card["issue_date"]
    photo = await world.client.get(payload["photo_url"], headers=world.auth("agent_a"))
    assert photo.content.startswith(b"\xff\xd8\xff")
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job['id']}/complete",
        {"worker": "w1", "result": {"chip_serial": "01"}},
    )
    assert r.status_code == 204
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None and stored.status.value == "ready"
    events = await world.store.events_of_card(stored.id)
    assert (events[-1].from_status, events[-1].to_status) == ("in_production", "ready")


async def test_claim_times_out_empty(world: World) -> None:
    assert await _claim(world, wait_seconds=0.3) == []


async def test_a_waiting_claim_is_woken_by_the_enqueue(
    world: World, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with no fallback poll inside the wait, only the enqueue's NOTIFY can end it with a job
    monkeypatch.setattr(agent_service, "FALLBACK_POLL_SECONDS", 3600.0)
    waiting = asyncio.create_task(_claim(world, wait_seconds=30))
    while rt.wakeups.watching("A1") == 0:  # noqa: ASYNC110 - until the claim waits for its site
        await asyncio.sleep(0.01)
    card = await world.new_card(wait=True)
    jobs = await waiting
    assert [j["id"] for j in jobs] == [card["job_id"]]
    assert rt.wakeups.watching("A1") == 0  # the waiter is gone with its request


async def test_heartbeat_after_losing_the_lease_is_409(world: World) -> None:
    await world.new_card(wait=True)
    (job,) = await _claim(world)
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job['id']}/heartbeat",
        {"worker": "somebody-else", "step": "printing"},
    )
    assert (r.status_code, r.json()["code"]) == (409, "lease_lost")


async def test_a_spoiled_card_is_recorded(world: World) -> None:
    card = await world.new_card(wait=True)
    (job,) = await _claim(world)
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job['id']}/fail",
        {
            "worker": "w1",
            "error": "chip write failed",
            "transient": True,
            "spoiled_card": True,
            "printer": "evolis-1",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"state": "queued"}
    (spoiled,) = await world.store.spoiled_of_job(job["id"])
    assert (spoiled["printer"], spoiled["reason"]) == ("evolis-1", "chip write failed")
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None and spoiled["card"] == stored.id


async def test_a_permanent_failure_dead_letters_the_job(world: World) -> None:
    await world.new_card(wait=True)
    (job,) = await _claim(world)
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job['id']}/fail",
        {"worker": "w1", "error": "bad data", "transient": False},
    )
    assert r.json() == {"state": "dead"}


async def _in_doubt(world: World) -> tuple[dict[str, Any], int]:
    card = await world.new_card(wait=True)
    (job,) = await _claim(world)
    await world.queue.heartbeat("w1", [job["id"]], JobStep.PRINTING)
    assert (job["id"], JobState.IN_DOUBT) in await world.queue.at(later()).reap_expired()
    return card, job["id"]


async def test_a_supervisor_settles_an_in_doubt_job_as_made(world: World) -> None:
    card, job_id = await _in_doubt(world)
    r = await world.post(
        "supervisor_a",
        f"/v1/agent/jobs/{job_id}/reconcile",
        {"outcome": "made", "note": "card found in the output hopper"},
    )
    assert r.status_code == 204, r.text
    stored = await world.store.card_by_number(card["card_number"])
    assert stored is not None and stored.status.value == "ready"


async def test_not_started_sends_the_job_back(world: World) -> None:
    _, job_id = await _in_doubt(world)
    r = await world.post(
        "agent_a",
        f"/v1/agent/jobs/{job_id}/reconcile",
        {"outcome": "not_started", "note": "journal: nothing fed"},
    )
    assert r.status_code == 204
    assert (await world.queue.get(job_id)).state is JobState.QUEUED


async def test_printer_faults_are_reported_and_cleared(world: World) -> None:
    r = await world.client.put(
        "/v1/agent/printers/evolis-1",
        headers=world.auth("agent_a"),
        json={"site": "A1", "status": "faulted", "fault": "ribbon_out"},
    )
    assert r.status_code == 204
    listed = await world.client.get("/v1/agent/printers?site=A1", headers=world.auth("agent_a"))
    assert listed.json() == {
        "printers": [{"name": "evolis-1", "status": "faulted", "fault": "ribbon_out"}]
    }
    r = await world.post("supervisor_a", "/v1/outlets/A1/printers/evolis-1/clear")
    assert r.status_code == 204
    listed = await world.client.get("/v1/agent/printers?site=A1", headers=world.auth("agent_a"))
    assert listed.json()["printers"][0] == {"name": "evolis-1", "status": "ok", "fault": None}
    other = await world.post("clerk_b", "/v1/outlets/A1/printers/evolis-1/clear")
    assert other.status_code == 403


async def test_the_lifespan_reaper_releases_expired_leases(world: World, rt: Runtime) -> None:
    await world.new_card(wait=True)
    (job,) = await _claim(world)
    await world.queue.heartbeat("w1", [job["id"]], JobStep.IDLE, lease_seconds=0.001)
    app = create_app(rt)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if (await world.queue.get(job["id"])).state is JobState.QUEUED:
                break
            await asyncio.sleep(0.1)
    assert (await world.queue.get(job["id"])).state is JobState.QUEUED
