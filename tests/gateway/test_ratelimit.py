import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from gateway import embedded
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer

MakeKey = Callable[..., Awaitable[str]]


async def test_over_limit_is_429_with_retry_after_then_recovers(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    limited = settings.model_copy(update={"rate_limit_requests": 3, "rate_limit_window_s": 2})
    client = await aiohttp_client(create_app(limited))
    headers = bearer(await make_key("planner"))
    statuses = [(await client.get("/v1/me", headers=headers)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = await client.get("/v1/me", headers=headers)
    assert resp.status == 429
    body = await resp.json(content_type="application/problem+json")
    assert body["code"] == "rate_limited"
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 3
    await asyncio.sleep(retry_after)
    resp = await client.get("/v1/me", headers=headers)
    assert resp.status == 200
    assert resp.headers["X-RateLimit-Limit"] == "3"


async def test_limits_are_per_key(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    limited = settings.model_copy(update={"rate_limit_requests": 2, "rate_limit_window_s": 60})
    client = await aiohttp_client(create_app(limited))
    first, second = bearer(await make_key("planner")), bearer(await make_key("planner"))
    for _ in range(2):
        assert (await client.get("/v1/me", headers=first)).status == 200
    assert (await client.get("/v1/me", headers=first)).status == 429
    assert (await client.get("/v1/me", headers=second)).status == 200


async def test_probes_are_never_limited(aiohttp_client: ClientFactory, settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_anonymous_requests": 1})
    client = await aiohttp_client(create_app(limited))
    assert all([(await client.get("/health")).status == 200 for _ in range(3)])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[embedded.EmbeddedRedis]:
    server = embedded.start_redis(tmp_path)
    yield server
    server.stop()


@pytest.mark.parametrize("failure", ["paused", "stopped"])
async def test_requests_are_served_quickly_when_redis_fails(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_key: MakeKey,
    own_redis: embedded.EmbeddedRedis,
    failure: str,
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"redis_url": own_redis.url}))
    )
    headers = bearer(await make_key("planner"))
    assert (await client.get("/v1/me", headers=headers)).status == 200
    if failure == "paused":
        own_redis.pause()
    else:
        own_redis.stop()
    # A hung Redis must cost at most its short timeout, never the client's patience.
    quick = aiohttp.ClientTimeout(total=3)
    for _ in range(5):
        resp = await client.get("/v1/me", headers=headers, timeout=quick)
        assert resp.status == 200
    ready = await client.get("/ready", timeout=quick)
    assert ready.status == 200
    assert (await ready.json())["redis"] == "degraded"
    own_redis.resume()
