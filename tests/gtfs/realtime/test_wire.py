"""The compiled wire-format reader reads every message exactly as the bindings do, or refuses it.

The reference is the bindings' own parse, read field by field with `HasField`
(what `gtfs.realtime.trip_updates` did before it had the reader). Inputs: the
real samples, messages built from random wire fields (known fields with their own
or another wire type, unknown fields, extensions, groups, packed values, repeats,
huge varints, empty and non-UTF-8 strings), and random damage to real bytes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtfs.realtime import trip_updates, wire, wire_ids
from gtfs.realtime.read import FeedDecodeError, build_trip_schedules, read_trip_updates, warm_up
from gtfs.tables import GtfsTables
from tests.gtfs.realtime.wire_messages import (
    HEADER,
    key,
    length_delimited,
    trip_updates_message,
    varint,
)

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

Row = tuple[object, ...]


def _raw(text: str | bytes) -> bytes:
    # The bindings give bytes for a proto2 string that is not UTF-8, str otherwise.
    return text if isinstance(text, bytes) else text.encode()


def _event(update: gtfs_realtime_pb2.TripUpdate.StopTimeUpdate, name: str) -> tuple[int, int]:
    if not update.HasField(name):
        return wire.KIND_NONE, 0
    event = getattr(update, name)
    if event.HasField("time"):
        return wire.KIND_TIME, event.time
    if event.HasField("delay"):
        return wire.KIND_DELAY, event.delay
    return wire.KIND_NONE, 0


def bindings_rows(message: gtfs_realtime_pb2.FeedMessage) -> tuple[list[Row], list[Row]]:
    """Every field the reader gives, read from the bindings' parse."""
    entities: list[Row] = []
    updates: list[Row] = []
    for i, entity in enumerate(message.entity):
        trip_update = entity.trip_update
        trip = trip_update.trip
        entities.append(
            (
                entity.HasField("trip_update"),
                entity.is_deleted,
                trip.schedule_relationship,
                _raw(trip.trip_id),
                _raw(trip.start_date),
                _raw(trip.route_id),
                _raw(trip.start_time),
                trip_update.delay,
            )
        )
        for update in trip_update.stop_time_update:
            sequence = update.stop_sequence if update.HasField("stop_sequence") else -1
            arrival, departure = _event(update, "arrival"), _event(update, "departure")
            relationship = update.schedule_relationship
            updates.append((i, sequence, _raw(update.stop_id), relationship, *arrival, *departure))
    return entities, updates


def wire_rows(data: bytes) -> tuple[int, list[Row], list[Row]]:
    """The same fields from the compiled reader."""
    status, entities, updates = wire.scan_trip_updates(data)

    def text(start: int, length: int) -> bytes:
        return data[start : start + length]

    entity_rows: list[Row] = [
        (
            bool(row[wire.E_TRIP_UPDATE]),
            bool(row[wire.E_DELETED]),
            row[wire.E_TRIP_RELATIONSHIP],
            text(row[wire.E_TRIP_ID], row[wire.E_TRIP_ID_LEN]),
            text(row[wire.E_START_DATE], row[wire.E_START_DATE_LEN]),
            text(row[wire.E_ROUTE_ID], row[wire.E_ROUTE_ID_LEN]),
            text(row[wire.E_START_TIME], row[wire.E_START_TIME_LEN]),
            row[wire.E_DELAY],
        )
        for row in entities.tolist()
    ]
    update_rows: list[Row] = [
        (
            row[wire.U_ENTITY],
            row[wire.U_SEQUENCE],
            text(row[wire.U_STOP_ID], row[wire.U_STOP_ID_LEN]),
            row[wire.U_RELATIONSHIP],
            row[wire.U_ARRIVAL_KIND],
            row[wire.U_ARRIVAL],
            row[wire.U_DEPARTURE_KIND],
            row[wire.U_DEPARTURE],
        )
        for row in updates.tolist()
    ]
    return status, entity_rows, update_rows


def assert_read_as_the_bindings_read(data: bytes) -> bool:
    """Compare both readings where the bindings accept the bytes; return whether they did."""
    status, entities, updates = wire_rows(data)  # any bytes: it must return, never crash
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return False
    assert status == wire.OK
    expected_entities, expected_updates = bindings_rows(message)
    assert entities == expected_entities
    assert updates == expected_updates
    return True


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["septa-trip-updates.pb", "king-county-vehicle-positions.pb"])
def test_real_feeds_read_as_the_bindings_read_them(sample: str) -> None:
    assert assert_read_as_the_bindings_read((DATA / "gtfs-rt" / sample).read_bytes())


def test_every_field_the_overlay_uses_is_read() -> None:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    entity = message.entity.add(id="e")
    trip = entity.trip_update.trip
    trip.trip_id, trip.start_date, trip.route_id, trip.start_time = "t", "20240610", "r", "10:00"
    trip.schedule_relationship = trip.CANCELED
    entity.trip_update.delay = -61
    update = entity.trip_update.stop_time_update.add(stop_sequence=4, stop_id="")
    update.arrival.delay, update.departure.time = -5, 2**40
    update.schedule_relationship = update.NO_DATA
    message.entity.add(id="gone", is_deleted=True)
    data = message.SerializeToString()
    assert assert_read_as_the_bindings_read(data)
    _, entities, updates = wire_rows(data)
    assert entities[0] == (True, False, 3, b"t", b"20240610", b"r", b"10:00", -61)
    assert entities[1][:2] == (False, True)
    assert updates == [(0, 4, b"", 2, wire.KIND_DELAY, -5, wire.KIND_TIME, 2**40)]


