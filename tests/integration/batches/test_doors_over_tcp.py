"""The doors over a real socket (uvicorn): a 200 MB request is answered after a few kilobytes of
it were sent, and a hostile batch leaves the connection usable."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from tests.integration.api.world import World

HUGE = 200 * 1024 * 1024
SENT = 64 * 1024  # what the client sends of the body before it waits for an answer
# A guard against a hang, not a measure: the answer comes or the test fails.
ANSWER_GUARD_SECONDS = 60


async def _answer_after_a_little(served: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST a body declared 200 MB long, send only :data:`SENT` bytes of it, read the answer."""
    url = urlsplit(served)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST /v1/applications HTTP/1.1\r\nHost: sscard\r\nContent-Type: application/json\r\n"
            f"Content-Length: {HUGE}\r\n{head}\r\n".encode()
        )
        writer.write(b'{"holder": "' + b"x" * (SENT - 12))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), ANSWER_GUARD_SECONDS)
        rest = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_GUARD_SECONDS)
        return int(status_line.split()[1]), rest
    finally:
        writer.close()


async def test_a_stranger_gets_401_after_sending_64_kib_of_200_mb(served: str) -> None:
    status, _ = await _answer_after_a_little(served, {})
    assert status == 401


async def test_a_clerk_gets_413_after_sending_64_kib_of_200_mb(world: World, served: str) -> None:
    status, _ = await _answer_after_a_little(served, world.auth("clerk_a"))
    assert status == 413


async def test_a_batch_nested_3000_deep_leaves_the_connection_usable(
    world: World, served: str
) -> None:
    deep = '{"applicants": [' + "[" * 3000 + "]" * 3000 + "]}"
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=served, limits=limits, timeout=60) as http:
        refused = await http.post(
            "/v1/batches", content=deep,
            headers={**world.auth("clerk_a"), "Content-Type": "application/json"},
        )  # fmt: skip
        assert refused.status_code == 422
        assert refused.json()["code"] == "batch_rejected"
        again = await http.get("/health")  # on the same connection
        assert again.status_code == 200
