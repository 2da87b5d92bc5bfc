"""Queries of the open essential-data API over one snapshot: stops, departures, routes.

Pure functions over an immutable `OpenDataIndex` (built once per snapshot by the
timetable writer), so every request reads one consistent timetable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import haversine_m
from gtfs.snapshot.service import service_day_start
from gtfs.tables import GtfsTables

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class OpenDataIndex:
    """Indexes over a snapshot: stop -> its stop_time rows, lower-cased names, table rows."""

    snapshot: Snapshot
    stops: pd.DataFrame
    routes: pd.DataFrame
    row_trip: I64
    stop_rows_ptr: I64
    stop_rows: I64
    names_lower: npt.NDArray[np.str_]
    route_trip_counts: I64


@dataclass(frozen=True, slots=True)
class Departure:
    """A scheduled departure of a trip from a stop."""

    trip_id: str
    route_id: str
    route_short_name: str
    headsign: str
    operator_id: str
    service_day: dt.date
    departure_s: int
    departure_at: dt.datetime
    wheelchair_accessible: int
    stop_index: int = 0  # position of the stop in its trip, as realtime overlays count
    stop: int = -1  # the stop's index in the snapshot


def build_index(tables: GtfsTables, snapshot: Snapshot) -> OpenDataIndex:
    """Index a snapshot for the open-data queries (blocking: call it off the event loop)."""
    trips = snapshot.trips
    lengths = np.diff(trips.time_ptr)
    row_trip = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    order = np.argsort(trips.stop, kind="stable").astype(np.int64)
    counts = np.bincount(trips.stop, minlength=len(snapshot.stops.ids))
    route_counts = np.bincount(trips.route[trips.route >= 0], minlength=len(snapshot.routes.ids))
    stops = tables.stops.set_index(tables.stops["stop_id"].astype("string"), drop=False)
    routes = tables.routes.set_index(tables.routes["route_id"].astype("string"), drop=False)
    return OpenDataIndex(
        snapshot=snapshot,
        stops=stops.reindex(list(snapshot.stops.ids)),
        routes=routes.reindex(list(snapshot.routes.ids)),
        row_trip=row_trip,
        stop_rows_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        stop_rows=order,
        names_lower=np.asarray([n.casefold() for n in snapshot.stops.names], dtype=np.str_),
        route_trip_counts=route_counts.astype(np.int64),
    )


def search_stops(
    index: OpenDataIndex,
    near: tuple[float, float] | None = None,
    radius_m: float = 500.0,
    q: str | None = None,
) -> tuple[I64, npt.NDArray[np.float64] | None]:
    """Return matching stop indices (nearest first when `near` is given) and their distances."""
    stops = index.snapshot.stops
    keep = np.ones(len(stops.ids), dtype=bool)
    if q:
        keep &= np.char.find(index.names_lower, q.casefold()) >= 0
    if near is None:
        return np.flatnonzero(keep), None
    distance = haversine_m(
        np.full(len(stops.ids), near[0]), np.full(len(stops.ids), near[1]), stops.lat, stops.lon
    )
    keep &= distance <= radius_m
    found = np.flatnonzero(keep)
    order = found[np.argsort(distance[found], kind="stable")]
    return order, distance[order]


def routes_at_stop(index: OpenDataIndex, stop: int) -> list[str]:
    """Return the ids of the routes whose trips call at a stop."""
    rows = index.stop_rows[index.stop_rows_ptr[stop] : index.stop_rows_ptr[stop + 1]]
    routes = np.unique(index.snapshot.trips.route[index.row_trip[rows]])
    return [index.snapshot.routes.ids[r] for r in routes if r >= 0]


def list_departures(
    index: OpenDataIndex, stop: int, at: dt.datetime, limit: int, horizon_s: int = 86_400
) -> list[Departure]:
    """Return the next scheduled departures from a stop at or after `at`, soonest first."""
    snap, trips = index.snapshot, index.snapshot.trips
    rows = index.stop_rows[index.stop_rows_ptr[stop] : index.stop_rows_ptr[stop + 1]]
    trip = index.row_trip[rows]
    boards = _can_board(snap, rows, trip) & (rows < trips.time_ptr[trip + 1] - 1)
    rows, trip = rows[boards], trip[boards]
    at_s = int(at.timestamp())
    found: list[tuple[int, int, int, dt.date]] = []
    local = at.astimezone(ZoneInfo(snap.timezone)).date()
    for offset in (-1, 0, 1):
        day = local + dt.timedelta(days=offset)
        column = day.toordinal() - snap.first_day
        if not 0 <= column < snap.service_active.shape[1]:
            continue
        starts = np.asarray([service_day_start(day, z) for z in snap.timezones], dtype=np.int64)
        active = snap.service_active[trips.service[trip], column] & (trips.service[trip] >= 0)
        when = starts[trips.timezone[trip]] + trips.departure_s[rows]
        ok = active & (when >= at_s) & (when < at_s + horizon_s)
        found += [
            (int(w), int(r), int(t), day)
            for w, r, t in zip(when[ok], rows[ok], trip[ok], strict=True)
        ]
    found.sort()
    return [_departure(snap, when, row, trip, day) for when, row, trip, day in found[:limit]]


def list_departures_at(
    index: OpenDataIndex, stops: Sequence[int], at: dt.datetime, limit: int
) -> list[Departure]:
    """Return the next departures from any of some stops (a shared place), soonest first."""
    found = [d for stop in stops for d in list_departures(index, stop, at, limit)]
    found.sort(key=lambda d: (d.departure_at, d.trip_id))
    return found[:limit]


def service_period(snap: Snapshot) -> tuple[dt.date, dt.date] | None:
    """Return the first and last service dates of the timetable (None when it has none)."""
    days = np.flatnonzero(snap.service_active.any(axis=0))
    if len(days) == 0:
        return None
    return (
        dt.date.fromordinal(snap.first_day + int(days[0])),
        dt.date.fromordinal(snap.first_day + int(days[-1])),
    )


def _can_board(snap: Snapshot, rows: I64, trip: I64) -> npt.NDArray[np.bool_]:
    """Return whether passengers may board at each stop_time row (pickup_type is not 1)."""
    pattern = snap.trips.pattern[trip]
    position = rows - snap.trips.time_ptr[trip]
    where = snap.patterns.stop_ptr[np.maximum(pattern, 0)] + position
    return (pattern >= 0) & snap.patterns.can_board[
        np.minimum(where, len(snap.patterns.can_board) - 1)
    ]


def _departure(snap: Snapshot, when: int, row: int, trip: int, day: dt.date) -> Departure:
    """Describe one departure."""
    route = int(snap.trips.route[trip])
    zone = ZoneInfo(snap.timezones[int(snap.trips.timezone[trip])])
    return Departure(
        trip_id=snap.trips.ids[trip],
        route_id=snap.routes.ids[route] if route >= 0 else "",
        route_short_name=snap.routes.short_names[route] if route >= 0 else "",
        headsign=snap.trips.headsigns[trip],
        operator_id=snap.routes.operator_ids[route] if route >= 0 else "",
        service_day=day,
        departure_s=int(snap.trips.departure_s[row]),
        departure_at=dt.datetime.fromtimestamp(when, tz=zone),
        wheelchair_accessible=int(snap.trips.wheelchair[trip]),
        stop_index=int(row - snap.trips.time_ptr[trip]),
        stop=int(snap.trips.stop[row]),
    )
