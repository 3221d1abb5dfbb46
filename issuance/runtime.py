"""The running system's resources: database server, schema, pool.

async with Runtime(Settings.from_env()) as rt:
    rt.pool, rt.queue, rt.server.dsn
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import asyncpg

from cardqueue import Queue
from issuance.config import Settings
from issuance.db.connect import CONNECTION_ERRORS, create_pool, database_errors
from issuance.db.migrate import migrate
from issuance.db.server import DatabaseServer

POOL_CLOSE_SECONDS = 5.0


class Runtime:
    def __init__(self, settings: Settings, *, pool_size: int = 10) -> None:
        self.settings = settings
        self.server = DatabaseServer(settings)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the runtime is not open")
        return self._pool

    @property
    def queue(self) -> Queue:
        return Queue(self.pool)

    async def __aenter__(self) -> Runtime:
        await self.server.__aenter__()
        try:
            with database_errors():
                conn = await asyncpg.connect(self.server.dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            self._pool = await create_pool(self.server.dsn, max_size=self._pool_size)
        except BaseException:
            await self.server.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
            except (*CONNECTION_ERRORS, TimeoutError):  # type: ignore[misc]
                pool.terminate()
        await self.server.__aexit__(exc_type, exc, tb)
