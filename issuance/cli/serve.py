"""``sscard serve``: the database, the schema and the HTTP API, until Ctrl-C.

With ``--workers N`` (N > 1) this process owns the database and the listening
socket, and N worker processes serve the API on that socket (the kernel spreads
connections among them); each has its own connection pool. Python serves a
request on one core at a time, so on a machine with more cores than one more
workers serve more requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from issuance.cli.common import STOP_SIGNALS, run, stop_signals_call
from issuance.config import DEFAULT_HOST, DEFAULT_PORT, Settings
from issuance.heap import release_free_heap
from issuance.runtime import Runtime

if TYPE_CHECKING:
    import uvicorn

out = Console(highlight=False)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="serve the HTTP API (starts the embedded database)")
    s.add_argument("--host", help=f"listen address (default SSCARD_HOST or {DEFAULT_HOST})")
    s.add_argument("--port", type=int, help=f"listen port (default SSCARD_PORT or {DEFAULT_PORT})")
    s.add_argument("--workers", type=int, default=1, help="API worker processes (default 1)")
    s.set_defaults(func=lambda a: run(serve(a.host, a.port, workers=a.workers)))


def api_server(rt: Runtime, host: str, port: int) -> uvicorn.Server:
    """The uvicorn server for the API over an open runtime."""
    import uvicorn

    from issuance.api.app import GRACEFUL_SHUTDOWN_SECONDS, create_app

    config = uvicorn.Config(
        create_app(rt), host=host, port=port, loop="none", http="httptools",
        log_level="warning", access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )  # fmt: skip
    return uvicorn.Server(config)


def describe_database(rt: Runtime) -> str:
    if rt.server.embedded:
        return f"embedded PostgreSQL, data in {rt.settings.data_dir / 'pgdata'}"
    return "external PostgreSQL (SSCARD_DATABASE_URL)"


async def serve(
    host: str | None, port: int | None, *, workers: int = 1, ready: asyncio.Event | None = None
) -> int:
    settings = Settings.from_env()
    host = host or settings.host
    port = port or settings.port
    if workers > 1:
        return await serve_workers(settings, host, port, workers)
    # the pool's own retries while the database is down: /health and the 503s say it once
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    async with Runtime(settings) as rt:
        server = api_server(rt, host, port)
        out.print(f"sscard API listening on http://{host}:{port} ({describe_database(rt)})")
        out.print("press Ctrl-C to stop")
        with stop_signals_call(lambda: setattr(server, "should_exit", True)):
            await server.serve()
    out.print(stopped_line(rt))
    return 0


def stopped_line(rt: Runtime) -> str:
    """The one line ``sscard serve`` ends with."""
    if rt.server.lost is not None:
        return f"stopped; {rt.server.lost}"
    return "stopped; the database was shut down cleanly"


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(fd: int, dsn: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "issuance.api.worker", str(fd)]
    env = {**os.environ, "SSCARD_DATABASE_URL": dsn}
    return subprocess.Popen(command, env=env, pass_fds=(fd,))


async def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """The database and the socket here; ``workers`` processes serving the API on it."""
    async with Runtime(settings, pool_size=2) as rt:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:  # before the workers start: a stop never leaves them behind
            loop.add_signal_handler(sig, stop.set)
        sock = _listen(host, port)
        procs = [_worker(sock.fileno(), rt.server.dsn) for _ in range(workers)]
        release_free_heap()  # what starting the database and the schema left free
        try:
            out.print(
                f"sscard API listening on http://{host}:{port} with {workers} workers "
                f"({describe_database(rt)})"
            )
            out.print("press Ctrl-C to stop")
            while not stop.is_set() and all(p.poll() is None for p in procs):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                await asyncio.to_thread(p.wait)
            sock.close()
    out.print(stopped_line(rt))
    return 0


def main() -> int:
    """``python -m issuance.cli.serve``: the server alone, without the other commands' imports
    (the parent of ``--workers`` processes stays small)."""
    parser = argparse.ArgumentParser(prog="sscard serve")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["serve", *sys.argv[1:]])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
