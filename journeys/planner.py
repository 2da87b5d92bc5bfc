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
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.realtime.overlay import RealtimeOverlay
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import haversine_m, walk_duration_s
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
from journeys.patterns import Places, Rides
from journeys.raptor import Bounds, LabelPool, Network, Targets, network
from journeys.reconstruct import (
    Calls,
    Step,
    Trace,
    distance_between_m,
    summarise,
    to_itinerary,
    trace_steps,
)
from journeys.search import Access, Found, departures_in_window, run_departure
from journeys.walking import Reach, from_point, from_stops, walk_all_the_way_s


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
    #: The longest walk to the first vehicle and from the last one: None is the default
    #: (`DEFAULT_WALK_END_S`), which stretches when it would leave the traveller waiting.
    max_walk_start_s: int | None = None
    max_walk_end_s: int | None = None
    #: The longest walk between two vehicles.
    max_walk_transfer_s: int = 10 * 60


#: The longest walk to the first and from the last vehicle when a query gives none.
DEFAULT_WALK_END_S = 15 * 60
#: A departure query on default end walks whose earliest arrival leaves the traveller this
#: long idle (waiting to set off or between vehicles) is planned again with end walks up to
#: the snapshot's longest; a journey of that search arriving `SOONER_S` earlier is offered too.
STRANDED_IDLE_S = 30 * 60
SOONER_S = 15 * 60
#: Stop endpoints whose walks a planner keeps (a few kB each).
REACHES_KEPT = 8192
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
        self._rides = Rides(snapshot, self._places)
        self._labels = LabelPool()
        self._zone = ZoneInfo(snapshot.timezone)
        self._day_starts: dict[dt.date, int] = {}
        #: Per stop or place id, walk limit and direction: its walk and its place. Many
        #: queries share an endpoint, and the answer depends only on the snapshot.
        self._reaches: dict[tuple[str, int, bool], tuple[Reach, Place]] = {}
        #: Per day view (by identity; the view kept to tell a reused id): what its
        #: single-departure searches read, made once per view.
        self._networks: dict[int, tuple[DayView, Network, Bounds, Calls]] = {}

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
        """Return the Pareto-optimal itineraries, by departure (latest first for arrive-by).

        On default end walks, a departure that would leave the traveller idle for half
        an hour or more is planned again with the longest end walks; a journey arriving a
        quarter of an hour sooner that way is offered too (walking 17 minutes beats waiting
        8 hours for the next bus, and the limit was not the traveller's choice).
        """
        when = _query_time(query, self.snapshot.walking.max_walk_s)
        start_s = DEFAULT_WALK_END_S if query.max_walk_start_s is None else query.max_walk_start_s
        end_s = DEFAULT_WALK_END_S if query.max_walk_end_s is None else query.max_walk_end_s
        kept = self._search(query, when, start_s, end_s, overlay)
        if self._stranded(query, when, kept):
            longest_s = self.snapshot.walking.max_walk_s
            wide_start_s = longest_s if query.max_walk_start_s is None else start_s
            wide_end_s = longest_s if query.max_walk_end_s is None else end_s
            wide = self._search(query, when, wide_start_s, wide_end_s, overlay)
            best_s = min((j.arrival_s for j in kept), default=None)
            sooner = [j for j in wide if best_s is None or j.arrival_s <= best_s - SOONER_S]
            kept = _pareto(kept + sooner, None, query) if sooner else kept
        return [journey.build() for journey in kept]

    def _stranded(self, query: JourneyQuery, when: dt.datetime, kept: list[_Journey]) -> bool:
        """Return whether a query on a default end walk leaves the traveller long idle."""
        if query.max_walk_start_s is not None and query.max_walk_end_s is not None:
            return False
        if query.arrive_by is not None or query.window_s:
            return False
        if not kept:
            return True
        first = min(kept, key=lambda j: j.arrival_s).build()
        moving_s = sum(leg.duration_s for leg in first.legs)
        return first.arrival.timestamp() - when.timestamp() - moving_s >= STRANDED_IDLE_S

    def _search(
        self,
        query: JourneyQuery,
        when: dt.datetime,
        start_s: int,
        end_s: int,
        overlay: RealtimeOverlay | None,
    ) -> list[_Journey]:
        """Return the Pareto-optimal journeys walking at most start_s and end_s at the ends."""
        day, t0 = self._day_and_time(when)
        view = self.day_view(day, query.wheelchair, overlay)
        start, origin = self._reach(query.origin, start_s, "origin")
        end, destination = self._reach(query.destination, end_s, "destination")
        access, targets = Access(start.stops, start.walk_s), Targets(end.stops, end.walk_s)
        if origin.place_id is not None and origin.place_id == destination.place_id:
            raise InvalidQueryError("origin and destination are the same place")
        if query.arrive_by is not None:
            window = (t0 - (query.window_s or ARRIVE_BY_WINDOW_S), t0)
        else:
            window = (t0, t0 + query.window_s)
        labels = self._labels.take(query.max_transfers + 1, view.n_stops)
        net, bounds, calls = self._network(view)
        try:
            trace = Trace(
                self.snapshot,
                view,
                labels,
                targets,
                origin,
                destination,
                self._places,
                self._rides,
                calls,
                net,
                bounds,
            )
            found = self._run(trace, access, window, query)
        finally:
            self._labels.give_back(labels)
        walk = self._walk_only(origin, destination, start, end, when, max(start_s, end_s), query)
        return _pareto(found, walk, query)

    def _walk_only(
        self,
        origin: Place,
        destination: Place,
        start: Reach,
        end: Reach,
        when: dt.datetime,
        limit_s: int,
        q: JourneyQuery,
    ) -> _Journey | None:
        """Return walking all the way, when that is within `limit_s` (the longer end limit)."""
        direct_s = None
        if origin.stop_id is None and destination.stop_id is None:
            direct_m = np.asarray([distance_between_m(origin, destination)])
            direct_s = int(walk_duration_s(direct_m, self.snapshot.walking)[0])
        walk_s = walk_all_the_way_s(start, end, direct_s, limit_s)
        if walk_s is None:
            return None
        distance_m = round(distance_between_m(origin, destination), 1)
        start_at = when if q.arrive_by is None else when - dt.timedelta(seconds=walk_s)
        tz = self._zone_near(origin)
        leg = WalkLeg(
            origin,
            destination,
            start_at.astimezone(tz),
            (start_at + dt.timedelta(seconds=walk_s)).astimezone(tz),
            distance_m,
        )
        return _Journey.of(make_itinerary((leg,)))

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
        net, bounds = t.net, t.zero_bounds
        if q.arrive_by is None and window[0] == window[1]:
            departures: list[tuple[int, np.ndarray | None]] = [(window[0], None)]
        else:
            departures = list(departures_in_window(t.view, access, *window))
            # Many departures share the bounds: they pay for themselves in range queries.
            bounds = to_destination(
                t.view, foot, t.targets, 2 * t.labels.rounds, q.max_walk_transfer_s
            )
        out: list[_Journey] = []
        in_time_s: int | None = None
        for i, (departure_s, stops) in enumerate(departures):
            if in_time_s is not None and departure_s < in_time_s - ARRIVE_BY_SLACK_S:
                break
            # The first (latest) run marks every access stop: trips after the window count too.
            marked = None if i == 0 else stops
            new = run_departure(
                net, t.labels, access, departure_s, t.targets, bounds, q.max_walk_transfer_s, marked
            )
            if q.arrive_by is not None:
                new = [f for f in new if f.arrival_s <= window[1]]
                in_time_s = departure_s if in_time_s is None and new else in_time_s
            out += [_journey(t, f) for f in new]
        return out

    def _network(self, view: DayView) -> tuple[Network, Bounds, Calls]:
        """Return the arrays of a view the rounds read, its zero bounds and its calls made.

        The calls are per column of the view (one trip at one stop): a ride's
        intermediate stops are the same objects for every query that rides them.
        """
        made = self._networks.get(id(view))
        if made is None or made[0] is not view:
            calls: Calls = [None] * len(view.col_arrival_s)
            made = (view, network(view, self.snapshot.footpaths), no_bounds(view), calls)
            with self._lock:
                self._networks[id(view)] = made
                while len(self._networks) > 2 * self._cached_days:
                    del self._networks[next(iter(self._networks))]
        return made[1], made[2], made[3]

    def _day_and_time(self, when: dt.datetime) -> tuple[dt.date, int]:
        """Return the service date of a moment and its seconds on that date's axis."""
        snap = self.snapshot
        day = when.astimezone(self._zone).date()
        start = self._day_starts.get(day)
        if start is not None:  # a date planned on before: within the service period
            return day, int(when.timestamp()) - start
        n_days = snap.service_active.shape[1]
        first = dt.date.fromordinal(snap.first_day) if n_days else day
        last = first + dt.timedelta(days=max(n_days - 1, 0))
        if n_days == 0 or not first - dt.timedelta(days=1) <= day <= last + dt.timedelta(days=1):
            raise OutsideServiceError(day.isoformat(), first.isoformat(), last.isoformat())
        start = self._day_starts[day] = service_day_start(day, snap.timezone)
        return day, int(when.timestamp()) - start

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

    def _reach(self, endpoint: Endpoint, max_s: int, name: str) -> tuple[Reach, Place]:
        """Return the stops within a walk of the origin or destination, and its place."""
        outward = name == "origin"
        if isinstance(endpoint, Coordinates):
            reach = from_point(self.snapshot, endpoint.lat, endpoint.lon, max_s, outward)
            if len(reach.stops) == 0:
                walking = self.snapshot.walking
                radius_m = max_s * walking.walking_speed_mps / walking.detour_factor
                raise OutsideNetworkError(endpoint.lat, endpoint.lon, radius_m)
            return reach, Place(name, endpoint.lat, endpoint.lon)
        key = (endpoint, max_s, outward)
        made = self._reaches.get(key)
        if made is None:
            stops, place = self._stops(endpoint)
            made = from_stops(self.snapshot.footpaths, stops, max_s, outward), place
            with self._lock:
                if len(self._reaches) >= REACHES_KEPT:
                    self._reaches.clear()
                self._reaches[key] = made
        return made


