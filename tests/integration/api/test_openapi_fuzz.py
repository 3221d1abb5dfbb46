"""Schemathesis against the app's own OpenAPI document: no input makes a 5xx, and every
answer's status is one the operation documents (errors in the one ``{code, message}`` shape).

Schemathesis drives the app on its own event-loop thread, so the app it sees
opens its Runtime (on this test's database) in its ASGI lifespan, on that
loop. Every operation gets ~20 generated requests with a valid bearer token
(the agent's for agent endpoints, the bureau administrator's for the bureau's,
a bank administrator's for incidents, a supervisor's for the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.python.asgi import shutdown_lifespans

from issuance.api.app import create_app
from issuance.config import Settings
from issuance.runtime import Runtime
from tests.integration.api.world import World

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MAX_EXAMPLES = 20
OPERATIONS_AT_LEAST = range(20)  # the API has more operations than this
# Who calls which operations (the first prefix that matches; otherwise a supervisor).
FUZZ_AS = (("/v1/agent", "agent_a"), ("/v1/bureau", "bureau_admin"), ("/v1/incidents", "admin_a"))


class LifespanRuntime:
    """An ASGI app that opens the Runtime in its lifespan, then serves create_app(rt)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = contextlib.AsyncExitStack()
        self._app: Any = None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self._app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                rt = await self._stack.enter_async_context(Runtime(self._settings, pool_size=4))
                self._app = create_app(rt)
                await send({"type": "lifespan.startup.complete"})
            else:
                await self._stack.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _undocumented(response: Any, documented: dict[str, Any]) -> bool:
    """A status the operation's OpenAPI entry does not list, or an error not in the one shape."""
    if str(response.status_code) not in documented:
        return True
    if response.status_code < 400:
        return False
    body = response.json()
    return not (isinstance(body, dict) and {"code", "message"} <= body.keys())


def _fuzz_operation(
    operation: Any, headers: dict[str, str], failures: list[str], statuses: dict[int, int]
) -> None:
    documented: dict[str, Any] = operation.definition.raw["responses"]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if isinstance(case.body, dict) and "wait_seconds" in case.body:
            case.body["wait_seconds"] = 0  # keep the long poll short
        response = case.call(headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 or _undocumented(response, documented):
            failures.append(
                f"{case.method} {case.formatted_path}: {response.status_code} "
                f"{response.text[:200]} body={case.body!r}"[:600]
            )

    run()


def _fuzz(app: LifespanRuntime, tokens: dict[str, str]) -> tuple[list[str], dict[int, int]]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        who = next(
            (name for prefix, name in FUZZ_AS if operation.path.startswith(prefix)), "supervisor_a"
        )
        _fuzz_operation(operation, {"Authorization": f"Bearer {tokens[who]}"}, failures, statuses)
    shutdown_lifespans()
    return failures, statuses


async def test_no_generated_request_gets_a_5xx(world: World, rt: Runtime, db_dsn: str) -> None:
    # the same data directory, so the same master key, as the runtime that seeded the world
    app = LifespanRuntime(Settings(db_dsn, rt.settings.data_dir, "127.0.0.1", 0))
    await world.new_card(wait=True)  # something to find
    failures, statuses = await asyncio.to_thread(_fuzz, app, world.tokens)
    assert not failures, "\n".join(failures[:10])
    assert sum(statuses.values()) >= 10 * len(OPERATIONS_AT_LEAST), statuses
    assert any(200 <= s < 300 for s in statuses), statuses
