"""Real bodies for the upload operations: a GTFS zip from `../shared/data` and GTFS-RT feeds."""

from __future__ import annotations

import time
from pathlib import Path

from google.transit import gtfs_realtime_pb2

#: A small real feed with Fares v2 files (see `../shared/data/README.md`): published as the
#: operator's feed and as its fares, so the fares always name stops of the feed in place.
GTFS_ZIPS = ("transcollines-fares-v2.zip",)
FARES_ZIPS = ("transcollines-fares-v2.zip",)
REALTIME_FILES = ("king-county-vehicle-positions.pb", "septa-trip-updates.pb")


def vehicle_positions(trip_id: str = "1", vehicle_id: str = "bus-1") -> bytes:
    """Return a GTFS-Realtime VehiclePositions feed of one vehicle, stamped now."""
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    message.header.timestamp = int(time.time())
    entity = message.entity.add()
    entity.id = vehicle_id
    entity.vehicle.trip.trip_id = trip_id
    entity.vehicle.vehicle.id = vehicle_id
    entity.vehicle.position.latitude = 62.8924
    entity.vehicle.position.longitude = 27.6770
    entity.vehicle.timestamp = int(time.time())
    return bytes(message.SerializeToString())


def trip_updates(trip_id: str = "1", delay_s: int = 120) -> bytes:
    """Return a GTFS-Realtime TripUpdates feed delaying one trip, stamped now."""
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(time.time())
    entity = message.entity.add()
    entity.id = f"delay-{trip_id}"
    entity.trip_update.trip.trip_id = trip_id
    update = entity.trip_update.stop_time_update.add()
    update.stop_sequence = 1
    update.arrival.delay = delay_s
    return bytes(message.SerializeToString())


def upload_bodies(data: Path) -> dict[str, list[bytes]]:
    """Return the real bodies of each upload media type, by the operation's id prefix."""
    gtfs = [(data / "gtfs" / name).read_bytes() for name in GTFS_ZIPS]
    fares = [(data / "gtfs" / name).read_bytes() for name in FARES_ZIPS]
    realtime = [(data / "gtfs-rt" / name).read_bytes() for name in REALTIME_FILES]
    return {
        "feed": gtfs,
        "fares": fares,
        "realtime": [vehicle_positions(), trip_updates(), *realtime],
    }
