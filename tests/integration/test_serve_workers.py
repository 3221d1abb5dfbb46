"""``sscard serve --workers 2``: worker processes share the socket and stop with the parent."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(port: int, times: int) -> list[int]:
    """GET /health ``times`` over ONE kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    for _ in range(times):
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.close()
    return statuses


async def _wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        assert proc.returncode is None, "the server exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("the server never listened")


async def test_workers_serve_and_stop_with_the_parent(db_dsn: str) -> None:
    port = _free_port()
    env = {**os.environ, "SSCARD_DATABASE_URL": db_dsn}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "issuance.cli.serve", "--port", str(port), "--workers", "2",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _wait_listening(port, proc)
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 2
        assert await asyncio.to_thread(_health, port, 20) == [200] * 20
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, output.decode()
    assert b"stopped" in output
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
