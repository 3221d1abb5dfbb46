"""PIN reset and change at the counter, end to end: API, queue, outlet agent, PIN desk, chip.

A card is applied for through the API, made by the outlet agent on a
simulated printer and handed over. The clerk then asks for a PIN reset and a
PIN change (``POST /v1/cards/{n}/pin-reset`` and ``/pin-change``, bodies
without any PIN); the agent claims each ``encode`` job, its PinDesk reads
the card the holder put in the desk reader and takes the PINs from the
simulated PIN pad. Afterwards the encoder's VERIFY PIN shows the new PIN
works and the old one does not, the jobs succeeded, and neither PIN appears
in any request the API received, any log line, any job payload or result,
or any non-binary column of any table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from issuance.api.app import create_app
from issuance.cli.agent import DEMO_OUTLET, demo_accounts, sample_application
from issuance.config import Settings
from issuance.domain.cards import CardStatus
from issuance.runtime import Runtime
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig
from printers.agent.pinpad import PinDesk, SimulatedPinPad
from printers.agent.station import Station, open_printer
from printers.devices.chip.encoder import ChipEncoder
from printers.devices.chip.status import CardStatusError
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet
from sscard_core.messages import JobState

from .conftest import Stack

pytestmark = pytest.mark.slow

OLD_PIN = "73914025"  # eight digits: no six-digit field of a row can hold it by chance
NEW_PIN = "90817263"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
TEXT_COLUMNS = """
SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = 'public' AND data_type <> 'bytea'
ORDER BY table_name, ordinal_position
"""


class Recorder:
    """An ASGI wrapper keeping every HTTP request's path, query and body."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests.append(scope["path"].encode() + b"?" + scope["query_string"])

        async def recorded() -> Message:
            message = await receive()
            self.requests.append(bytes(message.get("body", b"")))
            return message

        await self.app(scope, recorded, send)


@dataclass(frozen=True)
class Counter:
    stack: Stack
    recorder: Recorder
    outlet: SimulatedOutlet
    pad: SimulatedPinPad

    async def post(self, path: str, key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.stack.clerk_token}", "Idempotency-Key": key}
        async with httpx.AsyncClient(base_url=self.stack.api, timeout=30) as http:
            return await http.post(path, headers=headers)


@pytest.fixture
async def recorded_stack(db_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, Recorder]]:
    settings = Settings(database_url=db_dsn, data_dir=tmp_path / "var", host="127.0.0.1", port=0)
    async with Runtime(settings) as rt:
        recorder = Recorder(create_app(rt))
        tokens = await demo_accounts(rt.store, tmp_path / "tokens.json")
        config = uvicorn.Config(
            recorder, host="127.0.0.1", port=0, loop="none", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.025)
        port = server.servers[0].sockets[0].getsockname()[1]
        api = f"http://127.0.0.1:{port}"
        try:
            yield Stack(rt, api, tokens.clerk, tokens.agent, DEMO_OUTLET, tmp_path), recorder
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
async def counter(recorded_stack: tuple[Stack, Recorder]) -> AsyncIterator[Counter]:
    stack, recorder = recorded_stack
    pad = SimulatedPinPad()
    async with SimulatedOutlet(stack.tmp / "outlet", config=SimConfig(time_scale=0.0)) as outlet:
        with Journal(stack.tmp / "journal.sqlite") as journal:
            stations = [
                Station(n, await open_printer(outlet.printer_url(n)), outlet.reader(n),
                        outlet.psam, journal)
                for n in outlet.names
            ]  # fmt: skip
            desk = PinDesk(outlet, pad, outlet.psam, journal)
            client = AgentClient(
                stack.api,
                stack.agent_token,
                worker="pin-agent",
                site=stack.site,
                psam=outlet.psam.serial,
            )
            config = AgentConfig(wait_seconds=1)
            agent = asyncio.create_task(Agent(client, stations, journal, config, desk=desk).run())
            try:
                yield Counter(stack, recorder, outlet, pad)
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} never happened")


async def _made_and_handed_over(c: Counter) -> str:
    card = await c.stack.apply(sample_application(11))
    number: str = card["card_number"]
    store = c.stack.rt.store

    async def ready() -> bool:
        found = await store.card_by_number(number)
        return found is not None and found.status is CardStatus.READY

    async def in_hopper() -> bool:
        return bool(c.outlet.cards_for(card["card_identifier"]))

    await _until(ready, f"card {number} ready")
    await _until(in_hopper, f"card {number} in the hopper")
    r = await c.post(f"/v1/cards/{number}/hand-over", "hand-over")
    assert r.status_code == 200, r.text
    return number


async def _served(c: Counter, path: str, key: str) -> int:
    r = await c.post(path, key)
    assert r.status_code == 202, r.text
    job_id = int(r.json()["job_id"])

    async def succeeded() -> bool:
        job = await c.stack.rt.queue.get(job_id)
        assert job.state not in (JobState.DEAD, JobState.IN_DOUBT), job.last_error
        return job.state is JobState.SUCCEEDED

    await _until(succeeded, f"job {job_id} succeeded")
    return job_id


async def _pin_works(c: Counter, pin: str) -> bool:
    try:
        await ChipEncoder(c.outlet.connection(), c.outlet.psam).verify_pin(pin)
    except CardStatusError:
        return False
    return True


async def _database_text(rt: Runtime) -> str:
    """Every non-binary column of every row of every table, as text."""
    rows: list[str] = []
    async with rt.pool.acquire() as conn:
        columns = await conn.fetch(TEXT_COLUMNS)
        for table in sorted({r["table_name"] for r in columns}):
            names = [r["column_name"] for r in columns if r["table_name"] == table]
            select = ", ".join(f'"{n}"::text' for n in names)
            rows += [repr(tuple(r)) for r in await conn.fetch(f'SELECT {select} FROM "{table}"')]
    return "\n".join(rows)


async def test_pin_reset_and_change_through_the_agent(
    counter: Counter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = counter
    number = await _made_and_handed_over(c)
    c.outlet.present(number)  # the holder puts the card in the desk reader
    c.pad.type(OLD_PIN, OLD_PIN)  # a forgotten PIN: reset to OLD_PIN
    reset = await _served(c, f"/v1/cards/{number}/pin-reset", "pin-reset")
    c.pad.type(OLD_PIN, NEW_PIN, NEW_PIN)  # the holder changes it
    change = await _served(c, f"/v1/cards/{number}/pin-change", "pin-change")
    assert await _pin_works(c, NEW_PIN)
    assert not await _pin_works(c, OLD_PIN)
    async with c.stack.rt.pool.acquire() as conn:
        history = await conn.fetch(
            "SELECT id, kind, payload::text, result::text FROM card_jobs_history"
            " WHERE id = ANY($1::bigint[]) ORDER BY id",
            [reset, change],
        )
        hot = await conn.fetch("SELECT payload::text FROM card_jobs")
    assert [(r["id"], r["kind"]) for r in history] == [(reset, "pin_reset"), (change, "pin_change")]
    jobs_text = repr([tuple(r) for r in history] + [tuple(r) for r in hot])
    requests = b"\n".join(c.recorder.requests).decode("utf-8", "replace")
    database = await _database_text(c.stack.rt)
    assert f"/v1/cards/{number}/pin-change" in requests  # what is searched holds the traffic,
    assert number in database and number in jobs_text  # the rows and the jobs
    assert "CHANGE PIN" in caplog.text and "RELOAD PIN" in caplog.text  # and the chip's logs
    for pin in (OLD_PIN, NEW_PIN):
        assert pin not in requests
        assert pin not in caplog.text
        assert pin not in jobs_text
        assert pin not in database