@pytest.mark.parametrize(
    "body",
    [
        # a field given twice keeps its last value; a message given twice merges
        length_delimited(1, length_delimited(1, b"a") + length_delimited(1, b"b"))
        + length_delimited(2, length_delimited(2, key(1, 0) + varint(30)))
        + length_delimited(2, length_delimited(2, key(2, 0) + varint(99) + key(1, 0) + varint(5)))
        + length_delimited(1, key(4, 0) + varint(3) + key(4, 0) + varint(4)),
        # trip_id as a varint, stop_sequence as a string, relationship packed: unknown fields
        length_delimited(1, key(1, 0) + varint(7) + key(4, 2) + b"\x01\x03")
        + length_delimited(2, length_delimited(1, b"12")),
        # int32 and uint32 keep the low 32 bits; enums beyond the proto are ignored
        key(5, 0)
        + varint(2**32 + 2**31 + 7)
        + length_delimited(2, key(1, 0) + varint(2**40 + 9) + key(5, 0) + varint(2**32 + 1))
        + length_delimited(2, key(5, 0) + varint(-1) + key(5, 0) + varint(9))
        + length_delimited(1, key(4, 0) + varint(4)),
        # extensions and groups between the fields, and a zero-length everything
        key(1500, 3)
        + key(3, 3)
        + key(1, 0)
        + varint(1)
        + key(3, 4)
        + key(1500, 4)
        + length_delimited(9001, b"\xff\xff")
        + length_delimited(1, b"")
        + length_delimited(2, b"")
        + length_delimited(2, length_delimited(2, b"") + length_delimited(4, b"")),
    ],
    ids=["repeats-merge", "wrong-wire-types", "truncating-numbers", "unknown-and-empty"],
)
def test_edge_cases_of_the_wire_format_read_as_the_bindings_read_them(body: bytes) -> None:
    entity = length_delimited(1, b"e") + length_delimited(3, body)
    assert assert_read_as_the_bindings_read(HEADER + length_delimited(2, entity))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=trip_updates_message())
def test_random_messages_read_as_the_bindings_read_them(data: bytes) -> None:
    assert_read_as_the_bindings_read(data)


@settings(max_examples=300, deadline=None)
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, 2**20), st.sampled_from(["cut", "flip", "insert", "delete"])),
        min_size=1,
        max_size=3,
    ),
    byte=st.integers(0, 255),
)
def test_damaged_real_bytes_read_as_the_bindings_read_them_or_are_refused(
    cuts: list[tuple[int, str]], byte: int
) -> None:
    data = bytearray((DATA / "gtfs-rt" / "septa-trip-updates.pb").read_bytes())
    for at, how in cuts:
        at %= len(data) + 1
        if how == "cut":
            data = data[:at]
        elif how == "insert":
            data[at:at] = bytes([byte])
        elif at < len(data) and how == "flip":
            data[at] ^= byte or 1
        elif at < len(data):
            del data[at]
    assert_read_as_the_bindings_read(bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        key(9, 3) * 200_000,  # groups opened and never closed, nested 200,000 deep
        (key(9, 3) * 100_000 + key(9, 4) * 100_000),  # closed, too deep for the bindings
        b"\x12" + b"\xff" * 200,  # a length of 200 varint bytes
        b"\x12\xff\xff\xff\xff\x0f",  # an entity of 4 GiB in 6 bytes
        b"\xff" * 11,  # a tag longer than any varint
        b"\x08" + b"\x80" * 9 + b"\x01",  # the longest varint
        b"\x00\x00",  # field number 0
        key(9, 4),  # a group closed before it opened
        key(9, 6) + key(9, 7),  # wire types that do not exist
    ],
    ids=[
        "open-groups",
        "deep-groups",
        "long-length",
        "huge-length",
        "long-tag",
        "long-varint",
        "field-zero",
        "stray-end",
        "bad-wire-types",
    ],
)
def test_hostile_bytes_end_in_rows_or_a_refusal(data: bytes) -> None:
    status, _, _ = wire.scan_trip_updates(data)
    assert status in (wire.OK, wire.MALFORMED)
    assert_read_as_the_bindings_read(data)
    with contextlib.suppress(FeedDecodeError):  # a clear refusal, or a feed: nothing else
        read_trip_updates(HEADER + data, "x", build_trip_schedules(GtfsTables.empty()), now_s=0)


def test_truncated_feed_is_the_bindings_decode_error() -> None:
    data = (DATA / "gtfs-rt" / "septa-trip-updates.pb").read_bytes()
    schedules = build_trip_schedules(GtfsTables.empty())
    with pytest.raises(FeedDecodeError, match="are not a GTFS-Realtime FeedMessage: Error parsing"):
        read_trip_updates(data[:-7], "septa", schedules, now_s=0)


def test_a_trip_id_that_is_not_utf8_is_a_feed_error() -> None:
    # The bindings hand such a string over as bytes; before, it ended in a TypeError (a 500).
    trip = length_delimited(1, length_delimited(1, b"\xff\xfe"))
    data = HEADER + length_delimited(2, length_delimited(1, b"e") + length_delimited(3, trip))
    with pytest.raises(FeedDecodeError, match=r"trip_id at byte \d+ is not UTF-8"):
        read_trip_updates(data, "x", build_trip_schedules(GtfsTables.empty()), now_s=0)


def test_event_kinds_are_the_readers() -> None:
    kinds = (trip_updates._NONE, trip_updates._DELAY, trip_updates._TIME)
    assert kinds == (wire.KIND_NONE, wire.KIND_DELAY, wire.KIND_TIME)
    assert np.array_equal(trip_updates._APPLIED_CODES, sorted(int(v) for v in (0, 3, 5, 7)))


def test_warm_up_compiles_the_readers() -> None:
    warm_up()
    assert wire._feed_message.signatures  # type: ignore[attr-defined]
    assert wire_ids._namespace.signatures  # type: ignore[attr-defined]