def _query_time(query: JourneyQuery, max_walk_s: int) -> dt.datetime:
    """Validate the query's time and walking fields and return its reference moment."""
    if (query.depart_at is None) == (query.arrive_by is None):
        raise InvalidQueryError("give exactly one of depart_at and arrive_by")
    when = query.depart_at or query.arrive_by
    assert when is not None  # noqa: S101 - narrowed by the check above
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidQueryError("times must carry a UTC offset")
    if query.window_s < 0 or not 0 <= query.max_transfers <= 10:
        raise InvalidQueryError("window_s must be >= 0 and max_transfers in 0..10")
    walks = (query.max_walk_start_s, query.max_walk_end_s, query.max_walk_transfer_s)
    if not all(w is None or 0 <= w <= max_walk_s for w in walks):
        raise InvalidQueryError(f"walks must be between 0 and {max_walk_s // 60} minutes")
    if query.origin == query.destination:
        raise InvalidQueryError("origin and destination are the same")
    return when


class _Journey(NamedTuple):
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
    return _Journey(*summarise(t, steps), _Build(t, steps))


class _Build:
    """Builds a traced journey's itinerary at most once.

    Whether a query is stranded may build the first one early.
    """

    __slots__ = ("_made", "_steps", "_trace")

    def __init__(self, t: Trace, steps: list[Step]) -> None:
        self._trace, self._steps = t, steps
        self._made: Itinerary | None = None

    def __call__(self) -> Itinerary:
        if self._made is None:
            self._made = to_itinerary(self._trace, self._steps)
        return self._made


def _criteria(j: _Journey, arrive_by: bool) -> tuple[int, ...]:
    """Return a journey's criteria, each to minimise."""
    if arrive_by:  # arriving in time is enough: leave late, change little
        return -j.departure_s, j.transfers
    return -j.departure_s, j.arrival_s, j.transfers


def _pareto(found: list[_Journey], walk: _Journey | None, q: JourneyQuery) -> list[_Journey]:
    """Keep non-dominated journeys (one per set of criteria, the earliest arriving) in order.

    One can set off on foot at any time: a journey that takes no less than walking all
    the way is dominated by walking, leaving when it leaves.
    """
    if walk is not None:
        walk_s = walk.arrival_s - walk.departure_s
        found = [j for j in found if j.arrival_s - j.departure_s < walk_s] + [walk]
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
