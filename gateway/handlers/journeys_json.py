"""Itineraries as the JSON of `ItineraryOut`, straight from the planner's dataclasses.

Validating every leg, call and point into pydantic models and dumping them
again cost more than planning the journey; this writes the same document
(`None` fields left out, as `exclude_none` does) for orjson to serialise. A test
holds it equal to the model's own dump.
"""

from __future__ import annotations

from typing import Any

from journeys.itinerary import Itinerary, Leg, Place, StopCall, TransitLeg


def place_json(place: Place) -> dict[str, Any]:
    """Return a stop or a coordinate."""
    out: dict[str, Any] = {"name": place.name, "lat": place.lat, "lon": place.lon}
    if place.stop_id is not None:
        out["stop_id"] = place.stop_id
    if place.operator_id is not None:
        out["operator_id"] = place.operator_id
    if place.place_id is not None:
        out["place_id"] = place.place_id
    return out


def _call_json(call: StopCall) -> dict[str, Any]:
    return {"stop": place_json(call.stop), "arrival": call.arrival, "departure": call.departure}


def leg_json(leg: Leg) -> dict[str, Any]:
    """Return a walk or a ride."""
    out: dict[str, Any] = {
        "mode": leg.mode,
        "from_place": place_json(leg.from_place),
        "to_place": place_json(leg.to_place),
        "departure": leg.departure,
        "arrival": leg.arrival,
        "duration_s": leg.duration_s,
    }
    if not isinstance(leg, TransitLeg):
        out["distance_m"] = leg.distance_m
        return out
    out |= {
        "operator_id": leg.operator_id,
        "route_id": leg.route_id,
        "route_short_name": leg.route_short_name,
        "route_long_name": leg.route_long_name,
        "route_type": leg.route_type,
        "trip_id": leg.trip_id,
        "headsign": leg.headsign,
        "intermediate_stops": [_call_json(c) for c in leg.intermediate_stops],
        "geometry": leg.geometry,
        "stay_seated": leg.stay_seated,
        "realtime": leg.realtime,
    }
    if leg.transfer_s is not None:
        out["transfer_s"] = leg.transfer_s
    if leg.service_date is not None:
        out["service_date"] = leg.service_date
    return out


def itinerary_json(itinerary: Itinerary) -> dict[str, Any]:
    """Return a journey without its offer."""
    return {
        "id": itinerary.id,
        "departure": itinerary.departure,
        "arrival": itinerary.arrival,
        "duration_s": itinerary.duration_s,
        "transfers": itinerary.transfers,
        "legs": [leg_json(leg) for leg in itinerary.legs],
    }
