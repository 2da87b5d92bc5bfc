"""Walk RAPTOR's labels back from the destination into the legs of an itinerary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.snapshot import Snapshot
from journeys.dayview import DayView
from journeys.itinerary import Itinerary, Leg, Place, StopCall, TransitLeg, WalkLeg, make_itinerary
from journeys.raptor import Labels, Targets


@dataclass(frozen=True, slots=True)
class Ride:
    """A stretch of one row (trip run) from one position to a later one."""

    row: int
    from_pp: int
    to_pp: int
    stay_seated: bool


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk between stops (-1: the query's origin or destination place), times on the day axis."""

    from_stop: int
    to_stop: int
    departure_s: int
    arrival_s: int


Step = Ride | Walk


@dataclass(frozen=True, slots=True)
class Trace:
    """What reconstruction needs besides the labels."""

    snap: Snapshot
    view: DayView
    labels: Labels
    targets: Targets
    origin: Place
    destination: Place


def _rides(view: DayView, board_row: int, row: int, board_pp: int, alight_pp: int) -> list[Ride]:
    """Split a stay-seated chain of rows into one ride per trip."""
    chain = [board_row]
    while chain[-1] != row and len(chain) < 8:
        chain.append(int(view.row_next[chain[-1]]))
    rides: list[Ride] = []
    for i, r in enumerate(chain):
        route = int(np.searchsorted(view.route_row_start, r, side="right") - 1)
        first = board_pp if i == 0 else int(view.route_pp_start[route])
        last = alight_pp if i == len(chain) - 1 else int(view.route_pp_start[route + 1] - 1)
        rides.append(Ride(r, first, last, i > 0))
    return rides


def time_at(view: DayView, row: int, pp: int, departure: bool) -> int:
    """Return a row's arrival or departure time at a position, on the day axis."""
    route = int(view.pp_route[pp])
    col = int(view.pp_col[pp]) + row - int(view.route_row_start[route])
    return int(view.col_departure_s[col] if departure else view.col_arrival_s[col])


def _boarded_from(t: Trace, k: int, stop: int, departure_s: int) -> tuple[int, bool]:
    """Return (round, by transit?) of the label that let one board at `stop` by `departure_s`."""
    labels, transfer_s = t.labels, int(t.snap.footpaths.transfer_s[stop])
    for j in range(k):
        if j > 0 and labels.arrival[j, stop] + transfer_s <= departure_s:
            return j, True
        if labels.walk[j, stop] <= departure_s:
            return j, False
    raise AssertionError("RAPTOR labels are inconsistent")


def trace_steps(t: Trace, k: int, departure_s: int) -> list[Step]:
    """Return the steps of the journey arriving in round k, in travel order."""
    labels, view = t.labels, t.view
    stop = int(labels.target_stop[k])
    egress = int(t.targets.egress_s[np.flatnonzero(t.targets.stops == stop)[0]])
    by_transit = k > 0 and labels.arrival[k, stop] + egress == labels.target[k]
    steps: list[Step] = []
    if not t.targets.exact:
        arrive = int(labels.arrival[k, stop] if by_transit else labels.walk[k, stop])
        steps.append(Walk(stop, -1, arrive, arrive + egress))
    while True:
        if not by_transit:
            if k == 0:
                arrive = int(labels.walk[0, stop])
                steps.append(Walk(-1, stop, min(departure_s, arrive), arrive))
                break
            came = int(labels.walk_from[k, stop])
            steps.append(Walk(came, stop, int(labels.arrival[k, came]), int(labels.walk[k, stop])))
            stop, by_transit = came, True
            continue
        board_pp = int(labels.board_pp[k, stop])
        board_row = int(labels.board_row[k, stop])
        rides = _rides(
            view, board_row, int(labels.row[k, stop]), board_pp, int(labels.alight_pp[k, stop])
        )
        steps += reversed(rides)
        stop = int(view.pp_stop[board_pp])
        k, by_transit = _boarded_from(t, k, stop, time_at(view, board_row, board_pp, True))
    return list(reversed(steps))


