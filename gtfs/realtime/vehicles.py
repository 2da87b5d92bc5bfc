"""Vehicle positions from GTFS-Realtime as plain dataclasses, ids in the operator's namespace."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from google.transit import gtfs_realtime_pb2

from gtfs.realtime.feed import IdTally, ReportCounts
from gtfs.tables import namespaced

_VehiclePositionPb = gtfs_realtime_pb2.VehiclePosition


@dataclass(frozen=True, slots=True)
class VehiclePosition:
    """Where one vehicle is, as an operator reported it (JSON-ready, ids namespaced)."""

    # pydantic reads the attribute docstrings below into the OpenAPI document.
    __pydantic_config__: ClassVar[dict[str, bool]] = {"use_attribute_docstrings": True}

    operator_id: str
    """the operator that reported it"""
    entity_id: str
    """the feed entity's id"""
    lat: float
    """latitude, WGS84 degrees"""
    lon: float
    """longitude, WGS84 degrees"""
    vehicle_id: str | None = None
    """the vehicle's internal id"""
    vehicle_label: str | None = None
    """the label shown to travellers (a fleet or line number)"""
    license_plate: str | None = None
    """the vehicle's licence plate"""
    trip_id: str | None = None
    """the trip it serves, with its operator prefix"""
    route_id: str | None = None
    """the route it serves, with its operator prefix"""
    direction_id: int | None = None
    """GTFS `direction_id` of the trip: 0 or 1"""
    start_date: str | None = None
    """the trip's start date, `YYYYMMDD`"""
    start_time: str | None = None
    """the trip's start time, `HH:MM:SS`"""
    trip_schedule_relationship: str | None = None
    """GTFS-Realtime `schedule_relationship` of the trip, e.g. `SCHEDULED`"""
    stop_id: str | None = None
    """the stop it is at or heading to, with its operator prefix"""
    current_stop_sequence: int | None = None
    """that stop's `stop_sequence` in the trip"""
    current_status: str | None = None
    """`INCOMING_AT`, `STOPPED_AT` or `IN_TRANSIT_TO` that stop"""
    bearing_deg: float | None = None
    """heading, degrees clockwise from true north"""
    speed_m_s: float | None = None
    """speed, metres per second"""
    odometer_m: float | None = None
    """odometer reading, metres"""
    timestamp_s: int | None = None
    """when the position was measured, Unix seconds"""
    congestion_level: str | None = None
    """GTFS-Realtime `congestion_level`"""
    occupancy_status: str | None = None
    """GTFS-Realtime `occupancy_status`, e.g. `MANY_SEATS_AVAILABLE`"""
    occupancy_percentage: int | None = None
    """how full the vehicle is, percent of its capacity"""


def optional_id(operator_id: str, message: Any, field_name: str) -> str | None:
    """Return a protobuf string field as a namespaced id, or None when it is absent or empty."""
    if not message.HasField(field_name):
        return None
    raw = getattr(message, field_name)
    return namespaced(operator_id, raw) if raw else None


def optional_value(message: Any, field_name: str) -> Any:
    """Return a protobuf scalar field, or None when it is absent."""
    return getattr(message, field_name) if message.HasField(field_name) else None


def optional_enum_name(message: Any, field_name: str) -> str | None:
    """Return a protobuf enum field as its name, or None when it is absent."""
    if not message.HasField(field_name):
        return None
    descriptor = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    number = getattr(message, field_name)
    value = descriptor.values_by_number.get(number)
    return value.name if value is not None else str(number)


def _trip_fields(operator_id: str, vehicle: _VehiclePositionPb) -> dict[str, Any]:
    if not vehicle.HasField("trip"):
        return {}
    trip = vehicle.trip
    return {
        "trip_id": optional_id(operator_id, trip, "trip_id"),
        "route_id": optional_id(operator_id, trip, "route_id"),
        "direction_id": optional_value(trip, "direction_id"),
        "start_date": optional_value(trip, "start_date") or None,
        "start_time": optional_value(trip, "start_time") or None,
        "trip_schedule_relationship": optional_enum_name(trip, "schedule_relationship"),
    }


def _descriptor_fields(operator_id: str, vehicle: _VehiclePositionPb) -> dict[str, Any]:
    if not vehicle.HasField("vehicle"):
        return {}
    descriptor = vehicle.vehicle
    return {
        "vehicle_id": optional_id(operator_id, descriptor, "id"),
        "vehicle_label": optional_value(descriptor, "label") or None,
        "license_plate": optional_value(descriptor, "license_plate") or None,
    }


def _position_fields(vehicle: _VehiclePositionPb) -> dict[str, Any]:
    position = vehicle.position
    return {
        "lat": position.latitude,
        "lon": position.longitude,
        "bearing_deg": optional_value(position, "bearing"),
        "speed_m_s": optional_value(position, "speed"),
        "odometer_m": optional_value(position, "odometer"),
    }


def _status_fields(operator_id: str, vehicle: _VehiclePositionPb) -> dict[str, Any]:
    return {
        "stop_id": optional_id(operator_id, vehicle, "stop_id"),
        "current_stop_sequence": optional_value(vehicle, "current_stop_sequence"),
        "current_status": optional_enum_name(vehicle, "current_status"),
        "timestamp_s": optional_value(vehicle, "timestamp"),
        "congestion_level": optional_enum_name(vehicle, "congestion_level"),
        "occupancy_status": optional_enum_name(vehicle, "occupancy_status"),
        "occupancy_percentage": optional_value(vehicle, "occupancy_percentage"),
    }


def vehicle_position_from_pb(
    operator_id: str, entity_id: str, vehicle: _VehiclePositionPb
) -> VehiclePosition:
    """Map one VehiclePosition message (which must have a position) into the dataclass."""
    return VehiclePosition(
        operator_id=operator_id,
        entity_id=namespaced(operator_id, entity_id),
        **_position_fields(vehicle),
        **_trip_fields(operator_id, vehicle),
        **_descriptor_fields(operator_id, vehicle),
        **_status_fields(operator_id, vehicle),
    )


def vehicle_positions_from_feed(
    message: gtfs_realtime_pb2.FeedMessage,
    operator_id: str,
    *,
    known_trip_ids: Collection[str],
    known_stop_ids: Collection[str],
) -> tuple[list[VehiclePosition], ReportCounts]:
    """Map the feed's vehicle entities that carry a position; count ids the timetable lacks."""
    positions: list[VehiclePosition] = []
    unknown_trips, unknown_stops = IdTally(), IdTally()
    for entity in message.entity:
        if entity.is_deleted or not entity.vehicle.HasField("position"):
            continue
        position = vehicle_position_from_pb(operator_id, entity.id, entity.vehicle)
        if position.trip_id is not None and position.trip_id not in known_trip_ids:
            unknown_trips.add(position.trip_id)
        if position.stop_id is not None and position.stop_id not in known_stop_ids:
            unknown_stops.add(position.stop_id)
        positions.append(position)
    return positions, ReportCounts(len(positions), unknown_trips, unknown_stops)


def vehicle_position_to_json(position: VehiclePosition) -> dict[str, Any]:
    """Return the position as a JSON-ready dict (for Redis and the live API)."""
    return dataclasses.asdict(position)


def vehicle_position_from_json(data: Mapping[str, Any]) -> VehiclePosition:
    """Rebuild a position from `vehicle_position_to_json` output; unknown keys are ignored."""
    names = {f.name for f in dataclasses.fields(VehiclePosition)}
    return VehiclePosition(**{k: v for k, v in data.items() if k in names})
