"""Wake-ups: one LISTEN connection per process tells waiting claimers that their site got work.

Every enqueue statement sends one ``NOTIFY sscard_jobs`` naming the sites that
got jobs (``*`` when the list is too long). A claimer registers for its site
with :meth:`Wakeups.watch` *before* it tries to claim, so a notification that
arrives while it claims is not lost. When the LISTEN connection drops, every
waiter is woken (it may have missed a notification) and the connection is
opened again with a backoff; claimers keep a slow poll as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator
from types import TracebackType

import asyncpg

from cardqueue.queue import CHANNEL
from sscard_core.connect import CONNECTION_ERRORS

EVERY_SITE = "*"
log = logging.getLogger(__name__)


class Wakeups:
    """``async with Wakeups(dsn) as wakeups:`` … ``with wakeups.watch(site) as woken:``."""

    def __init__(self, dsn: str, *, reconnect_seconds: float = 0.5) -> None:
        self._dsn = dsn
        self._reconnect_seconds = reconnect_seconds
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.listens = 0  # how many times the LISTEN connection was opened

    async def __aenter__(self) -> Wakeups:
        self._task = asyncio.create_task(self._keep_listening(), name="sscard-wakeups")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    @contextlib.contextmanager
    def watch(self, site: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``site`` may have new work; clear it before each claim."""
        event = asyncio.Event()
        self._waiters.setdefault(site, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(site)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[site]

    def watching(self, site: str) -> int:
        """How many claimers wait for ``site`` now."""
        return len(self._waiters.get(site, ()))

    def notify(self, payload: str) -> None:
        """Wake the waiters of the sites a notification names."""
        if payload == EVERY_SITE:
            self._wake_all()
            return
        for site in payload.split(","):
            for event in self._waiters.get(site, ()):
                event.set()

    def _wake_all(self) -> None:
        for waiting in self._waiters.values():
            for event in waiting:
                event.set()

    async def _keep_listening(self) -> None:
        delay = self._reconnect_seconds
        while True:
            try:
                await self._listen()
                delay = self._reconnect_seconds
                await self._lost.wait()
                log.warning("wake-up connection lost; reconnecting")
            except CONNECTION_ERRORS as exc:
                log.warning("wake-ups unavailable (%s); retrying in %.1fs", exc, delay)
            except Exception:  # a refusal the server may lift (a role, a database): keep trying
                log.exception("wake-ups failed; retrying in %.1fs", delay)
            await self._close()
            self._wake_all()  # a notification may have been missed meanwhile
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)

    async def _listen(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._dsn)
        self._conn = conn  # closed by _close() whatever happens next, a cancellation included
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        self.listens += 1
        self.connected.set()
        self._wake_all()  # work enqueued before we listened is claimable now

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if isinstance(payload, str):
            self.notify(payload)

    async def _close(self) -> None:
        self.connected.clear()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
