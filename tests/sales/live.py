"""The Kuopio demo replayed as if it ran now, in a database of its own: rides one can still buy.

The run's shared database holds the published 2016-17 timetable (whose departures
have all left); offers for real trips need the live copy, moved by whole weeks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import credentials
from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.demo.run import import_demo, live_feed
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.servers import fresh_database

Client = TestClient[web.Request, web.Application]
HELSINKI = ZoneInfo("Europe/Helsinki")
TEATTERIKULMA = "kuopion-liikenne:201804"
SNELLMANIA = "kuopion-liikenne:201666"


async def _import(url: str, feed: Path) -> None:
    async with asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool:
        await import_demo(pool, feed)


@pytest.fixture(scope="session")
def live_url(kuopio_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return a database holding the live Kuopio demo (imported once per run)."""
    folder = tmp_path_factory.mktemp("live")
    with fresh_database(folder) as url:
        today = dt.datetime.now(HELSINKI).date()
        asyncio.run(_import(url, live_feed(kuopio_zip, folder, today)))
        yield url


@pytest.fixture
async def live_db(live_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Return a small pool on the live demo's database."""
    async with asyncpg.create_pool(live_url, min_size=1, max_size=4, init=init_connection) as pool:
        yield pool


@pytest.fixture
async def live(aiohttp_client: ClientFactory, settings: Settings, live_url: str) -> Client:
    """Return a gateway on the live demo, its timetable of the five operators built."""
    client: Client = await aiohttp_client(
        create_app(settings.model_copy(update={"database_url": live_url}))
    )
    await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=60,
    )
    return client


@pytest.fixture
def live_key(live_db: asyncpg.Pool) -> Callable[..., Awaitable[str]]:
    """Return a function that issues a key of a role on the live demo's database."""

    async def make(role: credentials.Role, operator_id: str | None = None) -> str:
        name = f"test-{role}-{uuid.uuid4().hex[:6]}"
        return await credentials.create_key(live_db, role, name, operator_id, None)

    return make


def next_weekday(hour: int, minute: int = 0, weekday: int | None = None) -> dt.datetime:
    """Return a time on the next weekday (or the next given weekday) after today, in Kuopio."""
    day = dt.datetime.now(HELSINKI).date() + dt.timedelta(days=1)
    while (day.weekday() >= 5) if weekday is None else (day.weekday() != weekday):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour, minute), HELSINKI)


async def journeys(
    client: Client, origin: str, destination: str, when: dt.datetime, **params: Any
) -> list[dict[str, Any]]:
    """Plan journeys (no key needed) and return them."""
    query = {"from": origin, "to": destination, "depart_at": when.isoformat()} | params
    resp = await client.get("/v1/journeys", params=query)
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def a_ride(client: Client, when: dt.datetime | None = None) -> dict[str, Any]:
    """Return the first transit leg of a real journey between two Kuopio stops."""
    found = await journeys(client, TEATTERIKULMA, SNELLMANIA, when or next_weekday(8))
    return next(leg for j in found for leg in j["legs"] if leg["mode"] == "transit")


def ride_request(leg: dict[str, Any]) -> dict[str, Any]:
    """Return the itinerary leg request naming a journey's transit leg."""
    return {
        "trip_id": leg["trip_id"],
        "service_date": leg["service_date"],
        "from_stop_id": leg["from_place"]["stop_id"],
        "to_stop_id": leg["to_place"]["stop_id"],
    }


async def post_offer(client: Client, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Ask for an offer; return the status and the body."""
    resp = await client.post("/v1/offers", json=body, headers=bearer(key))
    return resp.status, await resp.json(content_type=None)
