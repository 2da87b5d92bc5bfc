"""The database a `maas` command works on: the configured one, or the embedded one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from gateway import embedded
from gateway.dbcodecs import init_connection
from gateway.migrate import migrate
from gateway.settings import Settings


async def database_url(settings: Settings) -> str:
    """Return the configured database URL, starting the embedded server when there is none."""
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(embedded.start_postgres, settings.data_dir)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """Open a small pool on the configured (or embedded) database, migrated."""
    url = await database_url(settings)
    async with asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool
