"""``sscard serve``: worker processes share the socket and stop with the parent; a stop
signal shuts the embedded database down."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

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


async def _children(proc: asyncio.subprocess.Process, count: int) -> list[psutil.Process]:
    """The process's children once there are ``count`` (it listens before it starts them)."""
    for _ in range(100):
        children = psutil.Process(proc.pid).children()
        if len(children) >= count:
            return children
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(children)} worker processes, not {count}")


def _gone(process: psutil.Process) -> bool:
    """Ended (a zombie has ended: only its parent has not collected its status)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _serve(port: int, env: dict[str, str], *options: str) -> asyncio.subprocess.Process:
    """``sscard serve`` on ``port``, its output (and errors) piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "issuance.cli.serve", "--port", str(port), *options,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _wait_listening(
    port: int, proc: asyncio.subprocess.Process, tries: int = 300, pause: float = 0.1
) -> None:
    for _ in range(tries):
        assert proc.returncode is None, "the server exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(pause)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("the server never listened")


async def test_workers_serve_and_stop_with_the_parent(db_dsn: str) -> None:
    port = _free_port()
    proc = await _serve(port, {**os.environ, "SSCARD_DATABASE_URL": db_dsn}, "--workers", "2")
    try:
        await _wait_listening(port, proc)
        workers = await _children(proc, 2)
        assert await asyncio.to_thread(_health, port, 20) == [200] * 20
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, output.decode()
    assert b"stopped" in output
    assert all(_gone(w) for w in workers)


async def test_a_stop_as_the_workers_start_leaves_none_behind(db_dsn: str) -> None:
    """SIGTERM as soon as the parent listens, while it starts its workers: a worker left
    running would hold the parent's output open, and ``communicate`` would never end."""
    port = _free_port()
    proc = await _serve(port, {**os.environ, "SSCARD_DATABASE_URL": db_dsn}, "--workers", "2")
    try:
        await _wait_listening(port, proc, tries=30_000, pause=0.001)  # at once
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, output.decode()
    assert b"stopped" in output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_stops_its_embedded_database_on_sigterm_as_on_ctrl_c(sig: int) -> None:
    """A service manager's stop (SIGTERM) shuts the embedded database down, as Ctrl-C does."""
    folder = Path(tempfile.mkdtemp(prefix="sscard-serve-"))  # the server runs as another user
    env = {k: v for k, v in os.environ.items() if k != "SSCARD_DATABASE_URL"}
    env["SSCARD_DATA_DIR"] = str(folder)
    port = _free_port()
    proc = await _serve(port, env)
    pid_file = folder / "pgdata" / "postmaster.pid"
    try:
        await _wait_listening(port, proc, tries=600)
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        assert await asyncio.to_thread(_health, port, 1) == [200]
        proc.send_signal(sig)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, output.decode()
        assert b"the database was shut down cleanly" in output
        assert not pid_file.exists()
        assert _gone(postmaster)
    finally:
        _stop_leftovers(proc, pid_file)
        shutil.rmtree(folder, ignore_errors=True)


def _stop_leftovers(proc: asyncio.subprocess.Process, pid_file: Path) -> None:
    """Whatever a failed run left behind: the command, and a database it did not stop."""
    if proc.returncode is None:
        proc.kill()
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.NoSuchProcess):
        psutil.Process(int(pid_file.read_text().split()[0])).terminate()
