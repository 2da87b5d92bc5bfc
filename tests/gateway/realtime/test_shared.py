"""Realtime state across gateway processes (Redis), without Redis, and polled from an operator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.realtime.poller import next_delay_s
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.gateway.realtime.support import (
    KL,
    TEATTERIKULMA,
    WHEN,
    Client,
    MakeKey,
    Vehicle,
    delay_feed,
    eventually,
    kuopio_timetable,
    push,
    vehicle_feed,
)

ServerFactory = Callable[..., Awaitable[TestServer]]
#: Processes agree within a second; the wait allows for a loaded test machine.
AGREE_S = 2.0


async def _gateway(aiohttp_client: ClientFactory, settings: Settings) -> Client:
    client: Client = await aiohttp_client(create_app(settings))
    await kuopio_timetable(client)
    return client


async def _vehicle_ids(client: Client) -> set[str]:
    body = await (await client.get("/v1/vehicles")).json()
    return {v["vehicle_id"] for v in body["items"]}


async def _delay_at(client: Client, trip_id: str) -> int | None:
    resp = await client.get(f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": WHEN})
    for d in (await resp.json())["items"]:
        if d["trip_id"] == trip_id:
            delay: int | None = d.get("delay_s")
            return delay
    raise AssertionError(f"{trip_id} no longer departs from {TEATTERIKULMA}")


async def test_two_gateways_agree_after_a_push_to_one(
    kuopio_demo: str, aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    one = await _gateway(aiohttp_client, settings)
    two = await _gateway(aiohttp_client, settings)
    admin = await make_key("admin")
    trip_id = (
        await (await one.get(f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": WHEN})).json()
    )["items"][0]["trip_id"]

    assert (
        await push(one, admin, "trip-updates", delay_feed(trip_id, TEATTERIKULMA, 180))
    ).status == 200
    vehicles = vehicle_feed([Vehicle("bus-1", 62.8925, 27.6780)])
    assert (await push(one, admin, "vehicle-positions", vehicles)).status == 200

    async def two_agrees() -> bool:
        return await _delay_at(two, trip_id) == 180 and await _vehicle_ids(two) == {f"{KL}:bus-1"}

    await eventually(two_agrees, AGREE_S)
    status = await (await two.get(f"/v1/operators/{KL}/realtime", headers=bearer(admin))).json()
    assert status["feeds"]["trip-updates"]["accepted_count"] == 1
    assert status["shared"] is True

    # A process that starts later catches up from what Redis holds.
    three = await _gateway(aiohttp_client, settings)

    async def three_agrees() -> bool:
        return await _delay_at(three, trip_id) == 180

    await eventually(three_agrees, AGREE_S + 10)


async def test_without_redis_the_receiving_gateway_still_applies_a_push(
    kuopio_demo: str, aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    alone = await _gateway(aiohttp_client, unreachable)
    admin = await make_key("admin")
    vehicles = vehicle_feed([Vehicle("bus-9", 62.8925, 27.6780)])
    resp = await push(alone, admin, "vehicle-positions", vehicles)
    assert resp.status == 200, await resp.text()
    assert await _vehicle_ids(alone) == {f"{KL}:bus-9"}
    status = await (await alone.get(f"/v1/operators/{KL}/realtime", headers=bearer(admin))).json()
    assert status["shared"] is False


class FakeOperator:
    """An operator's GTFS-RT server: fails first, then serves a feed with an ETag."""

    def __init__(self, failures: int, body: bytes) -> None:
        self.failures = failures
        self.body = body
        self.requests: list[tuple[float, dict[str, str], int]] = []

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 500, then the feed, then 304 to a request that names its ETag."""
        status = 200
        if len(self.requests) < self.failures:
            status = 500
        elif request.headers.get("If-None-Match") == '"v1"':
            status = 304
        self.requests.append((time.monotonic(), dict(request.headers), status))
        if status == 200:
            return web.Response(body=self.body, headers={"ETag": '"v1"'})
        return web.Response(status=status)


@pytest.fixture
async def sources_removed(db: asyncpg.Pool) -> AsyncIterator[None]:
    """Remove the realtime sources a test configures, so later tests poll nothing."""
    yield
    await db.execute("DELETE FROM realtime_sources WHERE operator_id = $1", KL)


async def test_polling_backs_off_on_failures_then_asks_conditionally(
    sources_removed: None,
    kuopio_demo: str,
    aiohttp_client: ClientFactory,
    aiohttp_server: ServerFactory,
    settings: Settings,
    make_key: MakeKey,
) -> None:
    fake = FakeOperator(2, vehicle_feed([Vehicle("polled", 62.8925, 27.6780)]))
    app = web.Application()
    app.router.add_get("/vp.pb", fake.handle)
    server = await aiohttp_server(app)
    gateway = await _gateway(aiohttp_client, settings)
    key = await make_key("operator", operator_id=KL)
    url = str(server.make_url("/vp.pb"))
    sources = {"vehicle_positions_url": url, "poll_interval_s": 0.2}
    resp = await gateway.put(
        f"/v1/operators/{KL}/realtime-sources", json=sources, headers=bearer(key)
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["vehicle_positions_url"] == url

    async def polled() -> bool:
        return any(s == 304 for _, _, s in fake.requests) and f"{KL}:polled" in await _vehicle_ids(
            gateway
        )

    await eventually(polled, 20)
    times = [t for t, _, _ in fake.requests]
    # After the first and second 500 the poller waits 2x and then 4x the interval.
    assert times[1] - times[0] >= next_delay_s(0.2, 1) - 0.05
    assert times[2] - times[1] >= next_delay_s(0.2, 2) - 0.05
    first_ok = next(i for i, (_, _, s) in enumerate(fake.requests) if s == 200)
    assert "If-None-Match" not in fake.requests[first_ok][1]
    assert fake.requests[first_ok + 1][1]["If-None-Match"] == '"v1"'
    status: dict[str, Any] = await (
        await gateway.get(f"/v1/operators/{KL}/realtime", headers=bearer(key))
    ).json()
    polling = status["polling"]["vehicle-positions"]
    assert polling["failures"] == 0
    assert polling["not_modified"] >= 1
    assert polling["polled_here"] is True
    assert status["feeds"]["vehicle-positions"]["accepted_count"] == 1

    # A second gateway leaves the polling to the first and gets the feed through Redis.
    other = await _gateway(aiohttp_client, settings)

    async def other_follows() -> bool:
        body = await (await other.get(f"/v1/operators/{KL}/realtime", headers=bearer(key))).json()
        return "vehicle-positions" in body["polling"] and f"{KL}:polled" in await _vehicle_ids(
            other
        )

    await eventually(other_follows, 20)
    body = await (await other.get(f"/v1/operators/{KL}/realtime", headers=bearer(key))).json()
    assert body["polling"]["vehicle-positions"]["polled_here"] is False
    assert body["polling"]["vehicle-positions"]["polls"] == 0


async def test_a_polled_garbage_body_is_a_failure_that_never_echoes_the_body(
    sources_removed: None,
    kuopio_demo: str,
    aiohttp_client: ClientFactory,
    aiohttp_server: ServerFactory,
    settings: Settings,
    make_key: MakeKey,
) -> None:
    fake = FakeOperator(0, b"secret-internal-page")
    app = web.Application()
    app.router.add_get("/tu.pb", fake.handle)
    server = await aiohttp_server(app)
    gateway = await _gateway(aiohttp_client, settings)
    key = await make_key("operator", operator_id=KL)
    sources = {"trip_updates_url": str(server.make_url("/tu.pb")), "poll_interval_s": 0.2}
    resp = await gateway.put(
        f"/v1/operators/{KL}/realtime-sources", json=sources, headers=bearer(key)
    )
    assert resp.status == 200

    async def failed_twice() -> bool:
        body = await (await gateway.get(f"/v1/operators/{KL}/realtime", headers=bearer(key))).json()
        failures: int = body["polling"].get("trip-updates", {}).get("failures", 0)
        return failures >= 2

    await eventually(failed_twice, 20)
    body = await (await gateway.get(f"/v1/operators/{KL}/realtime", headers=bearer(key))).json()
    assert "secret" not in body["polling"]["trip-updates"]["last_error"]
    assert "trip-updates" not in body["feeds"]
    assert all("If-None-Match" not in headers for _, headers, _ in fake.requests)


def test_backoff_doubles_per_failure_up_to_a_ceiling() -> None:
    assert [next_delay_s(30, n) for n in range(4)] == [30, 60, 120, 240]
    assert next_delay_s(30, 50) == 600
    assert next_delay_s(900, 3) == 900


@pytest.mark.parametrize("url", ["ftp://example.org/vp.pb", "not a url"])
async def test_realtime_sources_must_be_http_urls(
    kuopio_demo: str, client: Client, make_key: MakeKey, url: str
) -> None:
    key = await make_key("operator", operator_id=KL)
    resp = await client.put(
        f"/v1/operators/{KL}/realtime-sources",
        json={"trip_updates_url": url},
        headers=bearer(key),
    )
    assert resp.status == 422
    other = await client.put(
        "/v1/operators/linja-karjala/realtime-sources", json={}, headers=bearer(key)
    )
    assert other.status == 403
