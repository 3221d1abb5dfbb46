"""The embedded server stops when its last user lets go, even after a user died holding it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from issuance.db.server import USERS_FILE, start_embedded

ROOT = Path(__file__).resolve().parents[2]
# A process that starts (or joins) the server and is then killed: it never lets go.
KILLED_USER = """
import os, signal, sys
from pathlib import Path
from issuance.db.server import start_embedded
start_embedded(Path(sys.argv[1]))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def pgdata() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sscard-pg-"))  # the server runs as another user
    try:
        yield folder / "pgdata"
    finally:
        left = folder / "pgdata" / "postmaster.pid"
        if left.exists():  # a failed test's server
            psutil.Process(int(left.read_text().split()[0])).terminate()
        shutil.rmtree(folder, ignore_errors=True)


def _users(pgdata: Path) -> list[int]:
    return [int(pid) for pid in json.loads((pgdata / USERS_FILE).read_text())]


def test_the_last_user_stops_the_server_after_another_was_killed(pgdata: Path) -> None:
    command = [sys.executable, "-c", KILLED_USER, str(pgdata)]
    killed = subprocess.run(command, cwd=ROOT, check=False)
    assert killed.returncode < 0  # killed by its signal, holding the server
    assert (pgdata / "postmaster.pid").exists()
    assert len(_users(pgdata)) == 1

    server = start_embedded(pgdata)
    assert _users(pgdata) == [psutil.Process().pid]
    server.cleanup()
    assert not (pgdata / "postmaster.pid").exists()


def test_no_one_uses_a_server_that_is_not_running(pgdata: Path) -> None:
    start_embedded(pgdata).cleanup()
    # As after a restart of the machine: the listed process (pid 1 here) is someone else.
    (pgdata / USERS_FILE).write_text(json.dumps([1]))

    server = start_embedded(pgdata)
    assert _users(pgdata) == [psutil.Process().pid]
    server.cleanup()
    assert not (pgdata / "postmaster.pid").exists()
