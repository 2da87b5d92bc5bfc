"""Where a network runs: the box around the stops its trips call at in the coming days.

A map opens there rather than on the box of every stop ever published, which for a
gateway of operators on several continents (or of feeds long ended) is the whole earth.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.build import Snapshot

B = npt.NDArray[np.bool_]
#: (south, west, north, east) in degrees.
Box = tuple[float, float, float, float]


def service_area(
    snap: Snapshot, first_day: int, days: int, operator_id: str | None = None
) -> Box | None:
    """Return the box of stops served from day ordinal `first_day` for `days` days.

    With no service in that period, the `days` with service nearest to it: the next ones,
    or, once every calendar has ended, the last ones. With `operator_id`, of that
    operator's trips only; None when it has no trip.
    """
    trips = _operator_trips(snap, operator_id)
    start = _nearest_service(snap, trips, first_day, days)
    box = _box(snap, trips & _active_trips(snap, start, days))
    return box if box is not None else _box(snap, trips)


def _nearest_service(snap: Snapshot, trips: B, first_day: int, days: int) -> int:
    """Return the first day of the `days`-long window with service nearest to `first_day`."""
    services = np.unique(snap.trips.service[trips & (snap.trips.service >= 0)])
    running = np.flatnonzero(snap.service_active[services].any(axis=0)) + snap.first_day
    if not len(running) or ((running >= first_day) & (running < first_day + days)).any():
        return first_day
    later = running[running >= first_day]
    return int(later[0]) if len(later) else int(running[-1]) - days + 1


def _operator_trips(snap: Snapshot, operator_id: str | None) -> B:
    route = snap.trips.route
    if operator_id is None:
        return np.ones(len(route), dtype=bool)
    operators = np.asarray(snap.routes.operator_ids, dtype=object)
    out = np.zeros(len(route), dtype=bool)
    known = route >= 0
    out[known] = operators[route[known]] == operator_id
    return out


def _active_trips(snap: Snapshot, first_day: int, days: int) -> B:
    start = max(first_day - snap.first_day, 0)
    stop = max(start, first_day - snap.first_day + days)
    running = np.asarray(snap.service_active[:, start:stop].any(axis=1), dtype=bool)
    service = snap.trips.service
    out = np.zeros(len(service), dtype=bool)
    known = service >= 0
    out[known] = running[service[known]]
    return out


def _box(snap: Snapshot, trips: B) -> Box | None:
    calls = np.repeat(trips, np.diff(snap.trips.time_ptr))
    stops = np.unique(snap.trips.stop[calls])
    if not len(stops):
        return None
    lat, lon = snap.stops.lat[stops], snap.stops.lon[stops]
    return float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max())
