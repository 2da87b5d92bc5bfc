"""Trip-update entities namespaced on the bytes are the messages the bindings' rewrite makes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError, EncodeError
from google.transit import gtfs_realtime_pb2
from hypothesis import HealthCheck, given, settings

from gtfs.realtime.feed import FeedDecodeError
from gtfs.realtime.records import trip_update_entities_from_feed
from gtfs.realtime.trip_updates import scan_feed
from tests.gtfs.realtime.wire_messages import (
    HEADER,
    key,
    length_delimited,
    trip_updates_message,
    varint,
)

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


def bindings_entities(
    message: gtfs_realtime_pb2.FeedMessage, prefix: str, known: set[str]
) -> dict[str, bytes]:
    """The rewrite as it was done through the bindings (raises TypeError on a non-UTF-8 id)."""
    entities: dict[str, bytes] = {}
    for entity in message.entity:
        if entity.is_deleted or not entity.HasField("trip_update"):
            continue
        trip_update = entity.trip_update
        trip_id = prefix + trip_update.trip.trip_id
        if trip_id not in known:
            continue
        entity.id = prefix + entity.id
        for name in ("trip_id", "route_id"):
            if getattr(trip_update.trip, name):
                setattr(trip_update.trip, name, prefix + getattr(trip_update.trip, name))
        if trip_update.HasField("vehicle") and trip_update.vehicle.id:
            trip_update.vehicle.id = prefix + trip_update.vehicle.id
        for update in trip_update.stop_time_update:
            if update.stop_id:
                update.stop_id = prefix + update.stop_id
        entities[trip_id] = entity.SerializeToString()
    return entities


def assert_namespaced_as_the_bindings_do(data: bytes, operator_id: str = "op") -> None:
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return
    prefix = operator_id + ":"
    trip_ids = [e.trip_update.trip.trip_id for e in message.entity]
    known = {prefix + trip_id for trip_id in trip_ids if isinstance(trip_id, str) and trip_id}
    try:
        expected = bindings_entities(message, prefix, known)
    except EncodeError:  # a required field missing deeper down: the bindings failed (a 500)
        with contextlib.suppress(FeedDecodeError):
            trip_update_entities_from_feed(data, scan_feed(data).entities, operator_id, known)
        return
    except TypeError:  # an id the bindings give as bytes: not UTF-8
        with pytest.raises(FeedDecodeError, match="not UTF-8"):
            trip_update_entities_from_feed(data, scan_feed(data).entities, operator_id, known)
        return
    try:
        got = trip_update_entities_from_feed(data, scan_feed(data).entities, operator_id, known)
    except FeedDecodeError:
        # Stricter in one corner only: an id given twice whose first value is not UTF-8.
        with pytest.raises(UnicodeDecodeError):
            data.decode()
        return
    assert list(got) == list(expected)
    for trip_id, entity in got.items():
        parsed = gtfs_realtime_pb2.FeedEntity.FromString(entity)
        assert parsed == gtfs_realtime_pb2.FeedEntity.FromString(expected[trip_id])
        assert (
            parsed.SerializeToString()
            == gtfs_realtime_pb2.FeedEntity.FromString(expected[trip_id]).SerializeToString()
        )


def test_septa_entities_are_the_bindings_rewrite_byte_for_byte() -> None:
    data = (DATA / "gtfs-rt" / "septa-trip-updates.pb").read_bytes()
    assert_namespaced_as_the_bindings_do(data, "septa")
    message = gtfs_realtime_pb2.FeedMessage.FromString(data)
    known = {f"septa:{e.trip_update.trip.trip_id}" for e in message.entity}
    got = trip_update_entities_from_feed(data, scan_feed(data).entities, "septa", known)
    assert got == bindings_entities(message, "septa:", known)
    assert len(got) == 35


@pytest.mark.parametrize(
    "entity",
    [
        length_delimited(3, length_delimited(1, length_delimited(1, b"t"))),  # no entity id
        length_delimited(1, b"")
        + length_delimited(1, b"e")
        + length_delimited(3, length_delimited(1, length_delimited(1, b"t")))
        + length_delimited(
            3,
            length_delimited(1, length_delimited(5, b"r") + length_delimited(5, b""))
            + length_delimited(3, length_delimited(1, b"v" * 200))  # a length that grows a byte
            + length_delimited(2, length_delimited(4, b"s") + key(4, 0) + varint(3))
            + key(1001, 0)
            + varint(5),
        ),
    ],
    ids=["no-entity-id", "repeats-and-unknown-fields"],
)
def test_edge_cases_are_namespaced_as_the_bindings_do(entity: bytes) -> None:
    assert_namespaced_as_the_bindings_do(HEADER + length_delimited(2, entity))


def test_a_stop_id_that_is_not_utf8_is_a_feed_error() -> None:
    trip_update = length_delimited(1, length_delimited(1, b"t")) + length_delimited(
        2, key(1, 0) + varint(1) + length_delimited(4, b"\xff")
    )
    entity = length_delimited(1, b"e") + length_delimited(3, trip_update)
    data = HEADER + length_delimited(2, entity)
    with pytest.raises(FeedDecodeError, match="not UTF-8"):
        trip_update_entities_from_feed(data, scan_feed(data).entities, "op", {"op:t"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=trip_updates_message())
def test_random_messages_are_namespaced_as_the_bindings_do(data: bytes) -> None:
    assert_namespaced_as_the_bindings_do(data)
