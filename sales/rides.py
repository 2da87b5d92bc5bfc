"""A ride as the timetable has it: an itinerary leg checked against the snapshot and realtime.

A client names a trip, its service date and two stops; everything a price or a
ticket depends on (operator, route, times) is read here, never taken from the
request. The realtime overlay moves the times of a late trip and refuses a
cancelled one or a stop it skips.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.realtime.overlay import RealtimeOverlay, TripRealtime
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.service import service_day_start
from sales.errors import NotFound, StopsNotOnTrip, TripCancelled, TripNotRunning


@dataclass(frozen=True, slots=True)
class Schedule:
    """What rides are checked against: one timetable snapshot and the realtime overlay on it."""

    snapshot: Snapshot
    overlay: RealtimeOverlay


@dataclass(frozen=True, slots=True)
class Ride:
    """One leg on one run of a trip, with the times the timetable (and realtime) give it."""

    operator_id: str
    route_id: str
    trip_id: str
    service_date: dt.date
    from_stop_id: str
    to_stop_id: str
    departure: dt.datetime
    arrival: dt.datetime
    realtime: bool


def _trip_index(snap: Snapshot, trip_id: str, where: str) -> int:
    trip = snap.trips.index.get(trip_id, -1)
    if trip < 0 or snap.trips.pattern[trip] < 0:
        raise NotFound(f"{where}.trip_id: trip {trip_id!r} is not in the timetable")
    return trip


def _check_runs(snap: Snapshot, trip: int, day: dt.date, where: str) -> None:
    service = int(snap.trips.service[trip])
    column = day.toordinal() - snap.first_day
    runs = (
        service >= 0
        and 0 <= column < snap.service_active.shape[1]
        and bool(snap.service_active[service, column])
    )
    if not runs:
        raise TripNotRunning(
            f"{where}: trip {snap.trips.ids[trip]!r} does not run on {day.isoformat()}"
        )


def _realtime_of(
    overlay: RealtimeOverlay, trip_id: str, day: dt.date, length: int, where: str
) -> TripRealtime | None:
    rt = overlay.get(trip_id)
    if rt is None or (rt.service_date is not None and rt.service_date != day):
        return None
    if rt.cancelled:
        raise TripCancelled(f"{where}: trip {trip_id!r} of {day.isoformat()} is cancelled")
    return rt if len(rt.arrival_s) == length else None


def _positions(
    snap: Snapshot, trip: int, from_stop: str, to_stop: str, rt: TripRealtime | None, where: str
) -> tuple[int, int]:
    """Return the positions of the first boarding at one stop and the next alighting after it."""
    a, b = int(snap.trips.time_ptr[trip]), int(snap.trips.time_ptr[trip + 1])
    p = int(snap.patterns.stop_ptr[int(snap.trips.pattern[trip])])
    stops = snap.trips.stop[a:b]
    running = np.ones(b - a, dtype=np.bool_) if rt is None else ~rt.skipped
    board = snap.patterns.can_board[p : p + b - a] & running
    alight = snap.patterns.can_alight[p : p + b - a] & running
    # A later boarding at the same stop has no alighting the first one lacks.
    starts = np.flatnonzero((stops == snap.stops.index.get(from_stop, -1)) & board)
    if len(starts):
        i = int(starts[0])
        later = stops[i + 1 :] == snap.stops.index.get(to_stop, -1)
        ends = np.flatnonzero(later & alight[i + 1 :])
        if len(ends):
            return i, i + 1 + int(ends[0])
    raise StopsNotOnTrip(
        f"{where}: trip {snap.trips.ids[trip]!r} does not take on passengers at {from_stop!r} "
        f"and set them down later at {to_stop!r}"
    )


def find_ride(
    schedule: Schedule,
    trip_id: str,
    service_date: dt.date,
    from_stop_id: str,
    to_stop_id: str,
    where: str = "leg",
) -> Ride:
    """Return the ride on a trip's run between two stops, as the timetable and realtime have it."""
    snap = schedule.snapshot
    trip = _trip_index(snap, trip_id, where)
    _check_runs(snap, trip, service_date, where)
    a = int(snap.trips.time_ptr[trip])
    length = int(snap.trips.time_ptr[trip + 1]) - a
    rt = _realtime_of(schedule.overlay, trip_id, service_date, length, where)
    i, j = _positions(snap, trip, from_stop_id, to_stop_id, rt, where)
    zone = snap.timezones[int(snap.trips.timezone[trip])]
    base_s = service_day_start(service_date, zone)
    departure_s = int(rt.departure_s[i] if rt is not None else snap.trips.departure_s[a + i])
    arrival_s = int(rt.arrival_s[j] if rt is not None else snap.trips.arrival_s[a + j])
    tz = ZoneInfo(zone)
    route = int(snap.trips.route[trip])
    return Ride(
        operator_id=snap.routes.operator_ids[route],
        route_id=snap.routes.ids[route],
        trip_id=trip_id,
        service_date=service_date,
        from_stop_id=from_stop_id,
        to_stop_id=to_stop_id,
        departure=dt.datetime.fromtimestamp(base_s + departure_s, tz),
        arrival=dt.datetime.fromtimestamp(base_s + max(arrival_s, departure_s), tz),
        realtime=rt is not None,
    )
