"""The demo replayed as if it ran now: today's journeys come with offers one can book."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.demo.run import import_demo, live_feed, next_weekday_morning
from gateway.demo.shift import first_service_date
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.sales.support import book
from tests.servers import fresh_database

MakeKey = Callable[..., Awaitable[str]]
TODAY = dt.datetime.now(ZoneInfo("Europe/Helsinki")).date()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: the live demo is not the published timetable."""
    with fresh_database(tmp_path) as url:
        yield url


def test_the_live_feed_runs_today_on_the_same_weekdays(kuopio_zip: Path, tmp_path: Path) -> None:
    published = first_service_date(kuopio_zip)
    live = live_feed(kuopio_zip, tmp_path, TODAY)
    moved = first_service_date(live)
    assert published is not None
    assert moved is not None
    assert (moved - published).days % 7 == 0
    assert moved <= TODAY < moved + dt.timedelta(weeks=8)
    assert live_feed(kuopio_zip, tmp_path, TODAY) == live  # once per week


async def test_a_maas_key_books_a_journey_of_the_live_demo(
    aiohttp_client: ClientFactory,
    settings: Settings,
    database_url: str,
    kuopio_zip: Path,
    tmp_path: Path,
    make_key: MakeKey,
) -> None:
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=2, init=init_connection
    ) as pool:
        await import_demo(pool, live_feed(kuopio_zip, tmp_path, TODAY))
    client = await aiohttp_client(create_app(settings))
    await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=30,
    )
    key = await make_key("maas")
    resp = await client.get(
        "/v1/journeys",
        params={
            "from": "kuopion-liikenne:201804",
            "to": "kuopion-liikenne:201666",
            "depart_at": next_weekday_morning(TODAY).isoformat(),
            "rider_category": "adult",
        },
        headers=bearer(key),
    )
    items = (await resp.json())["items"]
    priced = [i for i in items if i.get("price")]
    assert priced, [(i.get("price_problem"), [leg["mode"] for leg in i["legs"]]) for i in items]
    price = priced[0]["price"]
    assert price["total_minor"] > 0
    resp = await client.post("/v1/offers", json=priced[0]["offer_request"], headers=bearer(key))
    assert resp.status == 201, await resp.text()
    offer = await resp.json()
    assert offer["total_minor"] == price["total_minor"]
    transit = [leg for leg in priced[0]["legs"] if leg["mode"] == "transit"]
    assert [leg["trip_id"] for leg in offer["legs"]] == [leg["trip_id"] for leg in transit]
    status, booking = await book(client, key, [offer["id"]])
    assert status == 201
    assert booking["total_minor"] == offer["total_minor"]
