"""The running system's resources: database server, schema, pool, wake-ups.

async with Runtime(Settings.from_env()) as rt:
    rt.pool, rt.queue, rt.store, rt.vault, rt.wakeups, rt.server.dsn
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from types import TracebackType

import asyncpg

from cardqueue import Queue
from cardqueue.queue import Clock
from cardqueue.wakeups import Wakeups
from issuance.config import Settings
from issuance.db.migrate import migrate
from issuance.db.server import DatabaseServer
from issuance.store import Store
from issuance.vault import SealedPayloadCodec, Vault, load_master_key
from sscard_core.connect import CONNECTION_ERRORS, create_pool, database_errors

POOL_CLOSE_SECONDS = 5.0


class Runtime:
    def __init__(
        self, settings: Settings, *, pool_size: int = 10, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.server = DatabaseServer(settings)
        self._pool_size = pool_size
        self._clock = clock
        self._pool: asyncpg.Pool | None = None
        self._vault: Vault | None = None
        self._wakeups: Wakeups | None = None
        self._stack = AsyncExitStack()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the runtime is not open")
        return self._pool

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            raise RuntimeError("the runtime is not open")
        return self._vault

    @property
    def queue(self) -> Queue:
        """The queue, on the runtime's clock (the database's unless one was given); its
        payloads sealed."""
        return Queue(self.pool, clock=self._clock, codec=SealedPayloadCodec(self.vault))

    @property
    def store(self) -> Store:
        """The store, sealing personal data with this process's data keys."""
        return Store(self.pool, self.vault)

    @property
    def wakeups(self) -> Wakeups:
        """This process's LISTEN connection for the queue's wake-ups."""
        if self._wakeups is None:
            raise RuntimeError("the runtime is not open")
        return self._wakeups

    async def __aenter__(self) -> Runtime:
        await self.server.__aenter__()
        try:
            # migrations hold a session's advisory lock, and LISTEN a session: both need a
            # connection straight to PostgreSQL, not one a transaction pooler shares out
            direct = self.settings.direct_url or self.server.dsn
            with database_errors():
                conn = await asyncpg.connect(direct)
            try:
                await migrate(conn)
                master = load_master_key(self.settings.data_dir)
                self._vault = await Vault.load(conn, master)
            finally:
                await conn.close()
            self._pool = await create_pool(self.server.dsn, max_size=self._pool_size)
            self._wakeups = await self._stack.enter_async_context(Wakeups(direct))
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(exc_type, exc, tb)

    async def _close(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self._stack.aclose()
        self._stack = AsyncExitStack()
        self._wakeups = None
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
            except (*CONNECTION_ERRORS, TimeoutError):  # type: ignore[misc]
                pool.terminate()
        await self.server.__aexit__(exc_type, exc, tb)
