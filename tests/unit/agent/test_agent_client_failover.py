"""An agent given several addresses of the service moves on when the one it uses fails."""

from __future__ import annotations

import httpx
import pytest

from printers.agent.client import AgentClient, ApiUnavailable, ServiceUnavailable

EMPTY = {"jobs": []}


def _service(down: set[str], busy: set[str], seen: list[str]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        seen.append(host)
        if host in down:
            raise httpx.ConnectError("connection refused", request=request)
        if host in busy:
            body = {"code": "database_unavailable", "message": "database unavailable"}
            return httpx.Response(503, json=body)
        return httpx.Response(200, json=EMPTY)

    return httpx.MockTransport(answer)


async def test_a_node_that_does_not_answer_sends_the_next_call_to_the_other() -> None:
    seen: list[str] = []
    transport = _service(down={"a"}, busy=set(), seen=seen)
    async with AgentClient(["http://a", "http://b"], "t", worker="w", site="s",
                           transport=transport) as client:  # fmt: skip
        with pytest.raises(ApiUnavailable):
            await client.claim(wait_seconds=0)
        assert client.address == "http://b"
        assert await client.claim(wait_seconds=0) == []
    assert seen == ["a", "b"]


async def test_a_node_answering_503_is_left_for_the_next() -> None:
    seen: list[str] = []
    transport = _service(down=set(), busy={"a"}, seen=seen)
    async with AgentClient(["http://a", "http://b"], "t", worker="w", site="s",
                           transport=transport) as client:  # fmt: skip
        with pytest.raises(ServiceUnavailable):
            await client.claim(wait_seconds=0)
        assert await client.claim(wait_seconds=0) == []
    assert seen == ["a", "b"]


async def test_with_every_node_down_the_client_goes_round_them() -> None:
    seen: list[str] = []
    transport = _service(down={"a", "b"}, busy=set(), seen=seen)
    async with AgentClient(["http://a", "http://b"], "t", worker="w", site="s",
                           transport=transport) as client:  # fmt: skip
        for _ in range(3):
            with pytest.raises(ApiUnavailable):
                await client.claim(wait_seconds=0)
    assert seen == ["a", "b", "a"]


async def test_one_address_is_kept_whatever_happens() -> None:
    seen: list[str] = []
    transport = _service(down={"a"}, busy=set(), seen=seen)
    async with AgentClient("http://a", "t", worker="w", site="s", transport=transport) as client:
        for _ in range(2):
            with pytest.raises(ApiUnavailable):
                await client.claim(wait_seconds=0)
        assert client.address == "http://a"
