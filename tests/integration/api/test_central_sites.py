"""Each bank's central line is its own site: a central agent claims only its own bank's jobs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.world import World


def _claim_body(site: str) -> dict[str, Any]:
    return {
        "worker": "line",
        "site": site,
        "capabilities": ["print_encode"],
        "limit": 10,
        "wait_seconds": 0,
    }


async def _claimed_ids(world: World, agent: str, site: str) -> set[int]:
    r = await world.post(agent, "/v1/agent/claim", _claim_body(site))
    assert r.status_code == 200, r.text
    return {j["id"] for j in r.json()["jobs"]}


async def test_two_banks_two_central_agents_each_get_only_their_own_cards(world: World) -> None:
    a_cards = [await world.new_card("clerk_a", wait=False) for _ in range(3)]
    b_cards = [await world.new_card("clerk_b", wait=False) for _ in range(2)]
    assert {await world.site_of(c) for c in a_cards} == {"central:BKA"}
    assert {await world.site_of(c) for c in b_cards} == {"central:BKB"}
    assert await _claimed_ids(world, "central_b", "central:BKB") == {c["job_id"] for c in b_cards}
    assert await _claimed_ids(world, "central_a", "central:BKA") == {c["job_id"] for c in a_cards}


@pytest.mark.parametrize(
    ("agent", "site"),
    [
        ("central_a", "central:BKB"),
        ("central_b", "central:BKA"),
        ("central_a", "central"),
        ("agent_a", "central:BKA"),  # an outlet's agent drives no central line
    ],
)
async def test_a_central_agent_may_not_claim_another_line(
    world: World, agent: str, site: str
) -> None:
    await world.new_card("clerk_b", wait=False)
    r = await world.post(agent, "/v1/agent/claim", _claim_body(site))
    assert r.status_code == 403
    assert r.json()["code"] == "wrong_site"


async def test_a_central_agent_reports_its_own_line_printers_only(world: World) -> None:
    ok = {"site": "central:BKA", "status": "ok", "fault": None}
    mine = await world.client.put(
        "/v1/agent/printers/line1", json=ok, headers=world.auth("central_a")
    )
    assert mine.status_code == 204
    r = await world.client.put("/v1/agent/printers/line1", json=ok, headers=world.auth("central_b"))
    assert r.status_code == 403
    listed = await world.client.get(
        "/v1/agent/printers", params={"site": "central:BKA"}, headers=world.auth("central_a")
    )
    assert [p["name"] for p in listed.json()["printers"]] == ["line1"]
