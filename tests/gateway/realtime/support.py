"""Helpers of the realtime tests: GTFS-RT feeds built with the official bindings, Kuopio waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from google.transit import gtfs_realtime_pb2

from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.timetable import Timetable
from gtfs.tables import original_id
from tests.conftest import bearer

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]
KL = "kuopion-liikenne"
TEATTERIKULMA = "kuopion-liikenne:201804"
SERVICE_DATE = "20161115"
WHEN = "2016-11-15T07:30:00+02:00"  # a Tuesday of the winter 2016-17 timetable
PROTOBUF = {"Content-Type": "application/x-protobuf"}


async def kuopio_timetable(client: Client) -> Timetable:
    """Wait until the client's gateway holds the five Kuopio operators' timetable."""
    return await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=60,
    )


def new_feed(timestamp_s: int | None = None) -> gtfs_realtime_pb2.FeedMessage:
    """Return an empty FULL_DATASET FeedMessage stamped now (or at `timestamp_s`)."""
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(time.time()) if timestamp_s is None else timestamp_s
    return message


@dataclass(frozen=True)
class Vehicle:
    """One vehicle to put in a synthesised VehiclePositions feed (original ids)."""

    vehicle_id: str
    lat: float
    lon: float
    route_id: str | None = None
    trip_id: str | None = None


def vehicle_feed(vehicles: list[Vehicle], timestamp_s: int | None = None) -> bytes:
    """Return VehiclePositions bytes for the vehicles."""
    message = new_feed(timestamp_s)
    for v in vehicles:
        entity = message.entity.add()
        entity.id = f"v-{v.vehicle_id}"
        position = entity.vehicle
        position.vehicle.id = v.vehicle_id
        position.position.latitude = v.lat
        position.position.longitude = v.lon
        position.timestamp = message.header.timestamp
        if v.trip_id:
            position.trip.trip_id = v.trip_id
        if v.route_id:
            position.trip.route_id = v.route_id
    return message.SerializeToString()


def delay_feed(trip_id: str, stop_id: str, delay_s: int) -> bytes:
    """Return TripUpdates bytes delaying a trip by `delay_s` from one of its stops onwards."""
    message = new_feed()
    entity = message.entity.add()
    entity.id = f"tu-{original_id(trip_id)}"
    update = entity.trip_update
    update.trip.trip_id = original_id(trip_id)
    update.trip.start_date = SERVICE_DATE
    stop_update = update.stop_time_update.add()
    stop_update.stop_id = original_id(stop_id)
    stop_update.arrival.delay = delay_s
    stop_update.departure.delay = delay_s
    return message.SerializeToString()


def cancel_feed(trip_id: str) -> bytes:
    """Return TripUpdates bytes cancelling a trip on the test service date."""
    message = new_feed()
    entity = message.entity.add()
    entity.id = f"cancel-{original_id(trip_id)}"
    trip = entity.trip_update.trip
    trip.trip_id = original_id(trip_id)
    trip.start_date = SERVICE_DATE
    trip.schedule_relationship = gtfs_realtime_pb2.TripDescriptor.CANCELED
    return message.SerializeToString()


async def push(client: Client, key: str, kind: str, data: bytes, operator_id: str = KL) -> Any:
    """Push a feed; return the response (the caller checks its status)."""
    return await client.post(
        f"/v1/operators/{operator_id}/realtime/{kind}",
        data=data,
        headers={**bearer(key), **PROTOBUF},
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    """Await `check()` until it is true (TimeoutError after timeout_s)."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the state lives behind HTTP, no event to await
            await asyncio.sleep(0.05)
