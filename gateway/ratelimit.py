"""Fixed-window rate limits per API key (or per client address), counted in Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web

from gateway.api import PRINCIPAL
from gateway.appkeys import redis_key, settings_key
from gateway.clientaddr import client_address
from gateway.credentials import Principal

#: Probes and metrics scrapes are never limited.
_EXEMPT = frozenset({"/health", "/ready", "/metrics"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may go on, and what the client has left."""

    allowed: bool
    limit: int
    window_s: int
    remaining: int
    retry_after_s: int


async def check(request: web.Request) -> Verdict | None:
    """Count this request; None when it is exempt or Redis cannot count (then it is served)."""
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
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s + 1)
            count, _ = await pipe.execute()
        return int(count)

    count = await guard.call(incr, fallback=-1)
    if count < 0:
        return None
    retry_after = max(1, int((window + 1) * window_s - now) + 1)
    return Verdict(count <= limit, limit, window_s, max(0, limit - count), retry_after)
