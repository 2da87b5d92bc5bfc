"""A gateway served on a loopback port from a thread of its own, for synchronous HTTP clients.

Schemathesis calls the gateway with `requests`, which blocks; the gateway therefore runs
its own event loop in another thread, wired by `create_app` exactly as in production.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from aiohttp import web

from gateway.app import create_app
from gateway.dbcodecs import init_connection
from gateway.settings import Settings

T = TypeVar("T")


@dataclass
class LoopbackGateway:
    """A gateway listening on 127.0.0.1, and a way to run coroutines on its loop."""

    base_url: str
    loop: asyncio.AbstractEventLoop
    pool: asyncpg.Pool
    keys: dict[str, str] = field(default_factory=dict)

    def run(self, factory: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """Run `factory(pool)` on the gateway's loop and return its result."""

        async def call() -> T:
            return await factory(self.pool)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=120)


@contextmanager
def loopback_gateway(settings: Settings) -> Iterator[LoopbackGateway]:
    """Serve a gateway on a free loopback port until the block ends."""
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=2, init=init_connection
        ) as pool:
            ready["gateway"] = LoopbackGateway(f"http://127.0.0.1:{port}", loop, pool)
            started.set()
            await stop.wait()
        await runner.cleanup()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # the test thread reports it
            ready["error"] = exc
            started.set()

    thread = threading.Thread(target=main, name=f"gateway-{uuid.uuid4().hex[:6]}", daemon=True)
    thread.start()
    started.wait(timeout=120)
    if "error" in ready:
        raise ready["error"]
    try:
        yield ready["gateway"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        loop.close()
