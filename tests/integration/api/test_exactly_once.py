"""A card whose printing may have completed is settled by evidence, never by inference.

The agent announces ``printing`` before the printer is told to print; from
then on the service knows the card may physically exist, and refuses to
redrive, cancel or reorder its job until evidence settles the print: the
agent's report after its printer answered, the card's chip read from the
hopper, or a supervisor's word that no such card exists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from issuance.runtime import Runtime
from sscard_core.errors import ConflictError
from sscard_core.messages import JobState, JobStep
from tests.integration.api.world import World

DEAD_PORT = 18399  # nothing listens here
CLAIM = {"worker": "w1", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0}


async def _printing_in_doubt(world: World) -> tuple[dict[str, Any], int]:
    """A card job whose agent announced printing, then vanished (its lease ran out)."""
    card = await world.new_card(wait=True)
    r = await world.post("agent_a", "/v1/agent/claim", CLAIM)
    (job,) = r.json()["jobs"]
    job_id = int(job["id"])
    beat = {"worker": "w1", "step": "printing"}
    r = await world.post("agent_a", f"/v1/agent/jobs/{job_id}/heartbeat", beat)
    assert r.status_code == 204, r.text
    await world.queue.heartbeat("w1", [job_id], JobStep.PRINTING, lease_seconds=0.001)
    await asyncio.sleep(0.01)
    assert (job_id, JobState.IN_DOUBT) in await world.queue.reap_expired()
    return card, job_id


def _read_back(card: dict[str, Any]) -> dict[str, Any]:
    return {"card_number": card["card_number"], "card_identifier": card["card_identifier"]}


async def _status(world: World, number: str) -> str:
    found = await world.store.card_by_number(number)
    assert found is not None
    return found.status.value


async def test_a_job_whose_card_may_exist_is_not_redriven_cancelled_or_guessed(
    world: World,
) -> None:
    card, job_id = await _printing_in_doubt(world)
    guess = {"outcome": "failed", "note": "probably jammed"}
    r = await world.post("supervisor_a", f"/v1/agent/jobs/{job_id}/reconcile", guess)
    assert (r.status_code, r.json()["code"]) == (409, "card_may_exist")
    assert card["card_number"] in r.json()["message"]
    assert "evidence" in r.json()["message"]
    for path, body in ((f"/v1/jobs/{job_id}/redrive", None), (f"/v1/jobs/{job_id}/cancel",
                                                              {"reason": "x"})):  # fmt: skip
        r = await world.post("supervisor_a", path, body)
        assert r.status_code == 409, r.text
    assert (await world.queue.get(job_id)).state is JobState.IN_DOUBT


async def test_the_card_read_from_the_hopper_settles_the_job_made(world: World) -> None:
    card, job_id = await _printing_in_doubt(world)
    wrong = {**_read_back(card), "card_number": "X99999999"}
    r = await world.post(
        "supervisor_a", f"/v1/jobs/{job_id}/evidence", {"kind": "card_read", "read_back": wrong}
    )
    assert (r.status_code, r.json()["code"]) == (409, "evidence_mismatch")
    body = {"kind": "card_read", "read_back": _read_back(card), "note": "found in p1's hopper"}
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/evidence", body, key="e-1")
    assert r.status_code == 200, r.text
    assert r.json() == {"job_id": job_id, "state": "succeeded"}
    assert (await world.queue.get(job_id)).state is JobState.SUCCEEDED
    assert await _status(world, card["card_number"]) == "ready"
    assert await world.store.spoiled_of_job(job_id) == []


async def test_no_such_card_settles_it_dead_with_one_spoiled_body_and_then_it_is_redriven(
    world: World,
) -> None:
    card, job_id = await _printing_in_doubt(world)
    body = {"kind": "no_card", "note": "not in the hopper nor the reject box", "printer": "p1"}
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/evidence", body)
    assert r.json() == {"job_id": job_id, "state": "dead"}
    (spoiled,) = await world.store.spoiled_of_job(job_id)
    assert spoiled["printer"] == "p1"
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/redrive")
    assert r.status_code == 200, r.text
    assert await _status(world, card["card_number"]) == "in_production"


async def test_the_agents_evidence_settles_a_spoiled_body_once(world: World) -> None:
    _, job_id = await _printing_in_doubt(world)
    report = {
        "outcome": "failed", "note": "stuck half-printed in p1 (counter 4 -> 5)",
        "spoiled_card": True, "printer": "p1",
    }  # fmt: skip
    r = await world.post("agent_a", f"/v1/agent/jobs/{job_id}/reconcile", report)
    assert r.status_code == 204, r.text
    again = await world.post("agent_a", f"/v1/agent/jobs/{job_id}/reconcile", report)
    assert again.status_code == 404  # no longer in doubt: nothing recorded twice
    (spoiled,) = await world.store.spoiled_of_job(job_id)
    assert (spoiled["printer"], spoiled["reason"]) == ("p1", report["note"])
    r = await world.post("supervisor_a", f"/v1/jobs/{job_id}/redrive")
    assert r.status_code == 200, r.text


async def test_a_card_number_gets_one_print_that_may_exist(world: World) -> None:
    await world.store.insert_print(101, 1, "A77777777", "w1")
    await world.store.insert_print(101, 1, "A77777777", "w1")  # the same announcement again
    with pytest.raises(ConflictError) as refused:
        await world.store.insert_print(101, 2, "A77777777", "w1")
    assert refused.value.code == "card_already_printed"


async def test_a_restarted_agent_gets_back_its_idle_jobs_at_once(world: World) -> None:
    await world.new_card(wait=True)
    await world.new_card(wait=True)
    r = await world.post("agent_a", "/v1/agent/claim", {**CLAIM, "limit": 2})
    first, second = (int(j["id"]) for j in r.json()["jobs"])
    r = await world.post("agent_a", "/v1/agent/release", {"worker": "w1", "keep": [second]})
    assert r.json() == {"released": [first]}
    job = await world.queue.get(first)
    # not counted against its budget, but its number is not reused either
    assert (job.state, job.attempts, job.max_attempts) == (JobState.QUEUED, 1, 6)
    assert (await world.queue.get(second)).state is JobState.RUNNING


async def test_with_the_database_down_every_route_answers_503_with_retry_after(
    world: World, rt: Runtime
) -> None:
    dead = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{DEAD_PORT}/x", min_size=0)
    live, rt._pool = rt._pool, dead
    try:
        for method, path, body in (
            ("GET", "/health", None),
            ("POST", "/v1/agent/claim", CLAIM),
            ("GET", "/v1/queue/stats", None),
            ("POST", "/v1/jobs/1/redrive", None),
        ):
            r = await world.client.request(method, path, json=body, headers=world.auth("agent_a"))
            assert r.status_code == 503, (path, r.text)
            assert r.headers["Retry-After"].isdigit()
            assert r.json()["code"] == "database_unavailable"
    finally:
        rt._pool = live
        await dead.close()


async def _handed_out_again(world: World) -> tuple[int, str]:
    """A card job whose first agent's feed never reached the service: its lease ran out at
    step idle, so the job was handed out again (attempt 2, to worker w2)."""
    card = await world.new_card(wait=True)
    r = await world.post("agent_a", "/v1/agent/claim", CLAIM)
    (job,) = r.json()["jobs"]
    job_id = int(job["id"])
    await world.queue.heartbeat("w1", [job_id], JobStep.IDLE, lease_seconds=0.001)
    await asyncio.sleep(0.01)
    assert (job_id, JobState.QUEUED) in await world.queue.reap_expired()
    r = await world.post("agent_a", "/v1/agent/claim", {**CLAIM, "worker": "w2"})
    assert [int(j["id"]) for j in r.json()["jobs"]] == [job_id]
    assert (await world.queue.get(job_id)).attempts == 2
    return job_id, str(card["card_number"])


async def test_a_body_an_earlier_attempt_fed_is_recorded_once_whatever_the_job_became(
    world: World,
) -> None:
    job_id, _ = await _handed_out_again(world)
    body = {"worker": "w1", "attempt": 1, "printer": "p1", "cause": "body rejected at restart"}
    path = f"/v1/agent/jobs/{job_id}/spoiled"
    first = await world.post("agent_a", path, body)
    assert (first.status_code, first.json()) == (200, {"recorded": True}), first.text
    again = await world.post("agent_a", path, body)  # the report retried
    assert again.json() == {"recorded": False}
    r = await world.post("agent_a", f"/v1/agent/jobs/{job_id}/complete",
                         {"worker": "w2", "result": {}})  # fmt: skip
    assert r.status_code == 204, r.text
    late = await world.post("agent_a", path, body)  # and once the job is settled
    assert late.json() == {"recorded": False}
    (spoiled,) = await world.store.spoiled_of_job(job_id)
    assert (spoiled["printer"], spoiled["reason"]) == ("p1", body["cause"])
    r = await world.post("clerk_a", path, body)
    assert r.status_code in (403, 404), r.text


async def test_an_agent_reconciles_only_the_attempt_its_run_made(world: World) -> None:
    job_id, _ = await _handed_out_again(world)
    await world.queue.heartbeat("w2", [job_id], JobStep.FED, lease_seconds=0.001)
    await asyncio.sleep(0.01)
    assert (job_id, JobState.IN_DOUBT) in await world.queue.reap_expired()
    report = {"outcome": "failed", "note": "rejected", "spoiled_card": True, "printer": "p1"}
    path = f"/v1/agent/jobs/{job_id}/reconcile"
    stale = await world.post("agent_a", path, {**report, "attempt": 1})
    assert stale.status_code == 404, stale.text  # attempt 1's run may not settle attempt 2
    assert (await world.queue.get(job_id)).state is JobState.IN_DOUBT
    r = await world.post("agent_a", path, {**report, "attempt": 2})
    assert r.status_code == 204, r.text
    (spoiled,) = await world.store.spoiled_of_job(job_id)
    assert spoiled["printer"] == "p1"
