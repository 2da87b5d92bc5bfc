"""Fixed-window rate limits per API key (or per client address), counted in Redis.

While Redis cannot count (down, hung, or skipped by the guard's breaker), each
process counts on its own (`LocalCounts`) with the same limits: honest traffic
keeps flowing, and neither a key nor a client guessing keys goes unlimited (with
N processes behind a proxy a client gets at most N times its limit meanwhile).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web

from gateway.api import PRINCIPAL
from gateway.appkeys import local_counts_key, redis_key, settings_key
from gateway.clientaddr import client_address
from gateway.credentials import Principal

#: Probes and metrics scrapes are never limited.
_EXEMPT = frozenset({"/health", "/ready", "/metrics"})
#: Subjects one process counts per window while Redis is down; more are served uncounted.
LOCAL_SUBJECTS = 100_000
#: Count a request and (re)arm the window's expiry, atomically: one command where a
#: MULTI/INCR/EXPIRE/EXEC pipeline took four, which was most of a request's Redis cost.
_COUNT = "local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return n"


class LocalCounts:
    """Fixed-window counts of this process alone: the limits while Redis cannot count."""

    def __init__(self, max_subjects: int = LOCAL_SUBJECTS) -> None:
        self.max_subjects = max_subjects
        self._window: tuple[int, int] = (-1, 0)
        self._counts: dict[str, int] = {}

    def incr(self, subject: str, window: int, window_s: int) -> int:
        """Count one request of `subject` in a window; 0 when the table is full (not counted)."""
        if (window, window_s) != self._window:
            self._window, self._counts = (window, window_s), {}
        count = self._counts.get(subject, 0) + 1
        if count == 1 and len(self._counts) >= self.max_subjects:
            return 0
        self._counts[subject] = count
        return count


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may go on, and what the client has left."""

    allowed: bool
    limit: int
    window_s: int
    remaining: int
    retry_after_s: int


async def check(request: web.Request) -> Verdict | None:
    """Count this request (in Redis, else in this process); None when it is exempt."""
    if request.path in _EXEMPT:
        return None
    settings = request.app[settings_key]
    caller: Principal | None = request.get(PRINCIPAL)
    if caller is not None:
        subject, limit = f"key:{caller.prefix}", settings.rate_limit_requests
    else:
        subject, limit = f"ip:{client_address(request)}", settings.rate_limit_anonymous_requests
    window_s = settings.rate_limit_window_s
    now = time.time()
    window = int(now // window_s)
    guard = request.app[redis_key]
    key = guard.key("rl", subject, str(window))

    async def incr(client: aioredis.Redis) -> int:
        return int(await client.eval(_COUNT, 1, key, window_s + 1))

    count = await guard.call(incr, fallback=-1)
    if count < 0:
        count = request.app[local_counts_key].incr(subject, window, window_s)
    retry_after = max(1, int((window + 1) * window_s - now) + 1)
    return Verdict(count <= limit, limit, window_s, max(0, limit - count), retry_after)
