"""Service alerts from GTFS-Realtime as plain dataclasses, ids in the operator's namespace."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from google.transit import gtfs_realtime_pb2

from gtfs.realtime.feed import IdTally, ReportCounts
from gtfs.realtime.vehicles import optional_enum_name, optional_id, optional_value
from gtfs.tables import namespaced


@dataclass(frozen=True, slots=True)
class Translation:
    """One language's text of a translated string (language None: the feed's default)."""

    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ActivePeriod:
    """When an alert is shown: POSIX seconds, either end open (None)."""

    start_s: int | None = None
    end_s: int | None = None


@dataclass(frozen=True, slots=True)
class InformedEntity:
    """What an alert is about: any combination of agency, route, trip, stop (ids namespaced)."""

    agency_id: str | None = None
    route_id: str | None = None
    route_type: int | None = None
    direction_id: int | None = None
    trip_id: str | None = None
    stop_id: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One service alert as an operator reported it (JSON-ready, ids namespaced)."""

    operator_id: str
    entity_id: str
    informed_entities: tuple[InformedEntity, ...]
    active_periods: tuple[ActivePeriod, ...] = ()
    cause: str | None = None
    effect: str | None = None
    severity_level: str | None = None
    header_text: tuple[Translation, ...] = ()
    description_text: tuple[Translation, ...] = ()
    url: tuple[Translation, ...] = ()


def _translations(translated: gtfs_realtime_pb2.TranslatedString) -> tuple[Translation, ...]:
    return tuple(Translation(t.text, t.language or None) for t in translated.translation)


def _informed_entity(operator_id: str, selector: Any) -> InformedEntity:
    trip = selector.trip if selector.HasField("trip") else None
    return InformedEntity(
        agency_id=optional_id(operator_id, selector, "agency_id"),
        route_id=optional_id(operator_id, selector, "route_id"),
        route_type=optional_value(selector, "route_type"),
        direction_id=optional_value(selector, "direction_id"),
        trip_id=optional_id(operator_id, trip, "trip_id") if trip is not None else None,
        stop_id=optional_id(operator_id, selector, "stop_id"),
    )


def alert_from_pb(operator_id: str, entity_id: str, alert: gtfs_realtime_pb2.Alert) -> Alert:
    """Map one Alert message into the dataclass."""
    return Alert(
        operator_id=operator_id,
        entity_id=namespaced(operator_id, entity_id),
        informed_entities=tuple(_informed_entity(operator_id, s) for s in alert.informed_entity),
        active_periods=tuple(
            ActivePeriod(optional_value(p, "start"), optional_value(p, "end"))
            for p in alert.active_period
        ),
        cause=optional_enum_name(alert, "cause"),
        effect=optional_enum_name(alert, "effect"),
        severity_level=optional_enum_name(alert, "severity_level"),
        header_text=_translations(alert.header_text),
        description_text=_translations(alert.description_text),
        url=_translations(alert.url),
    )


def alerts_from_feed(
    message: gtfs_realtime_pb2.FeedMessage,
    operator_id: str,
    *,
    known_trip_ids: Collection[str],
    known_stop_ids: Collection[str],
) -> tuple[list[Alert], ReportCounts]:
    """Map the feed's alert entities; count informed trips and stops the timetable lacks."""
    alerts: list[Alert] = []
    unknown_trips, unknown_stops = IdTally(), IdTally()
    for entity in message.entity:
        if entity.is_deleted or not entity.HasField("alert"):
            continue
        alert = alert_from_pb(operator_id, entity.id, entity.alert)
        for informed in alert.informed_entities:
            if informed.trip_id is not None and informed.trip_id not in known_trip_ids:
                unknown_trips.add(informed.trip_id)
            if informed.stop_id is not None and informed.stop_id not in known_stop_ids:
                unknown_stops.add(informed.stop_id)
        alerts.append(alert)
    return alerts, ReportCounts(len(alerts), unknown_trips, unknown_stops)


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """Return the alert as a JSON-ready dict (for Redis and the API)."""
    return dataclasses.asdict(alert)


def alert_from_json(data: Mapping[str, Any]) -> Alert:
    """Rebuild an alert from `alert_to_json` output."""

    def texts(key: str) -> tuple[Translation, ...]:
        return tuple(Translation(**t) for t in data.get(key, ()))

    return Alert(
        operator_id=data["operator_id"],
        entity_id=data["entity_id"],
        informed_entities=tuple(InformedEntity(**e) for e in data["informed_entities"]),
        active_periods=tuple(ActivePeriod(**p) for p in data.get("active_periods", ())),
        cause=data.get("cause"),
        effect=data.get("effect"),
        severity_level=data.get("severity_level"),
        header_text=texts("header_text"),
        description_text=texts("description_text"),
        url=texts("url"),
    )
