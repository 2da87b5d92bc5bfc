"""#14 defects 3 and 4: Redis stopped, frozen (SIGSTOP) or busy (`DEBUG SLEEP`) during purchases.

Two gateways share a Redis of this test's own. While it fails, both keep selling,
rate limits (the failed-API-key limit included) are counted by each process, and a
realtime feed pushed to one stays there; once Redis is back, the other one gets it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis

from gateway import embedded
from gateway.app import create_app
from gateway.appkeys import realtime_key
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.faults.support import until
from tests.gateway.realtime.support import (
    KL,
    Client,
    MakeKey,
    Vehicle,
    kuopio_timetable,
    push,
    vehicle_feed,
)
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

#: Per key and per client address while Redis is down, in each process.
KEY_LIMIT = 40
ANONYMOUS_LIMIT = 5
PURCHASES = 4  # per gateway and phase: three requests each
BUSY_S = 15  # how long `DEBUG SLEEP` keeps Redis from answering


@dataclass
class OwnRedis:
    """A Redis of one test's own that it can stop, start again (empty), freeze and keep busy."""

    folder: Path
    port: int
    server: embedded.EmbeddedRedis

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        self.server = embedded.start_redis(self.folder, self.port)

    def busy(self, seconds: int) -> None:
        """Keep Redis from answering anyone for `seconds` (blocks the calling thread as long)."""
        client = redis.Redis.from_url(self.url, socket_timeout=seconds + 10)
        try:
            client.execute_command("DEBUG", "SLEEP", str(seconds))  # type: ignore[no-untyped-call]
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    port = embedded._free_port()
    own = OwnRedis(tmp_path, port, embedded.start_redis(tmp_path, port))
    yield own
    own.server.stop()


async def _gateway(aiohttp_client: ClientFactory, settings: Settings, redis_url: str) -> Client:
    update = {
        "redis_url": redis_url,
        "rate_limit_requests": KEY_LIMIT,
        "rate_limit_anonymous_requests": ANONYMOUS_LIMIT,
        "rate_limit_window_s": 3600,
    }
    client: Client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    await kuopio_timetable(client)
    return client


async def _purchase(client: Client, key: str, operator_id: str) -> str:
    """Offer, book and confirm one day ticket; return the booking id."""
    made = await offer(client, key, day_ticket_offer(operator_id))
    status, booking = await book(client, key, [made["id"]])
    assert status == 201, booking
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "CONFIRMED"
    booking_id: str = booking["id"]
    return booking_id


async def _statuses_until_429(client: Client, headers: dict[str, str], limit: int) -> list[int]:
    """Call until refused; at most two windows' worth (a window may turn meanwhile)."""
    statuses: list[int] = []
    for _ in range(2 * limit + 1):
        statuses.append((await client.get("/v1/me", headers=headers)).status)
        if statuses[-1] == 429:
            break
    return statuses


def _vehicle_ids(client: Client) -> set[str]:
    return {str(p.vehicle_id) for p in client.app[realtime_key].state.positions()}


@pytest.mark.parametrize("failure", ["stopped", "frozen", "busy"])
async def test_selling_limits_and_realtime_survive_redis_failing(
    kuopio_demo: str,
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_key: MakeKey,
    db: asyncpg.Pool,
    own_redis: OwnRedis,
    failure: str,
) -> None:
    one = await _gateway(aiohttp_client, settings, own_redis.url)
    two = await _gateway(aiohttp_client, settings, own_redis.url)
    operator_id = await operator_with_demo_fares(db)
    buyer, admin = await make_key("maas"), await make_key("admin")
    before = vehicle_feed([Vehicle("before", 62.8925, 27.6780)])
    assert (await push(one, admin, "vehicle-positions", before)).status == 200
    await until(lambda: _vehicle_ids(two) == {f"{KL}:before"}, "two gets the first feed")

    busy: asyncio.Task[None] | None = None
    if failure == "stopped":
        own_redis.server.stop()
    elif failure == "frozen":
        own_redis.server.pause()
    else:
        busy = asyncio.create_task(asyncio.to_thread(own_redis.busy, BUSY_S))
        await asyncio.sleep(0.5)  # the command reaches Redis before the gateways call it
    try:
        bought = [
            await _purchase(gw, buyer, operator_id) for _ in range(PURCHASES) for gw in (one, two)
        ]
        # Limits fall back to each process's own count: a greedy key, and a client guessing keys.
        greedy = await _statuses_until_429(one, bearer(await make_key("maas")), KEY_LIMIT)
        assert greedy[0] == 200
        assert greedy[-1] == 429, greedy
        guessing = bearer(f"maas_{uuid.uuid4().hex}")
        guessed = await _statuses_until_429(two, guessing, ANONYMOUS_LIMIT)
        assert guessed[0] == 401
        assert guessed[-1] == 429, guessed
        during = vehicle_feed([Vehicle("during", 62.8930, 27.6790)])
        assert (await push(one, admin, "vehicle-positions", during)).status == 200
        assert _vehicle_ids(one) == {f"{KL}:during"}
    finally:
        if failure == "stopped":
            own_redis.restart()  # empty: whatever Redis held is gone
        elif failure == "frozen":
            own_redis.server.resume()
        elif busy is not None:
            await busy
    await until(lambda: _vehicle_ids(two) == {f"{KL}:during"}, "two gets the feed pushed meanwhile")
    bought += [await _purchase(gw, buyer, operator_id) for gw in (one, two)]
    count = await db.fetchval(
        "SELECT count(*) FROM bookings b JOIN booking_legs l ON l.booking_id = b.id"
        " WHERE l.operator_id = $1 AND b.status = 'CONFIRMED'",
        operator_id,
    )
    assert count == len(set(bought))
