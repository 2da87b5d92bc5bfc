"""Itineraries the planner returns: plain frozen dataclasses the HTTP layer serialises as they are.

Times are aware datetimes in the time zone of the operator whose stop or trip
they belong to (a ride in its agency's zone, a walk in the zone of the stop it
leaves). An itinerary has a stable `id` (a digest of its trips, stops and times)
so that an offer can be attached to it later without changing these types.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Place:
    """A stop (with its namespaced id and operator) or a bare coordinate (stop_id None).

    `place_id` names the place a stop shares with other operators' stops, if any.
    """

    name: str
    lat: float
    lon: float
    stop_id: str | None = None
    operator_id: str | None = None
    place_id: str | None = None


@dataclass(frozen=True, slots=True)
class StopCall:
    """A vehicle's call at a stop between boarding and alighting."""

    stop: Place
    arrival: dt.datetime
    departure: dt.datetime


@dataclass(frozen=True, slots=True)
class WalkLeg:
    """Walking between two places (access, transfer or egress)."""

    from_place: Place
    to_place: Place
    departure: dt.datetime
    arrival: dt.datetime
    distance_m: float
    mode: Literal["walk"] = "walk"

    @property
    def duration_s(self) -> int:
        """Return the leg's duration in seconds."""
        return int((self.arrival - self.departure).total_seconds())


@dataclass(frozen=True, slots=True)
class TransitLeg:
    """A ride on one trip from a boarding stop to an alighting stop."""

    operator_id: str
    route_id: str
    route_short_name: str
    route_long_name: str
    route_type: int
    trip_id: str
    headsign: str
    from_place: Place
    to_place: Place
    departure: dt.datetime
    arrival: dt.datetime
    intermediate_stops: tuple[StopCall, ...]
    geometry: tuple[tuple[float, float], ...]
    stay_seated: bool = False
    realtime: bool = False
    #: A change from the previous ride at the same stop or place: the time it needs.
    transfer_s: int | None = None
    #: The trip's service date (the day before for a run going on past midnight).
    service_date: dt.date | None = None
    mode: Literal["transit"] = "transit"

    @property
    def duration_s(self) -> int:
        """Return the leg's duration in seconds."""
        return int((self.arrival - self.departure).total_seconds())


Leg = WalkLeg | TransitLeg


@dataclass(frozen=True, slots=True)
class Itinerary:
    """One journey: its legs, when it leaves and arrives, and how many times one changes vehicle."""

    id: str
    legs: tuple[Leg, ...]
    departure: dt.datetime
    arrival: dt.datetime
    transfers: int

    @property
    def duration_s(self) -> int:
        """Return the door-to-door duration in seconds."""
        return int((self.arrival - self.departure).total_seconds())

    def transit_legs(self) -> tuple[TransitLeg, ...]:
        """Return the legs that ride a vehicle (the ones an offer prices)."""
        return tuple(leg for leg in self.legs if isinstance(leg, TransitLeg))


def make_itinerary(legs: tuple[Leg, ...], stamps: list[tuple[str, str]] | None = None) -> Itinerary:
    """Assemble an itinerary from its legs, counting transfers and deriving its stable id.

    `stamps` are each leg's departure and arrival in ISO 8601, when the caller has them
    made already (the planner keeps them per moment): the id is a digest of that text.
    """
    if stamps is None:
        stamps = [(leg.departure.isoformat(), leg.arrival.isoformat()) for leg in legs]
    rides = 0
    parts: list[str] = []
    for leg, (departure, arrival) in zip(legs, stamps, strict=True):
        if isinstance(leg, TransitLeg):
            key = leg.trip_id
            rides += not leg.stay_seated
        else:
            key = "walk"
        parts.append(
            f"{key}|{leg.from_place.stop_id}|{departure}|{leg.to_place.stop_id}|{arrival};"
        )
    # One digest of the whole text: the same bytes as hashing it leg by leg, fewer calls.
    digest = hashlib.sha256("".join(parts).encode())
    return Itinerary(
        id=digest.hexdigest()[:24],
        legs=legs,
        departure=legs[0].departure,
        arrival=legs[-1].arrival,
        transfers=max(0, rides - 1),
    )
