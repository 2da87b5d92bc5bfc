"""The planner's entry point: resolve a query on one snapshot, return Pareto-optimal itineraries.

`Planner` wraps one immutable snapshot and caches the compiled timetable of
each service date (per wheelchair flag and realtime overlay object), so a
query does no compilation work once its date is warm. Results are the Pareto
set over (departure later, arrival earlier, fewer transfers); for arrive-by,
over (departure later, fewer transfers) among the journeys arriving in time.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.realtime.overlay import RealtimeOverlay
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import expand_ranges, haversine_m, walk_duration_s
from gtfs.snapshot.service import service_day_start
from journeys.bounds import no_bounds, to_destination
from journeys.dayview import DayView, build_day_view
from journeys.errors import (
    InvalidQueryError,
    OutsideNetworkError,
    OutsideServiceError,
    UnknownStopError,
)
from journeys.itinerary import Itinerary, Place, WalkLeg, make_itinerary
from journeys.raptor import Labels, Targets, network
from journeys.reconstruct import (
    Places,
    Trace,
    distance_between_m,
    summarise,
    to_itinerary,
    trace_steps,
)
from journeys.search import Access, Found, departures_in_window, run_departure


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A point given by latitude and longitude (WGS 84 degrees)."""

    lat: float
    lon: float


Endpoint = str | Coordinates


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    """A journey request: exactly one of `depart_at` / `arrive_by`, an aware datetime."""

    origin: Endpoint
    destination: Endpoint
    depart_at: dt.datetime | None = None
    arrive_by: dt.datetime | None = None
    window_s: int = 0
    max_transfers: int = 5
    wheelchair: bool = False
    limit: int = 10
    access_radius_m: float = 600.0


#: How far before `arrive_by` an arrive-by query looks for departures when no window is given.
ARRIVE_BY_WINDOW_S = 3 * 3600
#: After the latest departure arriving in time, how much earlier arrive-by still looks.
ARRIVE_BY_SLACK_S = 30 * 60


