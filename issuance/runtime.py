"""The running system's resources: database server, schema, pool.

async with Runtime(Settings.from_env()) as rt:
    rt.pool, rt.queue, rt.store, rt.vault, rt.server.dsn
"""

from __future__ import annotations

from types import TracebackType

import asyncpg

from cardqueue import Queue
from issuance.config import Settings
from issuance.db.connect import create_pool, database_errors
from issuance.db.migrate import migrate
from issuance.db.server import DatabaseServer
from issuance.store import Store
from issuance.vault import SealedPayloadCodec, Vault, load_master_key


class Runtime:
    def __init__(self, settings: Settings, *, pool_size: int = 10) -> None:
        self.settings = settings
        self.server = DatabaseServer(settings)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._vault: Vault | None = None

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
        return Queue(self.pool, codec=SealedPayloadCodec(self.vault))

    @property
    def store(self) -> Store:
        return Store(self.pool, self.vault)

    async def __aenter__(self) -> Runtime:
        await self.server.__aenter__()
        try:
            with database_errors():
                conn = await asyncpg.connect(self.server.dsn)
            try:
                await migrate(conn)
                master = load_master_key(self.settings.data_dir)
                self._vault = await Vault.load(conn, master)
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
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.server.__aexit__(exc_type, exc, tb)
