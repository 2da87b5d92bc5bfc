import asyncio
from collections.abc import Awaitable, Callable, Iterator
from ipaddress import ip_network
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from gateway import embedded
from gateway.app import create_app
from gateway.clientaddr import forwarded_client
from gateway.ratelimit import LocalCounts
from gateway.settings import Settings, SettingsError, load_settings
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


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # what the client wrote: no
        ("10.0.0.1", ["198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # two proxies
        ("10.0.0.1", ["198.51.100.1", "10.0.0.2"], "198.51.100.1"),  # two headers
        ("10.0.0.1", ["10.0.0.3"], "10.0.0.3"),  # only proxies: the farthest one
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["not-an-address"], "not-an-address"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert forwarded_client(peer, forwarded, (ip_network("10.0.0.0/8"),)) == client


async def test_anonymous_limits_are_per_forwarded_client_behind_a_trusted_proxy(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_anonymous_requests": 1, "trusted_proxies": (ip_network("127.0.0.1"),)}
    )
    client = await aiohttp_client(create_app(limited))

    async def status(forwarded_for: str) -> int:
        resp = await client.get("/openapi.json", headers={"X-Forwarded-For": forwarded_for})
        return resp.status

    assert [await status("198.51.100.1"), await status("198.51.100.1")] == [200, 429]
    assert await status("198.51.100.2") == 200


async def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    limited = settings.model_copy(update={"rate_limit_anonymous_requests": 1})
    client = await aiohttp_client(create_app(limited))
    first = await client.get("/openapi.json", headers={"X-Forwarded-For": "198.51.100.1"})
    second = await client.get("/openapi.json", headers={"X-Forwarded-For": "198.51.100.2"})
    assert [first.status, second.status] == [200, 429]


def test_trusted_proxies_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAAS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5")
    assert load_settings().trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
    )
    monkeypatch.setenv("MAAS_TRUSTED_PROXIES", "10.0.0.0/33")
    with pytest.raises(SettingsError, match="MAAS_TRUSTED_PROXIES"):
        load_settings()


async def test_guessing_keys_is_limited_like_any_anonymous_client(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    limited = settings.model_copy(update={"rate_limit_anonymous_requests": 2})
    client = await aiohttp_client(create_app(limited))
    guess = {"Authorization": "Bearer mk_maas_AAAAAAAA_" + "x" * 43}
    statuses = [(await client.get("/v1/me", headers=guess)).status for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_local_counts_start_again_each_window_and_serve_uncounted_past_their_table() -> None:
    counts = LocalCounts(max_subjects=2)
    assert [counts.incr("key:a", 7, 60) for _ in range(3)] == [1, 2, 3]
    assert counts.incr("key:b", 7, 60) == 1
    assert counts.incr("key:c", 7, 60) == 0  # full: served, not counted (and not remembered)
    assert counts.incr("key:a", 7, 60) == 4
    assert counts.incr("key:a", 8, 60) == 1


async def test_a_window_count_lives_in_redis_and_expires_after_its_window(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    limited = settings.model_copy(update={"rate_limit_requests": 5, "rate_limit_window_s": 30})
    client = await aiohttp_client(create_app(limited))
    headers = bearer(await make_key("planner"))
    for _ in range(2):
        assert (await client.get("/v1/me", headers=headers)).status == 200
    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        keys = [k async for k in redis.scan_iter(f"{settings.redis_prefix}rl:*")]
        assert len(keys) == 1
        assert await redis.get(keys[0]) == b"2"
        assert 0 < await redis.ttl(keys[0]) <= 31
    finally:
        await redis.aclose()
