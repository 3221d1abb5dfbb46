"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop; SIGTERM stops it the way Ctrl-C does.

    A service manager stops a command with SIGTERM (systemd, ``docker stop``).
    Python's default for it ends the process on the spot, which would leave the
    embedded database running and an outlet agent's devices open; here it takes
    Ctrl-C's path instead, so the command closes what it opened. (While the API
    serves, uvicorn catches both signals, lets the requests under way finish,
    and raises the signal again once it has stopped.)
    """
    if threading.current_thread() is not threading.main_thread():
        return uvloop.run(coro)  # only the main thread receives signals
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        return uvloop.run(coro)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stop_signals_call(stop: Callable[[], None]) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM call ``stop`` instead of interrupting it.

    Around an API server: uvicorn takes both signals while it serves, and once it
    has stopped raises the one it took again. Without this, Ctrl-C's path would
    then cancel the command just as it closes its pool and its database.
    """
    previous = {sig: signal.signal(sig, lambda *_: stop()) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def readable_file(text: str) -> Path:
    """An argparse ``type``: a file that exists and can be read (else a usage error, exit 2)."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror or exc}") from None
    return path
