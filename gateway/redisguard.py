"""Redis behind a short timeout and a breaker: when Redis is down or hung the gateway keeps serving.

Everything in Redis may be lost or rebuilt (rate-limit counters, live
positions, caches), so a failed call degrades a feature instead of a request.
After a failure the guard skips Redis for a cool-down instead of paying the
timeout on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisGuard:
    """A Redis client whose calls give up quickly and return a fallback when Redis fails."""

    def __init__(
        self, client: aioredis.Redis, prefix: str, timeout_s: float, cooldown_s: float = 2.0
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self._down_until = 0.0
        self.last_error: str | None = None

    def key(self, *parts: str) -> str:
        """Return a namespaced Redis key."""
        return self.prefix + ":".join(parts)

    @property
    def degraded(self) -> bool:
        """Tell whether a recent call failed and Redis is being skipped."""
        return time.monotonic() < self._down_until

    async def call(self, fn: Callable[[aioredis.Redis], Awaitable[T]], fallback: T) -> T:
        """Run `fn(client)` within the timeout; on any Redis failure return `fallback`."""
        if self.degraded:
            return fallback
        try:
            async with asyncio.timeout(self.timeout_s):  # keeps a cancel, as wait_for may not
                return await fn(self.client)
        except (RedisError, TimeoutError, OSError) as exc:
            self._trip(exc)
            return fallback

    async def ping(self) -> bool:
        """Ask Redis directly (ignoring the breaker) and reset the breaker when it answers."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.client.ping()
        except (RedisError, TimeoutError, OSError) as exc:
            self._trip(exc)
            return False
        self._down_until = 0.0
        self.last_error = None
        return True

    def _trip(self, exc: BaseException) -> None:
        if not self.degraded:
            log.warning("redis unavailable, degrading", extra={"error": repr(exc)})
        self.last_error = type(exc).__name__
        self._down_until = time.monotonic() + self.cooldown_s
