"""Round trips to PostgreSQL per counter service, as served (the operator cache on).

Each statement sent is a round trip that costs both the API process and the
database its share of CPU and the clerk its share of latency: a statement added
to a hot path fails here, and a budget is lowered here when one is taken away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from issuance.api.operators import watch_revocations
from tests.integration.api.world import PHOTO_B64, World

Sent = list[str]


@pytest.fixture
async def sent(world: World, db_dsn: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sent]:
    """Every statement the app sends, in order (the list is emptied by :func:`trips`)."""
    statements: Sent = []
    execute_prepared = asyncpg.connection.Connection._do_execute
    execute_simple = asyncpg.connection.Connection.execute

    async def prepared(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(query)
        return await execute_prepared(self, query, *args, **kwargs)

    async def simple(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _do_execute, counted there
            statements.append(query)
        return await execute_simple(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_do_execute", prepared)
    monkeypatch.setattr(asyncpg.connection.Connection, "execute", simple)
    app = world.client._transport.app  # type: ignore[attr-defined]
    async with watch_revocations(db_dsn, app.state.operators):
        await world.client.get("/v1/cards/0", headers=world.auth("clerk_a"))  # caches the clerk
        await world.post("agent_a", "/v1/agent/claim", {"worker": "w", "site": "A1"})
        yield statements


async def trips(sent: Sent, request: Awaitable[httpx.Response], status: int) -> int:
    sent.clear()
    response = await request
    assert response.status_code == status, response.text
    return len(sent)


Call = Callable[[World, dict[str, str]], Awaitable[httpx.Response]]


def _post(path: str, body: Any, key: str) -> Call:
    def call(w: World, card: dict[str, str]) -> Awaitable[httpx.Response]:
        url = path.format(**card)
        return w.client.post(url, json=body, headers=w.auth("clerk_a", key))

    return call


# (service, HTTP status, round trips): BEGIN and the key's claim go in one round trip, the
# key's answer and COMMIT in another (issuance.api.idempotency)
ONE_STEP: tuple[tuple[str, Call, int, int], ...] = (
    ("report loss", _post("/v1/cards/{card_number}/loss", {"kind": "temporary"}, "k1"), 200, 4),
    ("cancel loss", _post("/v1/cards/{card_number}/loss/cancel", {}, "k2"), 200, 4),
    ("PIN change", _post("/v1/cards/{card_number}/pin-change", {}, "k3"), 202, 6),
)


async def test_a_status_query_is_one_statement(world: World, sent: Sent) -> None:
    number = (await world.new_card())["card_number"]
    get = world.client.get(f"/v1/cards/{number}", headers=world.auth("clerk_a"))
    assert await trips(sent, get, 200) == 1


async def test_an_instant_application_for_a_new_person(world: World, sent: Sent) -> None:
    await world.new_card()  # the connections' first use reads the types of what they send
    body = {"holder": world.holder(), "photo": PHOTO_B64, "wait": True}
    post = world.client.post("/v1/applications", json=body, headers=world.auth("clerk_a", "a"))
    # BEGIN with the key's claim; the outlet with its bank's stage; the person; the new holder
    # with the photo; the card's number; its job; the card with its events and audit record;
    # the answer with COMMIT
    assert await trips(sent, post, 201) == 8


async def test_a_holder_look_up(world: World, sent: Sent) -> None:
    body = {"holder": world.holder(), "photo": PHOTO_B64, "wait": True}
    await world.client.post("/v1/applications", json=body, headers=world.auth("clerk_a"))
    look = world.post("clerk_a", "/v1/holders/lookup", {"citizen_id": body["holder"]["citizen_id"]})
    assert await trips(sent, look, 200) == 2


@pytest.mark.parametrize("case", ONE_STEP, ids=[c[0] for c in ONE_STEP])
async def test_a_card_service_with_a_key(
    world: World, sent: Sent, case: tuple[str, Call, int, int]
) -> None:
    service, call, status, budget = case
    card = await world.active()
    if service == "cancel loss":
        await _post("/v1/cards/{card_number}/loss", {"kind": "temporary"}, "first")(world, card)
    assert await trips(sent, call(world, card), status) == budget, service


async def test_a_retried_request_is_answered_in_two_round_trips(world: World, sent: Sent) -> None:
    card = await world.active()
    loss = _post("/v1/cards/{card_number}/loss", {"kind": "temporary"}, "again")
    await loss(world, card)
    # BEGIN with the claim that finds the key, the stored answer (then a rollback)
    assert await trips(sent, loss(world, card), 200) == 3
    assert sent[-1] == "ROLLBACK"
