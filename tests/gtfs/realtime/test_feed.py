"""GTFS-Realtime decoding, staleness, vehicle positions, alerts and the merged feed out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2

from gtfs.realtime.read import (
    DEFAULT_MAX_AGE_S,
    Alert,
    FeedDecodeError,
    FeedVersionError,
    RealtimeFeedError,
    VehiclePosition,
    VehiclePositionsFeed,
    alert_from_json,
    alert_to_json,
    feed_message_json,
    merged_feed_message,
    read_alerts,
    read_vehicle_positions,
    vehicle_position_from_json,
    vehicle_position_to_json,
)

RT_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "gtfs-rt"
KING_COUNTY_TIMESTAMP_S = 1630596716
NO_IDS: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def king_county_bytes() -> bytes:
    return (RT_DATA / "king-county-vehicle-positions.pb").read_bytes()


def _read_kcm(
    data: bytes, now_s: int = KING_COUNTY_TIMESTAMP_S, max_age_s: int = DEFAULT_MAX_AGE_S
) -> VehiclePositionsFeed:
    return read_vehicle_positions(
        data, "kcm", known_trip_ids=NO_IDS, known_stop_ids=NO_IDS, now_s=now_s, max_age_s=max_age_s
    )


def _alert_feed(timestamp_s: int = 1_700_000_000) -> bytes:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = timestamp_s
    entity = message.entity.add()
    entity.id = "a1"
    alert = entity.alert
    alert.active_period.add(start=1_700_000_000, end=1_700_003_600)
    alert.informed_entity.add(route_id="20")
    alert.informed_entity.add(stop_id="201481")
    alert.informed_entity.add().trip.trip_id = "ghost"
    alert.cause = gtfs_realtime_pb2.Alert.CONSTRUCTION
    alert.effect = gtfs_realtime_pb2.Alert.DETOUR
    alert.header_text.translation.add(text="Kiertotie", language="fi")
    alert.header_text.translation.add(text="Detour", language="en")
    alert.description_text.translation.add(text="Linja 20 kulkee Puijonkadun kautta")
    return message.SerializeToString()


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        bytes(range(256)),
        b"\x0a\x00",  # a header without gtfs_realtime_version
        b"\x12\x03\x0a\x01x",  # an entity but no header
    ],
)
def test_garbage_bytes_raise_a_decode_error(data: bytes) -> None:
    with pytest.raises(FeedDecodeError, match="not a GTFS-Realtime FeedMessage"):
        read_vehicle_positions(data, "kcm", known_trip_ids=NO_IDS, known_stop_ids=NO_IDS, now_s=0)


def test_empty_body_raises_a_decode_error() -> None:
    with pytest.raises(FeedDecodeError, match="empty body"):
        read_alerts(b"", "kcm", known_trip_ids=NO_IDS, known_stop_ids=NO_IDS, now_s=0)


def test_unsupported_version_raises_a_version_error() -> None:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "3.0"
    with pytest.raises(FeedVersionError, match=r"'3\.0'"):
        _read_kcm(message.SerializeToString())
    assert issubclass(FeedVersionError, RealtimeFeedError)


def test_king_county_sample_gives_627_namespaced_vehicles(king_county_bytes: bytes) -> None:
    feed = _read_kcm(king_county_bytes)
    positions: tuple[VehiclePosition, ...] = feed.positions
    assert len(positions) == 627
    first = positions[0]
    assert first.entity_id == "kcm:1630596716_4382"
    assert first.vehicle_id == "kcm:4382"
    assert first.vehicle_label == "4382"
    assert first.trip_id == "kcm:49195152"
    assert first.route_id == "kcm:100001"
    assert first.stop_id == "kcm:2470"
    assert first.start_date == "20210902"
    assert first.direction_id == 0
    assert first.current_stop_sequence == 169
    assert first.timestamp_s == 1630596690
    assert first.lat == pytest.approx(47.6361542)
    assert first.lon == pytest.approx(-122.370354)
    assert first.bearing_deg is None
    assert all(47 < p.lat < 48.5 and -123 < p.lon < -121.5 for p in positions)
    assert len({p.vehicle_id for p in positions}) == 627


def test_king_county_report_counts_unknown_trips_and_stops(king_county_bytes: bytes) -> None:
    feed = _read_kcm(king_county_bytes)
    report = feed.report
    positions = feed.positions
    assert report.operator_id == "kcm"
    assert report.feed_kind == "vehicle-positions"
    assert report.entity_count == 627
    assert report.accepted_count == 627
    assert report.header_timestamp_s == KING_COUNTY_TIMESTAMP_S
    assert report.unknown_trip_count == sum(p.trip_id is not None for p in positions)
    assert report.unknown_stop_count == sum(p.stop_id is not None for p in positions)
    assert 0 < len(report.unknown_trip_samples) <= 10
    assert all(s.startswith("kcm:") for s in report.unknown_trip_samples)


def test_known_ids_are_not_reported(king_county_bytes: bytes) -> None:
    everything = _read_kcm(king_county_bytes).positions
    trips = frozenset(p.trip_id for p in everything if p.trip_id)
    stops = frozenset(p.stop_id for p in everything if p.stop_id)
    feed = read_vehicle_positions(
        king_county_bytes, "kcm", known_trip_ids=trips, known_stop_ids=stops, now_s=0
    )
    assert feed.report.unknown_trip_count == 0
    assert feed.report.unknown_stop_count == 0


def test_header_older_than_max_age_marks_feed_stale(king_county_bytes: bytes) -> None:
    fresh = _read_kcm(king_county_bytes, now_s=KING_COUNTY_TIMESTAMP_S + 30, max_age_s=60)
    stale = _read_kcm(king_county_bytes, now_s=KING_COUNTY_TIMESTAMP_S + 61, max_age_s=60)
    assert fresh.report.stale is False
    assert fresh.report.age_s == 30
    assert stale.report.stale is True
    assert stale.report.age_s == 61


def test_header_without_timestamp_is_stale() -> None:
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    feed = _read_kcm(message.SerializeToString(), now_s=1_700_000_000)
    assert feed.report.stale is True
    assert feed.report.age_s is None
    assert feed.positions == ()


def test_vehicle_position_json_round_trip(king_county_bytes: bytes) -> None:
    positions = _read_kcm(king_county_bytes).positions
    for position in positions[:20]:
        text = json.dumps(vehicle_position_to_json(position))
        assert vehicle_position_from_json(json.loads(text)) == position


def test_alerts_are_namespaced_and_unknown_ids_counted() -> None:
    feed = read_alerts(
        _alert_feed(),
        "kuopio",
        known_trip_ids=NO_IDS,
        known_stop_ids=frozenset({"kuopio:201481"}),
        now_s=1_700_000_100,
    )
    (alert,) = feed.alerts
    assert alert.entity_id == "kuopio:a1"
    assert [e.route_id for e in alert.informed_entities] == ["kuopio:20", None, None]
    assert alert.informed_entities[1].stop_id == "kuopio:201481"
    assert alert.cause == "CONSTRUCTION"
    assert alert.effect == "DETOUR"
    assert [(t.text, t.language) for t in alert.header_text] == [
        ("Kiertotie", "fi"),
        ("Detour", "en"),
    ]
    assert alert.active_periods[0].end_s == 1_700_003_600
    assert feed.report.unknown_trip_samples == ("kuopio:ghost",)
    assert feed.report.unknown_stop_count == 0
    assert feed.report.stale is False
    assert alert_from_json(json.loads(json.dumps(alert_to_json(alert)))) == alert


def test_merged_feed_round_trips_through_the_bindings(king_county_bytes: bytes) -> None:
    positions = _read_kcm(king_county_bytes).positions
    alerts: tuple[Alert, ...] = read_alerts(
        _alert_feed(), "kuopio", known_trip_ids=NO_IDS, known_stop_ids=NO_IDS, now_s=0
    ).alerts
    merged = merged_feed_message(
        timestamp_s=1_700_000_000, vehicle_positions=positions[:50], alerts=alerts + alerts
    )
    decoded = gtfs_realtime_pb2.FeedMessage.FromString(merged.SerializeToString())
    assert decoded.IsInitialized()
    assert decoded.header.incrementality == gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    assert decoded.header.timestamp == 1_700_000_000
    assert len(decoded.entity) == 52
    ids = [e.id for e in decoded.entity]
    assert len(set(ids)) == len(ids)
    assert ids[-2:] == ["kuopio:a1", "kuopio:a1#2"]
    vehicle = decoded.entity[0].vehicle
    assert vehicle.vehicle.id == "kcm:4382"
    assert vehicle.trip.trip_id == "kcm:49195152"
    assert vehicle.position.latitude == pytest.approx(47.6361542)
    assert decoded.entity[-1].alert.effect == gtfs_realtime_pb2.Alert.DETOUR
    assert decoded.entity[-1].alert.informed_entity[0].route_id == "kuopio:20"


def test_merged_feed_json_is_readable(king_county_bytes: bytes) -> None:
    positions = _read_kcm(king_county_bytes).positions
    merged = merged_feed_message(timestamp_s=1_700_000_000, vehicle_positions=positions[:2])
    rendered = json.loads(feed_message_json(merged))
    assert rendered["header"]["incrementality"] == "FULL_DATASET"
    assert rendered["entity"][0]["vehicle"]["trip"]["trip_id"] == "kcm:49195152"
