"""The card's whole life through the API: apply, make, hand over, activate."""

from __future__ import annotations

from tests.integration.api.world import World


async def test_apply_make_hand_over_activate(world: World) -> None:
    card = await world.new_card(wait=True)
    assert card["status"] == "in_production"
    job = await world.queue.get(card["job_id"])
    assert job.site == "A1"
    status = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("clerk_a"))
    assert status.json()["progress"] == "queued"
    await world.make(card)
    status = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("clerk_a"))
    assert status.json()["card"]["status"] == "ready"
    r = await world.post("clerk_a", f"/v1/cards/{card['card_number']}/hand-over")
    assert r.json()["status"] == "issued"
    r = await world.post("clerk_a2", f"/v1/cards/{card['card_number']}/activate")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert r.json()["activated_at_outlet"] == "A2"