def _place(snap: Snapshot, stop: int) -> Place:
    """Return the place of a stop."""
    s = snap.stops
    return Place(
        s.names[stop], float(s.lat[stop]), float(s.lon[stop]), s.ids[stop], s.operator_ids[stop]
    )


def _geometry(snap: Snapshot, trip: int, a: Place, b: Place) -> tuple[tuple[float, float], ...]:
    """Return the trip's shape between two stops (nearest shape points), or () without a shape."""
    shape = int(snap.trips.shape[trip])
    if shape < 0:
        return ()
    lo, hi = int(snap.shapes.ptr[shape]), int(snap.shapes.ptr[shape + 1])
    lat, lon = snap.shapes.lat[lo:hi], snap.shapes.lon[lo:hi]
    scale = np.cos(np.radians(a.lat))
    i = int(np.argmin((lat - a.lat) ** 2 + ((lon - a.lon) * scale) ** 2))
    j = i + int(np.argmin((lat[i:] - b.lat) ** 2 + ((lon[i:] - b.lon) * scale) ** 2))
    return tuple(zip(lat[i : j + 1].tolist(), lon[i : j + 1].tolist(), strict=True))


def _transit_leg(t: Trace, ride: Ride, when: dt.datetime, tz: ZoneInfo) -> TransitLeg:
    """Build the leg of one ride."""
    snap, view = t.snap, t.view
    trip = int(view.row_trip[ride.row])
    route = int(snap.trips.route[trip])

    def at(pp: int, departure: bool) -> dt.datetime:
        return when + dt.timedelta(seconds=time_at(view, ride.row, pp, departure))

    calls = tuple(
        StopCall(_place(snap, int(view.pp_stop[pp])), at(pp, False), at(pp, True))
        for pp in range(ride.from_pp + 1, ride.to_pp)
    )
    a, b = (
        _place(snap, int(view.pp_stop[ride.from_pp])),
        _place(snap, int(view.pp_stop[ride.to_pp])),
    )
    r = snap.routes
    return TransitLeg(
        operator_id=r.operator_ids[route],
        route_id=r.ids[route],
        route_short_name=r.short_names[route],
        route_long_name=r.long_names[route],
        route_type=int(r.route_type[route]),
        trip_id=snap.trips.ids[trip],
        headsign=snap.trips.headsigns[trip],
        from_place=a,
        to_place=b,
        departure=at(ride.from_pp, True).astimezone(tz),
        arrival=at(ride.to_pp, False).astimezone(tz),
        intermediate_stops=calls,
        geometry=_geometry(snap, trip, a, b),
        stay_seated=ride.stay_seated,
        realtime=bool(view.row_realtime[ride.row]),
    )


def to_itinerary(t: Trace, steps: list[Step]) -> Itinerary:
    """Turn traced steps into an itinerary with places and aware datetimes."""
    tz = ZoneInfo(t.snap.timezone)
    base = dt.datetime.fromtimestamp(t.view.base_epoch_s, tz=dt.UTC)
    legs: list[Leg] = []
    for step in steps:
        if isinstance(step, Ride):
            legs.append(_transit_leg(t, step, base, tz))
            continue
        a = t.origin if step.from_stop < 0 else _place(t.snap, step.from_stop)
        b = t.destination if step.to_stop < 0 else _place(t.snap, step.to_stop)
        if a.stop_id is not None and a.stop_id == b.stop_id:
            continue
        distance_m = _distance_m(a, b)
        legs.append(
            WalkLeg(
                a,
                b,
                (base + dt.timedelta(seconds=step.departure_s)).astimezone(tz),
                (base + dt.timedelta(seconds=step.arrival_s)).astimezone(tz),
                distance_m,
            )
        )
    return make_itinerary(tuple(legs))


def _distance_m(a: Place, b: Place) -> float:
    """Return the straight-line distance between two places."""
    from gtfs.snapshot_footpaths import haversine_m

    d = haversine_m(np.array([a.lat]), np.array([a.lon]), np.array([b.lat]), np.array([b.lon]))
    return round(float(d[0]), 1)
