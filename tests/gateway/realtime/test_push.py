"""Pushing GTFS-Realtime: real samples, garbage, stale feeds, who may push, live vehicles, SSE."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from google.transit import gtfs_realtime_pb2

from gateway.appkeys import realtime_key
from tests.conftest import bearer
from tests.gateway.realtime.support import (
    KL,
    Client,
    MakeKey,
    Vehicle,
    eventually,
    kuopio_timetable,
    new_feed,
    push,
    vehicle_feed,
)
from tests.gtfs.realtime.wire_messages import HEADER, key, length_delimited, varint

KUOPIO_CENTRE = (62.8925, 27.6780)


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await kuopio_timetable(client)
    return client


@pytest.fixture
async def admin(make_key: MakeKey) -> str:
    return await make_key("admin")


def _sample(shared_data: Path, name: str) -> bytes:
    return (shared_data / "gtfs-rt" / name).read_bytes()


async def test_king_county_positions_are_kept_with_unknown_trips_counted(
    kuopio: Client, admin: str, shared_data: Path
) -> None:
    data = _sample(shared_data, "king-county-vehicle-positions.pb")
    sample = gtfs_realtime_pb2.FeedMessage.FromString(data)
    resp = await push(kuopio, admin, "vehicle-positions", data)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report["feed_kind"] == "vehicle-positions"
    assert report["entity_count"] == len(sample.entity)
    assert 0 < report["accepted_count"] <= report["entity_count"]
    assert report["unknown_trip_count"] > 0  # Seattle trips are not Kuopio trips
    assert all(s.startswith(f"{KL}:") for s in report["unknown_trip_samples"])
    assert report["stale"] is True  # recorded long ago

    body = await (await kuopio.get("/v1/vehicles", params={"operator": KL})).json()
    assert body["total"] == report["accepted_count"]
    first = sample.entity[0].vehicle
    ids = {v["vehicle_id"] for v in body["items"]}
    assert f"{KL}:{first.vehicle.id}" in ids

    resp = await kuopio.get("/v1/gtfs-rt/vehicle-positions.pb")
    merged = gtfs_realtime_pb2.FeedMessage.FromString(await resp.read())
    assert len(merged.entity) == report["accepted_count"]
    out = {e.vehicle.vehicle.id: e.vehicle for e in merged.entity}
    echoed = out[f"{KL}:{first.vehicle.id}"]
    assert echoed.position.latitude == pytest.approx(first.position.latitude)
    assert echoed.position.longitude == pytest.approx(first.position.longitude)
    assert echoed.trip.trip_id == f"{KL}:{first.trip.trip_id}"


async def test_septa_trip_updates_match_no_kuopio_trip(
    kuopio: Client, admin: str, shared_data: Path
) -> None:
    data = _sample(shared_data, "septa-trip-updates.pb")
    sample = gtfs_realtime_pb2.FeedMessage.FromString(data)
    resp = await push(kuopio, admin, "trip-updates", data)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    trips = sum(1 for e in sample.entity if e.HasField("trip_update") and not e.is_deleted)
    assert report["accepted_count"] == 0
    assert report["unknown_trip_count"] == trips > 0
    status = await (await kuopio.get(f"/v1/operators/{KL}/realtime", headers=bearer(admin))).json()
    assert status["feeds"]["trip-updates"]["unknown_trip_count"] == trips


@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "feed_undecodable"),
        (b"", "feed_undecodable"),
        (b"\x0a\x05\x0a\x033.0", "feed_version_unsupported"),
    ],
)
async def test_garbage_is_a_clear_problem_and_the_previous_positions_stay(
    kuopio: Client, admin: str, garbage: bytes, code: str
) -> None:
    good = vehicle_feed([Vehicle("bus-1", *KUOPIO_CENTRE)])
    assert (await push(kuopio, admin, "vehicle-positions", good)).status == 200
    resp = await push(kuopio, admin, "vehicle-positions", garbage)
    assert resp.status == 422
    problem = await resp.json()
    assert problem["code"] == code
    assert "previous feed stays" in problem["detail"]
    body = await (await kuopio.get("/v1/vehicles")).json()
    assert [v["vehicle_id"] for v in body["items"]] == [f"{KL}:bus-1"]


async def test_alerts_are_kept_and_served_in_the_merged_feed(kuopio: Client, admin: str) -> None:
    message = new_feed()
    entity = message.entity.add()
    entity.id = "works"
    alert = entity.alert
    alert.informed_entity.add().stop_id = "201804"
    alert.informed_entity.add().stop_id = "no-such-stop"
    alert.effect = gtfs_realtime_pb2.Alert.DETOUR
    text = alert.header_text.translation.add()
    text.text, text.language = "Teatterikulma closed", "en"
    resp = await push(kuopio, admin, "alerts", message.SerializeToString())
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report["accepted_count"] == 1
    assert report["unknown_stop_samples"] == [f"{KL}:no-such-stop"]
    doc = await (await kuopio.get("/v1/gtfs-rt/alerts.pb", params={"format": "json"})).json()
    [out] = doc["entity"]
    assert out["alert"]["header_text"]["translation"][0]["text"] == "Teatterikulma closed"
    assert out["alert"]["informed_entity"][0]["stop_id"] == f"{KL}:201804"


async def test_fresh_feed_is_not_stale_and_old_one_is(kuopio: Client, admin: str) -> None:
    fresh = vehicle_feed([Vehicle("bus-1", *KUOPIO_CENTRE)])
    report = await (await push(kuopio, admin, "vehicle-positions", fresh)).json()
    assert report["stale"] is False
    assert report["age_s"] <= 60
    old = vehicle_feed([Vehicle("bus-1", *KUOPIO_CENTRE)], timestamp_s=int(time.time()) - 3600)
    report = await (await push(kuopio, admin, "vehicle-positions", old)).json()
    assert report["stale"] is True
    assert report["age_s"] >= 3600


async def test_operator_pushes_only_its_own_feeds(kuopio: Client, make_key: MakeKey) -> None:
    key = await make_key("operator", operator_id=KL)
    data = vehicle_feed([Vehicle("bus-1", *KUOPIO_CENTRE)])
    assert (await push(kuopio, key, "vehicle-positions", data)).status == 200
    assert (await push(kuopio, key, "vehicle-positions", data, "linja-karjala")).status == 403
    maas = await make_key("maas", tenant_id="app-1")
    assert (await push(kuopio, maas, "vehicle-positions", data)).status == 403
    admin = await make_key("admin")
    assert (await push(kuopio, admin, "vehicle-positions", data, "no-such-operator")).status == 404
    resp = await kuopio.post(f"/v1/operators/{KL}/realtime/vehicle-positions", data=data)
    assert resp.status == 401


async def test_vehicles_filter_by_box_circle_route_and_operator(kuopio: Client, admin: str) -> None:
    data = vehicle_feed(
        [
            Vehicle("centre", *KUOPIO_CENTRE, route_id="2"),
            Vehicle("north", 62.95, 27.70, route_id="5"),
        ]
    )
    assert (await push(kuopio, admin, "vehicle-positions", data)).status == 200
    far = vehicle_feed([Vehicle("far", 62.60, 29.76)])
    assert (await push(kuopio, admin, "vehicle-positions", far, "linja-karjala")).status == 200

    async def ids(**params: str) -> set[str]:
        resp = await kuopio.get("/v1/vehicles", params=params)
        assert resp.status == 200, await resp.text()
        return {v["vehicle_id"].split(":", 1)[1] for v in (await resp.json())["items"]}

    assert await ids() == {"centre", "north", "far"}
    assert await ids(bbox="62.85,27.60,62.90,27.75") == {"centre"}
    assert await ids(near="62.8925,27.6780", radius_m="1000") == {"centre"}
    assert await ids(route=f"{KL}:5") == {"north"}
    assert await ids(operator="linja-karjala") == {"far"}
    bad = await kuopio.get("/v1/vehicles", params={"bbox": "1,2", "near": "1,2"})
    assert bad.status == 422


async def test_stream_delivers_a_pushed_position_and_stops_when_the_client_leaves(
    kuopio: Client, admin: str
) -> None:
    state = kuopio.app[realtime_key].state
    resp = await kuopio.get("/v1/vehicles/stream", params={"operator": KL, "max_s": "30"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert await resp.content.readline() == b"event: vehicles\n"
    assert orjson.loads((await resp.content.readline()).removeprefix(b"data: ")) == []
    await resp.content.readline()
    assert state.listener_count == 1
    data = vehicle_feed([Vehicle("bus-7", *KUOPIO_CENTRE)])
    assert (await push(kuopio, admin, "vehicle-positions", data)).status == 200
    async with asyncio.timeout(10):
        assert await resp.content.readline() == b"event: vehicles\n"
        line = await resp.content.readline()
    items = orjson.loads(line.removeprefix(b"data: "))
    assert [v["vehicle_id"] for v in items] == [f"{KL}:bus-7"]
    resp.close()

    async def gone() -> bool:
        return state.listener_count == 0

    await eventually(gone, timeout_s=10)


async def test_a_bounded_stream_ends_by_itself(kuopio: Client) -> None:
    resp = await kuopio.get("/v1/vehicles/stream", params={"max_s": "0.3"})
    async with asyncio.timeout(10):
        text = (await resp.read()).decode()
    assert text.startswith("event: vehicles\ndata: []\n\n")
    assert "event: end" in text


@pytest.mark.parametrize("kind", ["vehicle-positions", "trip-updates", "alerts"])
async def test_a_header_timestamp_past_the_calendar_is_refused_and_not_applied(
    kuopio: Client, admin: str, kind: str
) -> None:
    good = vehicle_feed([Vehicle("bus-1", *KUOPIO_CENTRE)])
    assert (await push(kuopio, admin, "vehicle-positions", good)).status == 200
    hostile = vehicle_feed([Vehicle("bus-2", *KUOPIO_CENTRE)], timestamp_s=2**64 - 1)
    resp = await push(kuopio, admin, kind, hostile)
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert problem["code"] == "feed_undecodable"
    assert "header.timestamp 18446744073709551615" in problem["detail"]
    status = await kuopio.get(f"/v1/operators/{KL}/realtime", headers=bearer(admin))
    assert status.status == 200, await status.text()
    assert (await status.json())["feeds"]["vehicle-positions"]["entity_count"] == 1
    body = await (await kuopio.get("/v1/vehicles")).json()
    assert [v["vehicle_id"] for v in body["items"]] == [f"{KL}:bus-1"]


@pytest.mark.parametrize("where", ["trip_id", "stop_id"])
async def test_trip_updates_with_an_id_that_is_not_utf8_are_a_clear_problem(
    kuopio: Client, admin: str, where: str
) -> None:
    # The bindings hand such a proto2 string over as bytes: it ended in a TypeError, a 500.
    schedules = (await kuopio_timetable(kuopio)).schedules
    known = next(t for t in schedules.trip_ids if t.startswith(f"{KL}:"))
    known_trip = known.removeprefix(f"{KL}:").encode()
    trip_id = b"\xfe" if where == "trip_id" else known_trip
    stop_id = b"\xff" if where == "stop_id" else b"201588"
    update = key(1, 0) + varint(3) + length_delimited(4, stop_id)  # with a stop_sequence
    trip_update = length_delimited(1, length_delimited(1, trip_id)) + length_delimited(2, update)
    entity = length_delimited(1, b"e") + length_delimited(3, trip_update)
    resp = await push(kuopio, admin, "trip-updates", HEADER + length_delimited(2, entity))
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert problem["code"] == "feed_undecodable"
    assert "not UTF-8" in problem["detail"]
