"""The outlet page's stream sends a part only when its HTML differs from what the page shows."""

from __future__ import annotations

from issuance.web.outlet import digest, live


async def _events(frames: list[dict[str, str]], seen: dict[str, str]) -> list[bytes]:
    pending = list(frames)

    async def render() -> dict[str, str]:
        return pending.pop(0)

    async def gone() -> bool:
        return not pending

    return [event async for event in live(render, gone, seen)]


async def test_a_part_the_page_already_shows_is_not_sent() -> None:
    shown = {"printers": "<p>ok</p>", "queue": "<p>0</p>"}
    seen = {k: digest(v) for k, v in shown.items()}
    assert await _events([shown, shown], seen) == []


async def test_only_the_part_that_changed_is_sent_once() -> None:
    shown = {"printers": "<p>ok</p>", "queue": "<p>0</p>"}
    seen = {k: digest(v) for k, v in shown.items()}
    faulted = {**shown, "printers": "<p>faulted</p>"}
    events = await _events([shown, faulted, faulted], seen)
    assert events == [b"event: printers\ndata: <p>faulted</p>\n\n"]


async def test_without_digests_every_part_is_sent_first() -> None:
    events = await _events([{"printers": "a", "queue": "b"}], {})
    assert events == [b"event: printers\ndata: a\n\n", b"event: queue\ndata: b\n\n"]
