"""The way out: one FeedMessage merged from every operator's stored realtime entities."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2

from gtfs.realtime.alerts import Alert, Translation
from gtfs.realtime.vehicles import VehiclePosition

_FeedEntity = gtfs_realtime_pb2.FeedEntity


def _set(message: Any, **values: Any) -> None:
    """Set the fields that have a value (None means absent; enums are given by name)."""
    for name, value in values.items():
        if value is None:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.enum_type is not None and isinstance(value, str):
            known = field.enum_type.values_by_name.get(value)
            if known is None and not value.isdigit():
                continue
            value = known.number if known is not None else int(value)
        setattr(message, name, value)


def _trip_descriptor(
    message: gtfs_realtime_pb2.TripDescriptor, source: Any, sr: str | None
) -> None:
    _set(
        message,
        trip_id=source.trip_id,
        route_id=source.route_id,
        direction_id=source.direction_id,
        start_date=source.start_date,
        start_time=source.start_time,
        schedule_relationship=sr,
    )


def fill_vehicle_position(entity: _FeedEntity, v: VehiclePosition) -> None:
    """Write a stored vehicle position into a FeedEntity."""
    vehicle = entity.vehicle
    if v.trip_id or v.route_id:
        _trip_descriptor(vehicle.trip, v, v.trip_schedule_relationship)
    if v.vehicle_id or v.vehicle_label or v.license_plate:
        _set(vehicle.vehicle, id=v.vehicle_id, label=v.vehicle_label, license_plate=v.license_plate)
    _set(vehicle.position, latitude=v.lat, longitude=v.lon, bearing=v.bearing_deg)
    _set(vehicle.position, speed=v.speed_m_s, odometer=v.odometer_m)
    _set(
        vehicle,
        stop_id=v.stop_id,
        current_stop_sequence=v.current_stop_sequence,
        current_status=v.current_status,
        timestamp=v.timestamp_s,
        congestion_level=v.congestion_level,
        occupancy_status=v.occupancy_status,
        occupancy_percentage=v.occupancy_percentage,
    )


def _fill_translations(
    message: gtfs_realtime_pb2.TranslatedString, texts: tuple[Translation, ...]
) -> None:
    for text in texts:
        _set(message.translation.add(), text=text.text, language=text.language)


def fill_alert(entity: _FeedEntity, a: Alert) -> None:
    """Write a stored alert into a FeedEntity."""
    alert = entity.alert
    for period in a.active_periods:
        _set(alert.active_period.add(), start=period.start_s, end=period.end_s)
    for informed in a.informed_entities:
        selector = alert.informed_entity.add()
        _set(selector, agency_id=informed.agency_id, route_id=informed.route_id)
        _set(selector, route_type=informed.route_type, stop_id=informed.stop_id)
        _set(selector, direction_id=informed.direction_id)
        if informed.trip_id is not None:
            selector.trip.trip_id = informed.trip_id
    _set(alert, cause=a.cause, effect=a.effect, severity_level=a.severity_level)
    _fill_translations(alert.header_text, a.header_text)
    _fill_translations(alert.description_text, a.description_text)
    _fill_translations(alert.url, a.url)


def merged_feed_message(
    *,
    timestamp_s: int,
    vehicle_positions: Iterable[VehiclePosition] = (),
    trip_update_entities: Iterable[bytes] = (),
    alerts: Iterable[Alert] = (),
) -> gtfs_realtime_pb2.FeedMessage:
    """Build one FULL_DATASET FeedMessage from several operators' stored entities.

    Trip updates come as the namespaced FeedEntity bytes `read_trip_updates` returned.
    """
    message = gtfs_realtime_pb2.FeedMessage()
    header = message.header
    header.gtfs_realtime_version = "2.0"
    header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    header.timestamp = timestamp_s
    seen: set[str] = set()
    for position in vehicle_positions:
        fill_vehicle_position(_add_entity(message, position.entity_id, seen), position)
    for entity_bytes in trip_update_entities:
        entity = gtfs_realtime_pb2.FeedEntity.FromString(entity_bytes)
        entity.id = _unique_id(entity.id, seen)
        message.entity.append(entity)
    for alert in alerts:
        fill_alert(_add_entity(message, alert.entity_id, seen), alert)
    return message


def _unique_id(entity_id: str, seen: set[str]) -> str:
    """Return an entity id unique in the merged feed, as the spec requires."""
    unique, n = entity_id, 1
    while unique in seen:
        n += 1
        unique = f"{entity_id}#{n}"
    seen.add(unique)
    return unique


def _add_entity(
    message: gtfs_realtime_pb2.FeedMessage, entity_id: str, seen: set[str]
) -> _FeedEntity:
    entity = message.entity.add()
    entity.id = _unique_id(entity_id, seen)
    return entity


def feed_message_json(message: gtfs_realtime_pb2.FeedMessage) -> str:
    """Render a FeedMessage as indented JSON for people (field names as in the proto)."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2)
