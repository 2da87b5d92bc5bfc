"""Kuopio's feed gives no trip a headsign: departures and journeys name the trip's last stop."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS

Client = TestClient[web.Request, web.Application]
TEATTERIKULMA = "kuopion-liikenne:201804"
AT = "2017-01-16T08:00:00+02:00"  # a Monday of the published timetable


async def _ready(client: Client) -> None:
    operators = {op.operator_id for op in KUOPIO_OPERATORS}
    await client.app[timetable_key].wait_for(
        lambda t: set(t.snapshot.stops.operator_ids) >= operators, timeout_s=60
    )


def _last_stop_name(client: Client, trip_id: str) -> str:
    snap = client.app[timetable_key].get().snapshot
    trip = snap.trips.index[trip_id]
    return snap.stops.names[int(snap.trips.stop[snap.trips.time_ptr[trip + 1] - 1])]


async def test_departures_are_headed_for_the_trips_last_stop(
    kuopio_demo: str, client: Client
) -> None:
    await _ready(client)
    resp = await client.get(f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": AT})
    items = (await resp.json())["items"]
    assert items
    for departure in items:
        assert departure["headsign"] == _last_stop_name(client, departure["trip_id"])


async def test_journey_rides_are_headed_for_the_trips_last_stop(
    kuopio_demo: str, client: Client
) -> None:
    await _ready(client)
    params = {"from": TEATTERIKULMA, "to": "kuopion-liikenne:201666", "depart_at": AT}
    items = (await (await client.get("/v1/journeys", params=params)).json())["items"]
    rides = [leg for item in items for leg in item["legs"] if leg["mode"] == "transit"]
    assert rides
    for ride in rides:
        assert ride["headsign"] == _last_stop_name(client, ride["trip_id"])
