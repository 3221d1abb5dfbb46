"""The counter's and the agents' hot routes skip FastAPI's general handler under the installed
FastAPI (issuance.api.direct); a request that does not validate still gets FastAPI's answer."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import pytest

from tests.integration.api.world import World


@pytest.fixture
def general_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the requests that reach FastAPI's general handler."""
    calls: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return calls


async def test_a_card_life_at_the_counter_skips_the_general_handler(
    world: World, general_calls: list[str]
) -> None:
    citizen_id = world.citizen_id()
    applied = await world.apply(wait=True, citizen_id=citizen_id)
    assert applied.status_code == 201, applied.text
    card = applied.json()
    await world.make(card)  # the agent's claim and completion
    number = card["card_number"]
    status = await world.client.get(f"/v1/cards/{number}", headers=world.auth("clerk_a"))
    assert status.status_code == 200, status.text
    for path, body in [
        (f"/v1/cards/{number}/hand-over", None),
        (f"/v1/cards/{number}/activate", None),
        (f"/v1/cards/{number}/loss", {"kind": "temporary"}),
        (f"/v1/cards/{number}/loss/cancel", None),
        ("/v1/holders/lookup", {"citizen_id": citizen_id}),
    ]:
        r = await world.post("clerk_a", path, body)
        assert r.status_code == 200, (path, r.text)
    assert general_calls == []


async def test_a_request_that_does_not_validate_gets_fastapis_answer(
    world: World, general_calls: list[str]
) -> None:
    r = await world.post("clerk_a", "/v1/cards/A-1/loss", {"kind": "temporary"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_input"
    r = await world.post("clerk_a", "/v1/cards/A1/loss", {"kind": "forever"})
    assert r.status_code == 422
    assert general_calls == ["/v1/cards/A-1/loss", "/v1/cards/A1/loss"]
