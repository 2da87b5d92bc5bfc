"""/map over the live demo (its departures are ahead): it opens on where the demo runs, and a
journey on it, in headless Chromium, names its stops and operators and, with a maas key given
as `#key=`, shows its price."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.demo.run import import_demo, live_feed, next_weekday_morning
from gateway.settings import Settings
from tests.conftest import ClientFactory
from tests.gateway.browser import dump_dom, find_chromium, screenshot
from tests.gateway.test_pages import map_config
from tests.servers import fresh_database

Client = TestClient[web.Request, web.Application]
TODAY = dt.datetime.now(ZoneInfo("Europe/Helsinki")).date()
TEATTERIKULMA, NEULAMÄKI = "kuopion-liikenne:201804", "kuopion-liikenne:201666"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: the live demo is not the published timetable."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
async def live(
    aiohttp_client: ClientFactory, settings: Settings, database_url: str, kuopio_zip: Path
) -> Client:
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=2, init=init_connection
    ) as pool:
        await import_demo(pool, live_feed(kuopio_zip, settings.data_dir, TODAY))
    client: Client = await aiohttp_client(create_app(settings))
    operators = {op.operator_id for op in KUOPIO_OPERATORS}
    await client.app[timetable_key].wait_for(
        lambda t: set(t.snapshot.stops.operator_ids) >= operators, timeout_s=60
    )
    return client


def _address(client: Client, key: str) -> str:
    """The map's address of a journey between two stops tomorrow morning, with a key."""
    stops = client.app[timetable_key].get().snapshot.stops
    point = [
        f"{stops.lat[i]:.5f},{stops.lon[i]:.5f}"
        for i in map(stops.index.get, (TEATTERIKULMA, NEULAMÄKI))
    ]
    at = next_weekday_morning(TODAY).strftime("%Y-%m-%dT%H:%M")
    return str(client.make_url("/map")) + f"#from={point[0]}&to={point[1]}&at={at}&key={key}"


async def test_a_journey_shows_its_stops_operators_and_price(
    live: Client, make_key: Callable[..., Awaitable[str]], tmp_path: Path
) -> None:
    chromium = find_chromium()
    url = _address(live, await make_key("maas"))
    dom = html.unescape(await dump_dom(chromium, url, budget_ms=30_000))
    journeys = re.search(r'<div id="journeys">(.*?)</div>', dom, re.S)
    assert journeys, dom[-3000:]
    first = re.search(r"<li[^>]*>(.*?)</ul></li>", journeys[1], re.S)
    assert first, journeys[1][:2000]
    names = set(live.app[timetable_key].get().snapshot.stops.names)
    rides = re.findall(
        r"<li><b>.+?</b> towards (.+?) \(([^)]+)\): \S+ (.+?) → \S+ (.+?)</li>", first[1]
    )
    assert rides, first[1]
    for headsign, operator_id, boarding, alighting in rides:
        assert {headsign, boarding, alighting} <= names
        assert operator_id in {op.operator_id for op in KUOPIO_OPERATORS}
    assert re.search(r'class="price">\d+\.\d\d EUR<', first[1]), first[1]
    await screenshot(chromium, url, tmp_path / "journey.png", budget_ms=30_000)


async def test_the_map_opens_on_where_the_network_runs_this_week(live: Client) -> None:
    config = map_config(await (await live.get("/map")).text())
    (south, west), (north, east) = config["bounds"]
    assert 62.5 < south < north < 63.5  # Kuopio
    assert 27 < west < east < 28.5
