"""GTFS-Realtime in and out: what the HTTP layer, the poller and the planner call.

Everything here is pure: bytes and a timetable in, dataclasses and an overlay
out. A feed that does not decode raises a `RealtimeFeedError` before anything
is returned, so the caller keeps its previous state. Ids become
`operator:original_id`; updates for trips or stops the timetable lacks are
counted in the feed's `FeedReport`, never fatal.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from gtfs.realtime.alerts import Alert, alert_from_json, alert_to_json, alerts_from_feed
from gtfs.realtime.feed import (
    DEFAULT_MAX_AGE_S,
    FeedDecodeError,
    FeedReport,
    FeedVersionError,
    RealtimeFeedError,
    make_report,
    parse_feed_message,
)
from gtfs.realtime.out import feed_message_json, merged_feed_message
from gtfs.realtime.overlay import TripRealtime
from gtfs.realtime.records import trip_update_entities_from_feed
from gtfs.realtime.schedule import TripSchedules, build_trip_schedules
from gtfs.realtime.trip_updates import overlay_from_feed, scan_feed
from gtfs.realtime.vehicles import (
    VehiclePosition,
    vehicle_position_from_json,
    vehicle_position_to_json,
    vehicle_positions_from_feed,
)

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "Alert",
    "AlertsFeed",
    "FeedDecodeError",
    "FeedReport",
    "FeedVersionError",
    "RealtimeFeedError",
    "TripSchedules",
    "TripUpdatesFeed",
    "VehiclePosition",
    "VehiclePositionsFeed",
    "alert_from_json",
    "alert_to_json",
    "build_trip_schedules",
    "feed_message_json",
    "merged_feed_message",
    "merged_overlay",
    "read_alerts",
    "read_trip_updates",
    "read_vehicle_positions",
    "vehicle_position_from_json",
    "vehicle_position_to_json",
    "warm_up",
]


@dataclass(frozen=True, slots=True)
class VehiclePositionsFeed:
    """An operator's vehicle positions and the report of the feed they came in."""

    positions: tuple[VehiclePosition, ...]
    report: FeedReport


@dataclass(frozen=True, slots=True)
class AlertsFeed:
    """An operator's service alerts and the report of the feed they came in."""

    alerts: tuple[Alert, ...]
    report: FeedReport


@dataclass(frozen=True, slots=True)
class TripUpdatesFeed:
    """An operator's trip updates: the overlay for the planner, entities for the merged feed.

    `entities` maps namespaced trip ids to namespaced FeedEntity bytes (store them as they are
    and pass them to `merged_feed_message`).
    """

    overlay: dict[str, TripRealtime]
    entities: dict[str, bytes]
    report: FeedReport


def read_vehicle_positions(
    data: bytes,
    operator_id: str,
    *,
    known_trip_ids: Collection[str],
    known_stop_ids: Collection[str],
    now_s: int,
    max_age_s: int = DEFAULT_MAX_AGE_S,
) -> VehiclePositionsFeed:
    """Decode a VehiclePositions feed into namespaced positions and its report."""
    message = parse_feed_message(data)
    positions, counts = vehicle_positions_from_feed(
        message, operator_id, known_trip_ids=known_trip_ids, known_stop_ids=known_stop_ids
    )
    report = make_report(
        message, operator_id, "vehicle-positions", counts, now_s=now_s, max_age_s=max_age_s
    )
    return VehiclePositionsFeed(tuple(positions), report)


def read_alerts(
    data: bytes,
    operator_id: str,
    *,
    known_trip_ids: Collection[str],
    known_stop_ids: Collection[str],
    now_s: int,
    max_age_s: int = DEFAULT_MAX_AGE_S,
) -> AlertsFeed:
    """Decode a service alerts feed into namespaced alerts and its report."""
    message = parse_feed_message(data)
    alerts, counts = alerts_from_feed(
        message, operator_id, known_trip_ids=known_trip_ids, known_stop_ids=known_stop_ids
    )
    report = make_report(message, operator_id, "alerts", counts, now_s=now_s, max_age_s=max_age_s)
    return AlertsFeed(tuple(alerts), report)


def read_trip_updates(
    data: bytes,
    operator_id: str,
    schedules: TripSchedules,
    *,
    now_s: int,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    with_entities: bool = True,
) -> TripUpdatesFeed:
    """Decode a TripUpdates feed and apply it to the snapshot's schedules (overlay + entities)."""
    message = parse_feed_message(data)  # what validates: the reader below reads what it accepted
    rows = scan_feed(data)
    overlay, counts = overlay_from_feed(data, rows, operator_id, schedules)
    entities = (
        trip_update_entities_from_feed(data, rows.entities, operator_id, schedules.trip_index)
        if with_entities
        else {}
    )
    report = make_report(
        message, operator_id, "trip-updates", counts, now_s=now_s, max_age_s=max_age_s
    )
    return TripUpdatesFeed(overlay, entities, report)


def warm_up() -> None:
    """Compile the TripUpdates wire readers, or load them from the disk cache, before use."""
    rows = scan_feed(b"")
    trip_update_entities_from_feed(b"", rows.entities, "-", ())


def merged_overlay(overlays: Iterable[Mapping[str, TripRealtime]]) -> dict[str, TripRealtime]:
    """Combine operators' overlays into the one the planner reads (ids never collide)."""
    merged: dict[str, TripRealtime] = {}
    for overlay in overlays:
        merged.update(overlay)
    return merged
