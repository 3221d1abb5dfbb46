"""Each counter service's happy path, and the transitions it refuses (409 with current_state)."""

from __future__ import annotations

from typing import Any

import pytest

from sscard_core.messages import Priority
from tests.integration.api.world import PHOTO_B64, World


async def _status(world: World, number: str, who: str = "clerk_a") -> dict[str, Any]:
    r = await world.client.get(f"/v1/cards/{number}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_apply_waiting_at_instant_outlet_prints_at_the_counter(world: World) -> None:
    card = await world.new_card(wait=True)
    assert card["status"] == "in_production"
    assert card["ordered_at_outlet"] == "A1"
    job = await world.queue.get(card["job_id"])
    assert (job.site, job.priority, job.capability.value) == (
        "A1",
        Priority.INSTANT,
        "print_encode",
    )
    assert job.payload["card"]["card_number"] == card["card_number"]
    assert job.payload["card"]["gender"] in ("1", "2")


@pytest.mark.parametrize(("who", "wait"), [("clerk_a", False), ("clerk_a2", True)])
async def test_apply_otherwise_goes_to_the_central_line(world: World, who: str, wait: bool) -> None:
    card = await world.new_card(who, wait=wait)
    job = await world.queue.get(card["job_id"])
    assert (job.site, job.priority) == ("central:BKA", Priority.STANDARD)


async def test_status_follows_the_job(world: World) -> None:
    card = await world.new_card()
    number = card["card_number"]
    assert (await _status(world, number))["progress"] == "queued"
    claimed = await world.post(
        "agent_a",
        "/v1/agent/claim",
        {"worker": "w1", "site": "A1", "capabilities": ["print_encode"], "wait_seconds": 0},
    )
    job_id = claimed.json()["jobs"][0]["id"]
    beat = await world.post(
        "agent_a", f"/v1/agent/jobs/{job_id}/heartbeat", {"worker": "w1", "step": "encoding"}
    )
    assert beat.status_code == 204
    assert (await _status(world, number))["progress"] == "encoding"
    await world.post("agent_a", f"/v1/agent/jobs/{job_id}/complete", {"worker": "w1"})
    body = await _status(world, number)
    assert (body["card"]["status"], body["progress"]) == ("ready", "ready_for_pickup")


async def test_hand_over_then_activate_at_another_outlet_of_the_bank(world: World) -> None:
    card = await world.issued()
    assert card["status"] == "issued"
    r = await world.post("clerk_a2", f"/v1/cards/{card['card_number']}/activate")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["activated_at_outlet"]) == ("active", "A2")


async def test_activate_at_another_bank_looks_like_a_missing_card(world: World) -> None:
    card = await world.issued()
    r = await world.post("clerk_b", f"/v1/cards/{card['card_number']}/activate")
    missing = await world.post("clerk_b", "/v1/cards/Z99999999/activate")
    assert r.status_code == missing.status_code == 404
    assert r.json()["code"] == missing.json()["code"] == "not_found"


async def test_temporary_loss_and_its_cancellation(world: World) -> None:
    number = (await world.active())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/loss", {"kind": "temporary"})
    assert r.json()["status"] == "lost_temporary"
    r = await world.post("clerk_a", f"/v1/cards/{number}/loss/cancel")
    assert r.json()["status"] == "active"


async def test_formal_loss_then_reissue_supersedes_the_old_card(world: World) -> None:
    number = (await world.active())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/loss", {"kind": "formal"})
    assert r.json()["status"] == "lost_formal"
    r = await world.post("clerk_a", f"/v1/cards/{number}/reissue", {"wait": True})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["status"] == "in_production" and new["card_number"] != number
    assert (await _status(world, number))["card"]["status"] == "superseded"


async def test_replace_a_damaged_card(world: World) -> None:
    number = (await world.active())["card_number"]
    r = await world.post(
        "clerk_a", f"/v1/cards/{number}/replace", {"reason": "damaged", "photo": PHOTO_B64}
    )
    assert r.status_code == 201, r.text
    assert (await _status(world, number))["card"]["status"] == "superseded"
    events = await world.store.events_of_card(
        (await world.store.card_by_number(number)).id  # type: ignore[union-attr]
    )
    assert [e.action for e in events][-1] == "replace"
    assert events[-1].reason == "damaged"


async def test_supervisor_cancels_an_issued_card(world: World) -> None:
    number = (await world.issued())["card_number"]
    r = await world.post("supervisor_a", f"/v1/cards/{number}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("path", "body", "state"),
    [
        ("reissue", {}, "in_production"),  # reissue needs formal loss first
        ("activate", None, "in_production"),
        ("hand-over", None, "in_production"),
        ("loss/cancel", None, "in_production"),
        ("loss", {"kind": "temporary"}, "in_production"),
        ("replace", {"reason": "damaged"}, "in_production"),
        ("cancel", None, "in_production"),
    ],
)
async def test_forbidden_transitions_answer_409_with_the_state(
    world: World, path: str, body: Any, state: str
) -> None:
    number = (await world.new_card())["card_number"]
    who = "supervisor_a" if path == "cancel" else "clerk_a"
    r = await world.post(who, f"/v1/cards/{number}/{path}", body)
    assert r.status_code == 409, r.text
    assert r.json()["current_state"] == state


async def test_reissue_of_an_active_card_is_refused(world: World) -> None:
    number = (await world.active())["card_number"]
    r = await world.post("clerk_a", f"/v1/cards/{number}/reissue", {})
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["current_state"]) == ("transition_forbidden", "active")


async def test_a_second_application_while_a_card_is_made_is_refused(world: World) -> None:
    cid = world.citizen_id()
    assert (await world.apply(citizen_id=cid)).status_code == 201
    again = await world.apply(citizen_id=cid)
    assert again.status_code == 409
    assert again.json()["code"] == "card_pending"


async def test_events_record_every_transition(world: World) -> None:
    number = (await world.active())["card_number"]
    card = await world.store.card_by_number(number)
    assert card is not None
    events = await world.store.events_of_card(card.id)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "requested"),
        ("requested", "in_production"),
        ("in_production", "ready"),
        ("ready", "issued"),
        ("issued", "active"),
    ]


async def test_a_new_application_supersedes_the_persons_active_card(world: World) -> None:
    old = await world.active()
    stored = await world.store.card_by_number(old["card_number"])
    assert stored is not None
    cid = (await world.store.holder(stored.holder)).citizen_id
    r = await world.apply(citizen_id=cid)
    assert r.status_code == 201, r.text
    new = await world.store.card_by_number(r.json()["card_number"])
    after = await world.store.card_by_number(old["card_number"])
    assert new is not None and after is not None
    assert (after.status.value, after.superseded_by) == ("superseded", new.id)


async def test_an_application_for_another_banks_holder_is_refused(world: World) -> None:
    old = await world.new_card("clerk_a")
    stored = await world.store.card_by_number(old["card_number"])
    assert stored is not None
    cid = (await world.store.holder(stored.holder)).citizen_id
    r = await world.apply("clerk_b", citizen_id=cid)
    assert (r.status_code, r.json()["code"]) == (409, "holder_at_other_bank")
