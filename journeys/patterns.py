"""What every ride on a pattern shares, made once per snapshot and sliced per ride.

A ride's intermediate stops and its line on the map depend only on its trip's
pattern and shape and on where it boards and alights: the places of a
pattern's stops, and where each of them lies along a shape, are made the first
time a journey rides the pattern and reused by every later query. Moments on a
day's axis become aware datetimes through one cache per service date.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.build import Snapshot
from journeys.itinerary import Place

Point = tuple[float, float]


class Places:
    """The `Place` of each stop, made once per stop and reused by every query of a snapshot."""

    def __init__(self, snap: Snapshot) -> None:
        """Bind to a snapshot's stops."""
        self._stops = snap.stops
        self._shared = snap.places
        self._made: dict[int, Place] = {}

    def get(self, stop: int) -> Place:
        """Return the place of a stop index (with the shared place it belongs to, if any)."""
        place = self._made.get(stop)
        if place is None:
            s, shared = self._stops, int(self._shared.place_of[stop])
            place = Place(
                s.names[stop],
                float(s.lat[stop]),
                float(s.lon[stop]),
                s.ids[stop],
                s.operator_ids[stop],
                self._shared.ids[shared] if shared >= 0 else None,
            )
            self._made[stop] = place
        return place


class Clock:
    """Turns seconds on a service date's axis into aware datetimes, each made once."""

    def __init__(self, base_epoch_s: int, tz: ZoneInfo) -> None:
        """Bind to the epoch second of the axis' zero and the network's zone."""
        self.base_epoch_s, self.tz = base_epoch_s, tz
        self._made: dict[int, dt.datetime] = {}
        self._iso: dict[int, str] = {}

    def at(self, seconds: int) -> dt.datetime:
        """Return the moment `seconds` after the axis' zero."""
        moment = self._made.get(seconds)
        if moment is None:
            moment = dt.datetime.fromtimestamp(self.base_epoch_s + seconds, self.tz)
            self._made[seconds] = moment
        return moment

    def iso(self, seconds: int) -> str:
        """Return `at(seconds)` in ISO 8601 (an itinerary's id is a digest of such text)."""
        text = self._iso.get(seconds)
        if text is None:
            text = self._iso[seconds] = self.at(seconds).isoformat()
        return text


class Trip(NamedTuple):
    """The fields of a trip's rides that do not depend on where it is boarded."""

    operator_id: str
    route_id: str
    route_short_name: str
    route_long_name: str
    route_type: int
    trip_id: str
    headsign: str
    pattern: int
    shape: int
    zone: int


class Rides:
    """Per pattern: its stops' places; per pattern and shape: its line and each stop on it."""

    def __init__(self, snap: Snapshot, places: Places) -> None:
        """Bind to a snapshot; nothing is made before a journey needs it."""
        self.snap, self.places = snap, places
        self._stops: dict[int, tuple[Place, ...]] = {}
        self._lines: dict[tuple[int, int], tuple[tuple[Point, ...], list[int]]] = {}
        self._clocks: dict[tuple[int, int], Clock] = {}
        self._trips: dict[int, Trip] = {}

    def trip(self, trip: int) -> Trip:
        """Return what every ride on a trip shares: its line's names, ids, pattern and shape."""
        made = self._trips.get(trip)
        if made is None:
            t, r = self.snap.trips, self.snap.routes
            line = int(t.route[trip])
            made = Trip(
                r.operator_ids[line],
                r.ids[line],
                r.short_names[line],
                r.long_names[line],
                int(r.route_type[line]),
                t.ids[trip],
                t.headsigns[trip],
                int(t.pattern[trip]),
                int(t.shape[trip]),
                int(t.timezone[trip]),
            )
            self._trips[trip] = made
        return made

    def stops(self, pattern: int) -> tuple[Place, ...]:
        """Return the places of a pattern's stops, in order."""
        made = self._stops.get(pattern)
        if made is None:
            p = self.snap.patterns
            lo, hi = int(p.stop_ptr[pattern]), int(p.stop_ptr[pattern + 1])
            made = tuple(self.places.get(s) for s in p.stops[lo:hi].tolist())
            self._stops[pattern] = made
        return made

    def line(self, pattern: int, shape: int, first: int, last: int) -> tuple[Point, ...]:
        """Return the line of a ride from position `first` to `last`: its shape, or its stops."""
        made = self._lines.get((pattern, shape))
        if made is None:
            made = self._line(pattern, shape)
            self._lines[(pattern, shape)] = made
        points, at = made
        return points[at[first] : at[last] + 1]

    def service_date(self, day: dt.date, offset: int) -> dt.date:
        """Return the service date `offset` days from a view's (-1: a run past midnight)."""
        return day if offset == 0 else day + dt.timedelta(days=offset)

    def clock(self, base_epoch_s: int, zone: int) -> Clock:
        """Return the clock of a date's axis in one of the snapshot's zones (-1: its own)."""
        made = self._clocks.get((base_epoch_s, zone))
        if made is None:
            name = self.snap.timezone if zone < 0 else self.snap.timezones[zone]
            made = Clock(base_epoch_s, ZoneInfo(name))
            self._clocks[(base_epoch_s, zone)] = made
        return made

    def _line(self, pattern: int, shape: int) -> tuple[tuple[Point, ...], list[int]]:
        """Return the points of the line and, per position, its stop's point."""
        stops = self.stops(pattern)
        if shape < 0:
            return tuple((s.lat, s.lon) for s in stops), list(range(len(stops)))
        shapes = self.snap.shapes
        lo, hi = int(shapes.ptr[shape]), int(shapes.ptr[shape + 1])
        if hi == lo:
            return self._line(pattern, -1)
        lat, lon = shapes.lat[lo:hi], shapes.lon[lo:hi]
        points = tuple(zip(lat.tolist(), lon.tolist(), strict=True))
        return points, _along(lat, lon, stops)


def _along(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], stops: tuple[Place, ...]
) -> list[int]:
    """Return, per stop, the nearest shape point at or after the previous stop's."""
    at: list[int] = []
    start = 0
    for s in stops:
        scale = math.cos(math.radians(s.lat))
        start += int(np.argmin((lat[start:] - s.lat) ** 2 + ((lon[start:] - s.lon) * scale) ** 2))
        at.append(start)
    return at