class Planner:
    """Plans journeys on one snapshot; safe to share between concurrent requests."""

    def __init__(self, snapshot: Snapshot, cached_days: int = 6) -> None:
        """Bind the planner to a snapshot; day views are compiled on first use."""
        self.snapshot = snapshot
        self._cached_days = cached_days
        self._views: OrderedDict[tuple[dt.date, bool, bool], tuple[DayView, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._places = Places(snapshot)

    def day_view(
        self, day: dt.date, wheelchair: bool = False, overlay: RealtimeOverlay | None = None
    ) -> DayView:
        """Return the compiled timetable of a service date, with the overlay applied.

        One view is kept per date, accessibility and with/without realtime: a new overlay
        object (realtime swaps in a new one on every update) replaces the previous one.
        """
        live = overlay if overlay else None
        key = (day, wheelchair, live is not None)
        with self._lock:
            hit = self._views.get(key)
            if hit is not None and hit[1] is live:
                self._views.move_to_end(key)
                return hit[0]
        view = build_day_view(self.snapshot, day, live, wheelchair)
        with self._lock:
            self._views[key] = (view, live)
            self._views.move_to_end(key)
            while len(self._views) > self._cached_days:
                self._views.popitem(last=False)
        return view

    def plan(self, query: JourneyQuery, overlay: RealtimeOverlay | None = None) -> list[Itinerary]:
        """Return the Pareto-optimal itineraries, by departure (latest first for arrive-by)."""
        when = _query_time(query)
        day, t0 = self._day_and_time(when)
        view = self.day_view(day, query.wheelchair, overlay)
        access, origin = self._access(query.origin, query)
        targets, destination = self._targets(query.destination, query)
        if origin.place_id is not None and origin.place_id == destination.place_id:
            raise InvalidQueryError("origin and destination are the same place")
        labels = Labels.empty(query.max_transfers + 1, view.n_stops)
        trace = Trace(self.snapshot, view, labels, targets, origin, destination, self._places)
        if query.arrive_by is not None:
            window = (t0 - (query.window_s or ARRIVE_BY_WINDOW_S), t0)
        else:
            window = (t0, t0 + query.window_s)
        found = self._run(trace, access, window, query)
        if not targets.exact:
            found += [_Journey.of(i) for i in self._walk_only(origin, destination, when, query)]
        return [journey.build() for journey in _pareto(found, query)]

    def _walk_only(
        self, origin: Place, destination: Place, when: dt.datetime, q: JourneyQuery
    ) -> list[Itinerary]:
        """Return walking all the way, when the destination is within the access radius."""
        distance_m = round(distance_between_m(origin, destination), 1)
        if distance_m > q.access_radius_m:
            return []
        walk_s = int(walk_duration_s(np.asarray([distance_m]), self.snapshot.walking)[0])
        start = when if q.arrive_by is None else when - dt.timedelta(seconds=walk_s)
        tz = self._zone_near(origin)
        leg = WalkLeg(
            origin,
            destination,
            start.astimezone(tz),
            (start + dt.timedelta(seconds=walk_s)).astimezone(tz),
            distance_m,
        )
        return [make_itinerary((leg,))]

    def _zone_near(self, place: Place) -> ZoneInfo:
        """Return the time zone of the stop nearest to a place (the network's if none)."""
        s = self.snapshot.stops
        if len(s.lat) == 0:
            return ZoneInfo(self.snapshot.timezone)
        distance_m = haversine_m(
            np.full(len(s.lat), place.lat), np.full(len(s.lon), place.lon), s.lat, s.lon
        )
        nearest = int(np.nanargmin(distance_m))
        return ZoneInfo(self.snapshot.timezones[int(self.snapshot.stop_timezone[nearest])])

    def _run(
        self, t: Trace, access: Access, window: tuple[int, int], q: JourneyQuery
    ) -> list[_Journey]:
        """Run one departure, or every departure of the window latest first (rRAPTOR).

        Arrive-by stops a while after the latest departure that arrives in time: long
        enough to also find the journeys with fewer transfers that leave a little earlier.
        """
        foot = self.snapshot.footpaths
        net = network(t.view, foot)
        if q.arrive_by is None and window[0] == window[1]:
            departures: list[tuple[int, np.ndarray | None]] = [(window[0], None)]
            bounds = no_bounds(t.view)
        else:
            departures = list(departures_in_window(t.view, access, *window))
            # Many departures share the bounds: they pay for themselves in range queries.
            bounds = to_destination(t.view, foot, t.targets, 2 * t.labels.rounds)
        out: list[_Journey] = []
        in_time_s: int | None = None
        for i, (departure_s, stops) in enumerate(departures):
            if in_time_s is not None and departure_s < in_time_s - ARRIVE_BY_SLACK_S:
                break
            # The first (latest) run marks every access stop: trips after the window count too.
            new = run_departure(
                net, t.labels, access, departure_s, t.targets, bounds, None if i == 0 else stops
            )
            if q.arrive_by is not None:
                new = [f for f in new if f.arrival_s <= window[1]]
                in_time_s = departure_s if in_time_s is None and new else in_time_s
            elif i < len(departures) - 1:
                new = [f for f in new if f.round > 0]  # walking alone: once, from the start
            out += [_journey(t, f) for f in new]
        return out

    def _day_and_time(self, when: dt.datetime) -> tuple[dt.date, int]:
        """Return the service date of a moment and its seconds on that date's axis."""
        snap = self.snapshot
        local = when.astimezone(ZoneInfo(snap.timezone))
        day = local.date()
        n_days = snap.service_active.shape[1]
        first = dt.date.fromordinal(snap.first_day) if n_days else day
        last = first + dt.timedelta(days=max(n_days - 1, 0))
        if n_days == 0 or not first - dt.timedelta(days=1) <= day <= last + dt.timedelta(days=1):
            raise OutsideServiceError(day.isoformat(), first.isoformat(), last.isoformat())
        return day, int(when.timestamp()) - service_day_start(day, snap.timezone)

    def _stops(self, stop_id: str) -> tuple[np.ndarray, Place]:
        """Return the stops of a stop id or shared place id, and its place (or raise)."""
        snap = self.snapshot
        index = snap.stops.index.get(stop_id)
        if index is not None:
            return snap.places.same_place(index).astype(np.int64), self._places.get(index)
        place = snap.places.index.get(stop_id)
        if place is None:
            raise UnknownStopError(stop_id)
        members = snap.places.members_of(place).astype(np.int64)
        first = self._places.get(int(members[0]))
        return members, Place(first.name, first.lat, first.lon, place_id=stop_id)

    def _nearby(self, point: Coordinates, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (stops, walking seconds) within the radius of a point, or raise if none."""
        s = self.snapshot.stops
        distance_m = haversine_m(
            np.full(len(s.lat), point.lat), np.full(len(s.lon), point.lon), s.lat, s.lon
        )
        near = np.flatnonzero(distance_m <= radius_m)
        if len(near) == 0:
            raise OutsideNetworkError(point.lat, point.lon, radius_m)
        return near.astype(np.int64), walk_duration_s(distance_m[near], self.snapshot.walking)

    def _access(self, origin: Endpoint, q: JourneyQuery) -> tuple[Access, Place]:
        """Return where the journey may start and the origin's place."""
        if isinstance(origin, Coordinates):
            stops, walk_s = self._nearby(origin, q.access_radius_m)
            return Access(stops, walk_s), Place("origin", origin.lat, origin.lon)
        stops, place = self._stops(origin)
        foot = self.snapshot.footpaths
        lo, hi = foot.ptr[stops], foot.ptr[stops + 1]
        _, flat = expand_ranges(lo.astype(np.int64), (hi - lo).astype(np.int64))
        reach = np.concatenate([stops, foot.to_stop[flat]])
        walk_s = np.concatenate([np.zeros(len(stops)), foot.duration_s[flat]])
        return Access(*_fastest(reach, walk_s)), place

    def _targets(self, destination: Endpoint, q: JourneyQuery) -> tuple[Targets, Place]:
        """Return where the journey may end and the destination's place."""
        if isinstance(destination, Coordinates):
            stops, walk_s = self._nearby(destination, q.access_radius_m)
            return Targets(stops, walk_s, False), Place(
                "destination", destination.lat, destination.lon
            )
        stops, place = self._stops(destination)
        return Targets(stops, np.zeros(len(stops), dtype=np.int64), True), place


def _fastest(stops: np.ndarray, walk_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each stop once, with its shortest walk."""
    order = np.lexsort((walk_s, stops))
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = stops[order][1:] != stops[order][:-1]
    keep = order[first]
    return stops[keep].astype(np.int64), walk_s[keep].astype(np.int64)


def _query_time(query: JourneyQuery) -> dt.datetime:
    """Validate the query's time fields and return its reference moment."""
    if (query.depart_at is None) == (query.arrive_by is None):
        raise InvalidQueryError("give exactly one of depart_at and arrive_by")
    when = query.depart_at or query.arrive_by
    assert when is not None  # noqa: S101 - narrowed by the check above
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidQueryError("times must carry a UTC offset")
    if query.window_s < 0 or not 0 <= query.max_transfers <= 10:
        raise InvalidQueryError("window_s must be >= 0 and max_transfers in 0..10")
    if query.origin == query.destination:
        raise InvalidQueryError("origin and destination are the same")
    return when


@dataclass(frozen=True, slots=True)
class _Journey:
    """A journey found, ranked by its summary; the itinerary is built only if it is kept."""

    departure_s: int
    arrival_s: int
    transfers: int
    build: Callable[[], Itinerary]

    @staticmethod
    def of(itinerary: Itinerary) -> _Journey:
        """Wrap an itinerary that is built already."""
        return _Journey(
            int(itinerary.departure.timestamp()),
            int(itinerary.arrival.timestamp()),
            itinerary.transfers,
            lambda: itinerary,
        )


def _journey(t: Trace, found: Found) -> _Journey:
    """Trace an improved destination label now (the labels change), build its itinerary later."""
    steps = trace_steps(t, found.round, found.departure_s)
    return _Journey(*summarise(t, steps), partial(to_itinerary, t, steps))


def _criteria(j: _Journey, arrive_by: bool) -> tuple[int, ...]:
    """Return a journey's criteria, each to minimise."""
    if arrive_by:  # arriving in time is enough: leave late, change little
        return -j.departure_s, j.transfers
    return -j.departure_s, j.arrival_s, j.transfers


def _pareto(found: list[_Journey], q: JourneyQuery) -> list[_Journey]:
    """Keep non-dominated journeys (one per set of criteria, the earliest arriving) in order."""
    arrive_by = q.arrive_by is not None
    best: dict[tuple[int, ...], _Journey] = {}
    for j in sorted(found, key=lambda j: j.arrival_s):
        best.setdefault(_criteria(j, arrive_by), j)
    kept = [
        j
        for c, j in best.items()
        if not any(all(x <= y for x, y in zip(o, c, strict=True)) for o in best if o != c)
    ]
    kept.sort(key=lambda j: (j.departure_s, j.arrival_s, j.transfers), reverse=arrive_by)
    return kept[: q.limit]
