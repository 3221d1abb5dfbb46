"""The full stack for end-to-end tests: database, API on a loopback port, accounts.

The service runs in this process (uvicorn, port 0) over a
:class:`~issuance.runtime.Runtime` pointed at the ``db_dsn`` test database;
the demo bank, its instant outlet, a clerk and an agent are created through
the admin services. The agent side only ever gets the API's URL and a token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from issuance.api.app import create_app
from issuance.cli.agent import APPLY_PATH, DEMO_OUTLET, demo_accounts
from issuance.config import Settings
from issuance.runtime import Runtime

AGENT_ROUTE = "/v1/agent/claim"


@dataclass(frozen=True)
class Stack:
    rt: Runtime
    api: str
    clerk_token: str
    agent_token: str
    site: str
    tmp: Path

    async def apply(self, application: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.clerk_token}", "Idempotency-Key": "e2e-1"}
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as http:
            response = await http.post(APPLY_PATH, json=application, headers=headers)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return dict(body.get("card", body))


def _serves_agents(app: Any) -> bool:
    paths = app.openapi().get("paths", {}) if hasattr(app, "openapi") else {}
    return AGENT_ROUTE in paths


@pytest.fixture
async def stack(db_dsn: str, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = Settings(database_url=db_dsn, data_dir=tmp_path / "var", host="127.0.0.1", port=0)
    async with Runtime(settings) as rt:
        app = create_app(rt)
        if not _serves_agents(app):
            pytest.skip("the API does not serve the agent endpoints yet")
        tokens = await demo_accounts(rt.store, tmp_path / "tokens.json")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="none", log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.025)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Stack(
                rt, f"http://127.0.0.1:{port}", tokens.clerk, tokens.agent, DEMO_OUTLET, tmp_path
            )
        finally:
            server.should_exit = True
            await serving
