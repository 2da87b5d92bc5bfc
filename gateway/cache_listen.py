"""The LISTEN connection that keeps this process's cache (`sales.cache`) true to the database.

The cache answers only while this connection is up; a reconnect drops all of it,
since the notifications sent meanwhile are lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import cache_key, database_url_key
from gateway.background import stop
from gateway.listener import Listener
from sales.cache import CACHE_CHANNEL, Cache


class CacheListener(Listener):
    """Drops what a change makes stale; the cache is live only while connected."""

    channel = CACHE_CHANNEL
    application_name = "maas-cache-listen"

    def __init__(self, database_url: str, cache: Cache) -> None:
        super().__init__(database_url)
        self.cache = cache

    def caught_up(self) -> None:
        """Start answering from memory, with a cache that knows nothing yet."""
        self.cache.set_live(True)

    def notified(self, payload: str) -> None:
        """Drop what the changed table (named by the payload) feeds."""
        self.cache.changed(payload)

    def disconnected(self) -> None:
        """Deaf to changes: every lookup reads the database until connected again."""
        self.cache.set_live(False)


async def cache_context(app: web.Application) -> AsyncIterator[None]:
    """Make the process's cache and listen for changes to cached tables while the app runs."""
    cache = app[cache_key] = Cache()
    listener = CacheListener(app[database_url_key], cache)
    task = asyncio.create_task(listener.run(), name="cache-listen")
    yield
    await stop(task)
