"""Synthesised Kuopio TripUpdates change departures and journeys (delays, cancels, transfers)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from google.transit import gtfs_realtime_pb2

from tests.gateway.realtime.support import (
    KL,
    TEATTERIKULMA,
    WHEN,
    Client,
    MakeKey,
    Vehicle,
    cancel_feed,
    delay_feed,
    kuopio_timetable,
    push,
    vehicle_feed,
)

#: Planned from Teatterikulma at WHEN, the best journey changes buses within a few minutes.
TRANSFER_DESTINATION = "kuopion-liikenne:201662"


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await kuopio_timetable(client)
    return client


@pytest.fixture
async def admin(make_key: MakeKey) -> str:
    return await make_key("admin")


async def _departures(client: Client, stop_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/v1/stops/{stop_id}/departures", params={"at": WHEN, "limit": "10"})
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def _journeys(client: Client, to: str) -> list[dict[str, Any]]:
    params = {"from": TEATTERIKULMA, "to": to, "depart_at": WHEN}
    resp = await client.get("/v1/journeys", params=params)
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


def _transit(itinerary: dict[str, Any]) -> list[dict[str, Any]]:
    return [leg for leg in itinerary["legs"] if leg["mode"] == "transit"]


async def test_a_delay_shows_in_departures_with_expected_time(kuopio: Client, admin: str) -> None:
    before = await _departures(kuopio, TEATTERIKULMA)
    assert all(d["realtime"] is False and "delay_s" not in d for d in before)
    first = before[0]
    data = delay_feed(first["trip_id"], TEATTERIKULMA, 300)
    report = await (await push(kuopio, admin, "trip-updates", data)).json()
    assert report["accepted_count"] == 1
    assert report["unknown_trip_count"] == report["unknown_stop_count"] == 0

    after = {d["trip_id"]: d for d in await _departures(kuopio, TEATTERIKULMA)}
    delayed = after[first["trip_id"]]
    assert delayed["scheduled_at"] == first["scheduled_at"]
    assert delayed["delay_s"] == 300
    assert delayed["realtime"] is True
    assert delayed["cancelled"] is False
    scheduled = dt.datetime.fromisoformat(first["scheduled_at"])
    assert dt.datetime.fromisoformat(delayed["expected_at"]) == scheduled + dt.timedelta(minutes=5)
    others = [d for trip, d in after.items() if trip != first["trip_id"]]
    assert all(d["realtime"] is False for d in others)


async def test_a_delay_propagates_to_the_later_stops_of_the_trip(
    kuopio: Client, admin: str
) -> None:
    journeys = await _journeys(kuopio, "kuopion-liikenne:201666")
    leg = _transit(journeys[0])[0]
    data = delay_feed(leg["trip_id"], leg["from_place"]["stop_id"], 240)
    assert (await push(kuopio, admin, "trip-updates", data, leg["operator_id"])).status == 200
    later_stop = leg["to_place"]["stop_id"]
    resp = await kuopio.get(
        f"/v1/stops/{later_stop}/departures", params={"at": leg["departure"], "limit": "20"}
    )
    items = {d["trip_id"]: d for d in (await resp.json())["items"]}
    assert items[leg["trip_id"]]["delay_s"] == 240
    again = await _journeys(kuopio, "kuopion-liikenne:201666")
    rides = [leg2 for it in again for leg2 in _transit(it) if leg2["trip_id"] == leg["trip_id"]]
    for ride in rides:
        assert ride["departure"] >= leg["departure"]


async def test_a_cancelled_trip_is_never_suggested(kuopio: Client, admin: str) -> None:
    journeys = await _journeys(kuopio, "kuopion-liikenne:201666")
    leg = _transit(journeys[0])[0]
    cancelled = leg["trip_id"]
    feed = cancel_feed(cancelled)
    report = await (await push(kuopio, admin, "trip-updates", feed, leg["operator_id"])).json()
    assert report["accepted_count"] == 1

    again = await _journeys(kuopio, "kuopion-liikenne:201666")
    assert again
    assert all(leg["trip_id"] != cancelled for it in again for leg in _transit(it))
    departures = await _departures(kuopio, TEATTERIKULMA)
    for d in departures:
        if d["trip_id"] == cancelled:
            assert d["cancelled"] is True
            assert "expected_at" not in d


async def test_a_transfer_broken_by_a_delay_is_not_suggested(kuopio: Client, admin: str) -> None:
    journeys = await _journeys(kuopio, TRANSFER_DESTINATION)
    pairs = [
        (a, b)
        for it in journeys
        for a, b in itertools.pairwise(_transit(it))
        if dt.datetime.fromisoformat(b["departure"]) - dt.datetime.fromisoformat(a["arrival"])
        <= dt.timedelta(minutes=15)
    ]
    assert pairs, "the test journey should change buses within 15 minutes"
    first, second = pairs[0]
    slack = dt.datetime.fromisoformat(second["departure"]) - dt.datetime.fromisoformat(
        first["arrival"]
    )
    delay_s = int(slack.total_seconds()) + 300
    data = delay_feed(first["trip_id"], first["from_place"]["stop_id"], delay_s)
    resp = await push(kuopio, admin, "trip-updates", data, first["operator_id"])
    assert (await resp.json())["accepted_count"] == 1

    again = await _journeys(kuopio, TRANSFER_DESTINATION)
    assert again
    for it in again:
        for a, b in itertools.pairwise(_transit(it)):
            assert (a["trip_id"], b["trip_id"]) != (first["trip_id"], second["trip_id"])
            assert a["arrival"] <= b["departure"]


async def test_trip_updates_out_round_trip_through_the_bindings(kuopio: Client, admin: str) -> None:
    departure = (await _departures(kuopio, TEATTERIKULMA))[0]
    data = delay_feed(departure["trip_id"], TEATTERIKULMA, 120)
    assert (await push(kuopio, admin, "trip-updates", data)).status == 200
    resp = await kuopio.get("/v1/gtfs-rt/trip-updates.pb")
    assert resp.status == 200
    assert resp.content_type == "application/x-protobuf"
    message = gtfs_realtime_pb2.FeedMessage.FromString(await resp.read())
    assert message.header.gtfs_realtime_version == "2.0"
    assert message.header.incrementality == gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    [entity] = message.entity
    assert entity.trip_update.trip.trip_id == departure["trip_id"]
    update = entity.trip_update.stop_time_update[0]
    assert update.stop_id == TEATTERIKULMA
    assert update.departure.delay == 120
    unchanged = await kuopio.get(
        "/v1/gtfs-rt/trip-updates.pb", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert unchanged.status == 304
    # Vehicle positions arriving leave the merged trip updates as they were.
    bus = vehicle_feed([Vehicle("bus-1", 62.89, 27.68)])
    assert (await push(kuopio, admin, "vehicle-positions", bus)).status == 200
    still = await kuopio.get(
        "/v1/gtfs-rt/trip-updates.pb", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert still.status == 304
    as_json = await (await kuopio.get("/v1/gtfs-rt/trip-updates.pb?format=json")).json()
    assert as_json["entity"][0]["trip_update"]["trip"]["trip_id"] == departure["trip_id"]
    assert KL in departure["trip_id"]
