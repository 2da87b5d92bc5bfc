"""TripUpdates kept for the merged feed: one namespaced FeedEntity (protobuf bytes) per trip.

Trip updates are stored as the operator sent them, ids rewritten into the
operator's namespace, rather than as dataclasses: a feed of 60,000 stop-time
updates is rewritten and serialised in a few tens of milliseconds, where
building and JSON-encoding that many objects would take several hundred.
"""

from __future__ import annotations

from collections.abc import Collection

from google.transit import gtfs_realtime_pb2


def _namespace_trip_update(entity: gtfs_realtime_pb2.FeedEntity, prefix: str) -> None:
    """Rewrite the ids of one TripUpdate entity in place (trip, route, vehicle, stops)."""
    entity.id = prefix + entity.id
    trip_update = entity.trip_update
    trip = trip_update.trip
    if trip.trip_id:
        trip.trip_id = prefix + trip.trip_id
    if trip.route_id:
        trip.route_id = prefix + trip.route_id
    if trip_update.HasField("vehicle") and trip_update.vehicle.id:
        trip_update.vehicle.id = prefix + trip_update.vehicle.id
    for update in trip_update.stop_time_update:
        if update.stop_id:
            update.stop_id = prefix + update.stop_id


def trip_update_entities_from_feed(
    message: gtfs_realtime_pb2.FeedMessage, operator_id: str, known_trip_ids: Collection[str]
) -> dict[str, bytes]:
    """Return each known trip's update as namespaced FeedEntity bytes, keyed by trip id.

    Rewrites the ids of `message` in place: call it after the overlay has been built.
    """
    prefix = operator_id + ":"
    entities: dict[str, bytes] = {}
    for entity in message.entity:
        if entity.is_deleted or not entity.HasField("trip_update"):
            continue
        trip_id = prefix + entity.trip_update.trip.trip_id
        if trip_id not in known_trip_ids:
            continue
        _namespace_trip_update(entity, prefix)
        entities[trip_id] = entity.SerializeToString()
    return entities
