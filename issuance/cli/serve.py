"""``sscard serve``: the database, the schema and the HTTP API, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from rich.console import Console

from issuance.api.app import create_app
from issuance.cli.common import run
from issuance.config import Settings
from issuance.runtime import Runtime

out = Console(highlight=False)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="serve the HTTP API (starts the embedded database)")
    s.add_argument("--host", help="listen address (default SSCARD_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default SSCARD_PORT or 8080)")
    s.set_defaults(func=lambda a: run(serve(a.host, a.port)))


def describe_database(rt: Runtime) -> str:
    if rt.server.embedded:
        return f"embedded PostgreSQL, data in {rt.settings.data_dir / 'pgdata'}"
    return "external PostgreSQL (SSCARD_DATABASE_URL)"


async def serve(host: str | None, port: int | None, *, ready: asyncio.Event | None = None) -> int:
    settings = Settings.from_env()
    host = host or settings.host
    port = port or settings.port
    async with Runtime(settings) as rt:
        app = create_app(rt)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            loop="none",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
        server = uvicorn.Server(config)
        out.print(f"sscard API listening on http://{host}:{port} ({describe_database(rt)})")
        out.print("press Ctrl-C to stop")
        await server.serve()
    out.print("stopped; the database was shut down cleanly")
    return 0
