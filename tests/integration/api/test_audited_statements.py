"""Reads and changes whose audit row is written by the same statement: the status query, the
holder look-up and the one-step card services. Each writes exactly one audit row when it
answers, none when it refuses, and the chain still verifies."""

from __future__ import annotations

from typing import Any

from issuance.services import audit as audit_service
from issuance.store import AuditFilter
from issuance.store.store import Store
from tests.integration.api.world import World


async def _rows(store: Store, card: int | None = None, holder: int | None = None) -> list[Any]:
    f = AuditFilter(None, holder, card, None, None, None, None)
    return [r async for r in store.audit_rows(f)]


async def _card_id(world: World, number: str) -> int:
    card = await world.store.card_by_number(number, lock=False)
    assert card is not None
    return card.id


async def test_status_query_writes_one_read_row_for_the_card(world: World) -> None:
    card = await world.new_card()
    card_id = await _card_id(world, card["card_number"])
    before = len(await _rows(world.store, card=card_id))
    r = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("clerk_a"))
    assert r.status_code == 200, r.text
    assert r.json()["progress"] == "queued"
    rows = await _rows(world.store, card=card_id)
    assert len(rows) == before + 1
    assert (rows[-1].purpose, rows[-1].action, rows[-1].bank) == ("query_status", "read", "BKA")


async def test_status_query_of_another_banks_card_is_a_404_and_audits_nothing(
    world: World,
) -> None:
    card = await world.new_card()
    card_id = await _card_id(world, card["card_number"])
    before = len(await _rows(world.store, card=card_id))
    r = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("clerk_b"))
    # exactly what a card that does not exist answers (第五条(七)): the same code and message
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert r.json()["message"] == f"no card {card['card_number']}"
    assert len(await _rows(world.store, card=card_id)) == before


async def test_the_bureau_reads_every_banks_card_and_is_audited(world: World) -> None:
    card = await world.new_card()
    card_id = await _card_id(world, card["card_number"])
    r = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("auditor"))
    assert r.status_code == 200, r.text
    last = (await _rows(world.store, card=card_id))[-1]
    assert (last.purpose, last.bank) == ("query_status", None)


async def test_a_role_without_the_status_query_is_refused_before_any_read(world: World) -> None:
    card = await world.new_card()
    card_id = await _card_id(world, card["card_number"])
    before = len(await _rows(world.store, card=card_id))
    r = await world.client.get(f"/v1/cards/{card['card_number']}", headers=world.auth("agent_a"))
    assert r.status_code == 403, r.text
    assert len(await _rows(world.store, card=card_id)) == before


async def test_holder_lookup_audits_once_and_not_across_banks(world: World) -> None:
    cid = world.citizen_id()
    await world.apply(citizen_id=cid)
    holder = await world.store.holder_by_citizen_id(cid, lock=False)
    assert holder is not None
    found = await world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": cid})
    assert found.status_code == 200, found.text
    assert len(found.json()["cards"]) == 1
    rows = await _rows(world.store, holder=holder.id)
    assert (rows[-1].purpose, rows[-1].action, rows[-1].card) == ("query_status", "read", None)
    foreign = await world.post("clerk_b", "/v1/holders/lookup", {"citizen_id": cid})
    assert foreign.status_code == 404
    assert len(await _rows(world.store, holder=holder.id)) == len(rows)


async def test_hand_over_and_activation_write_event_state_and_audit_together(
    world: World,
) -> None:
    card = await world.active()
    card_id = await _card_id(world, card["card_number"])
    read = await world.store.card_by_number(card["card_number"], lock=False)
    assert read is not None
    assert (read.status.value, read.activated_at_outlet) == ("active", "A1")
    events = [e.action for e in await world.store.events_of_card(card_id)]
    assert events[-2:] == ["hand_over", "activate"]
    purposes = [r.purpose for r in await _rows(world.store, card=card_id)]
    assert purposes[-2:] == ["hand_over", "activate"]
    report = await audit_service.verify(world.store)
    assert report.broken is None


async def test_a_refused_step_changes_nothing_and_audits_nothing(world: World) -> None:
    card = await world.new_card()
    card_id = await _card_id(world, card["card_number"])
    before = len(await _rows(world.store, card=card_id))
    r = await world.post("clerk_a", f"/v1/cards/{card['card_number']}/hand-over", {})
    assert (r.status_code, r.json()["code"]) == (409, "transition_forbidden")
    assert len(await _rows(world.store, card=card_id)) == before
    read = await world.store.card_by_number(card["card_number"], lock=False)
    assert read is not None and read.status.value == "in_production"


async def test_read_card_audited_reads_nothing_out_of_scope(world: World) -> None:
    card = await world.new_card()
    number = card["card_number"]
    card_id = await _card_id(world, number)
    clerk = await world.store.operator_by_token(world.tokens["clerk_b"])
    assert clerk is not None
    before = len(await _rows(world.store, card=card_id))
    assert await world.store.read_card_audited(number, "BKB", clerk, "query_status", "read") is None
    assert await world.store.read_card_audited("0", None, clerk, "query_status", "read") is None
    assert len(await _rows(world.store, card=card_id)) == before
    read = await world.store.read_card_audited(number, "BKA", clerk, "query_status", "read")
    assert read is not None
    assert (read.card.id, read.job_state, read.job_step) == (card_id, "queued", "idle")


async def test_an_audit_row_naming_a_holder_is_not_held_up_by_a_writer_of_that_holder(
    world: World,
) -> None:
    """A read's audit row takes the chain's lock and then its foreign key's KEY SHARE on the
    holder: a writer holding the holder must not block it (it would wait for the chain next)."""
    cid = world.citizen_id()
    await world.apply(citizen_id=cid)
    clerk = await world.store.operator_by_token(world.tokens["clerk_a"])
    assert clerk is not None
    async with world.store.transaction() as writer:
        holder = await writer.holder_by_citizen_id(cid)  # the writer's row lock
        assert holder is not None
        async with world.store.connected() as reader, reader.transaction() as tx:
            # blocked on the row lock, this statement would fail instead of waiting
            await tx.connection.execute("SET LOCAL lock_timeout = '1s'")
            await tx.audit(clerk, "query_status", holder.id, "read")
    rows = await _rows(world.store, holder=holder.id)
    assert rows[-1].purpose == "query_status"
