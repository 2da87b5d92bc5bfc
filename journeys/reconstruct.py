"""Walk RAPTOR's labels back from the destination into the legs of an itinerary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import great_circle_m
from journeys.dayview import DayView
from journeys.itinerary import Itinerary, Leg, Place, StopCall, TransitLeg, WalkLeg, make_itinerary
from journeys.patterns import Clock, Places, Rides
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
    """What reconstruction needs besides the labels (lent for the search: legs never read them)."""

    snap: Snapshot
    view: DayView
    labels: Labels
    targets: Targets
    origin: Place
    destination: Place
    places: Places
    rides: Rides


def _rides(view: DayView, board_row: int, row: int, board_pp: int, alight_pp: int) -> list[Ride]:
    """Split a stay-seated chain of rows into one ride per trip."""
    chain = [board_row]
    while chain[-1] != row and len(chain) < 8:
        chain.append(int(view.row_next[chain[-1]]))
    rides: list[Ride] = []
    for i, r in enumerate(chain):
        route = int(view.row_route[r])
        first = board_pp if i == 0 else int(view.route_pp_start[route])
        last = alight_pp if i == len(chain) - 1 else int(view.route_pp_start[route + 1] - 1)
        rides.append(Ride(r, first, last, i > 0))
    return rides


def time_at(view: DayView, row: int, pp: int, departure: bool) -> int:
    """Return a row's arrival or departure time at a position, on the day axis."""
    route = int(view.pp_route[pp])
    col = int(view.pp_col[pp]) + row - int(view.route_row_start[route])
    return int(view.col_departure_s[col] if departure else view.col_arrival_s[col])


def _boarded_from(t: Trace, k: int, stop: int, departure_s: int) -> tuple[int, bool] | None:
    """Return (round, by transit?) of the first-round label that lets one board by `departure_s`."""
    labels, transfer_s = t.labels, int(t.snap.footpaths.transfer_s[stop])
    for j in range(k):
        if j > 0 and labels.arrival[j, stop] + transfer_s <= departure_s:
            return j, True
        if labels.walk[j, stop] <= departure_s:
            return j, False
    return None


def _walk_in_s(t: Trace, j: int, stop: int, departure_s: int) -> int:
    """Return how long the walk into a stop's walking label of round j took."""
    labels = t.labels
    if j == 0:
        return int(labels.walk[0, stop]) - departure_s
    return int(labels.walk[j, stop] - labels.arrival[j, labels.walk_from[j, stop]])


def _choose_boarding(
    t: Trace, k: int, row: int, first_pp: int, end_pp: int, departure_s: int
) -> tuple[int, int, bool]:
    """Return (position, round, by transit?) to board a row: fewest rides, least walking, latest.

    The scan boards a trip at the first position it can; any later position where the
    trip is also catchable gives the same arrival, often with less walking.
    """
    view = t.view
    best: tuple[tuple[int, int, int], int, int, bool] | None = None
    for pp in range(first_pp, end_pp):
        if not view.pp_board[pp]:
            continue
        stop = int(view.pp_stop[pp])
        found = _boarded_from(t, k, stop, time_at(view, row, pp, True))
        if found is None:
            continue
        j, by_transit = found
        walk_s = 0 if by_transit else _walk_in_s(t, j, stop, departure_s)
        cost = (j, walk_s, -pp)
        if best is None or cost < best[0]:
            best = (cost, pp, j, by_transit)
    if best is None:
        raise AssertionError("RAPTOR labels are inconsistent")
    return best[1], best[2], best[3]


def trace_steps(t: Trace, k: int, departure_s: int) -> list[Step]:
    """Return the steps of the journey arriving in round k, in travel order."""
    labels, view = t.labels, t.view
    stop = int(labels.target_stop[k])
    egress = int(t.targets.egress_s[np.flatnonzero(t.targets.stops == stop)[0]])
    arrive, by_transit = int(labels.arrival[k, stop]), True  # the destination: by vehicle
    steps: list[Step] = [Walk(stop, -1, arrive, arrive + egress)]
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
        row, board_row = int(labels.row[k, stop]), int(labels.board_row[k, stop])
        alight_pp = int(labels.alight_pp[k, stop])
        route_end = int(view.route_pp_start[view.pp_route[int(labels.board_pp[k, stop])] + 1])
        end_pp = alight_pp if row == board_row else route_end - 1
        board_pp, k, by_transit = _choose_boarding(
            t, k, board_row, int(labels.board_pp[k, stop]), end_pp, departure_s
        )
        steps += reversed(_rides(view, board_row, row, board_pp, alight_pp))
        stop = int(view.pp_stop[board_pp])
    steps.reverse()
    return _leave_late(view, steps)


def _leave_late(view: DayView, steps: list[Step]) -> list[Step]:
    """Start the walk to the first vehicle as late as still catches it (no waiting at the stop)."""
    if len(steps) > 1 and isinstance(steps[0], Walk) and isinstance(steps[1], Ride):
        walk, ride = steps[0], steps[1]
        board_s = time_at(view, ride.row, ride.from_pp, True)
        walk_s = walk.arrival_s - walk.departure_s
        steps[0] = Walk(walk.from_stop, walk.to_stop, board_s - walk_s, board_s)
    return steps


def _transit_leg(t: Trace, ride: Ride, transfer_s: int | None) -> TransitLeg:
    """Build the leg of one ride, its pattern's stops and line sliced, in its trip's zone."""
    snap, view = t.snap, t.view
    trip = int(view.row_trip[ride.row])
    clock = t.rides.clock(view.base_epoch_s, int(snap.trips.timezone[trip]))
    route = int(view.pp_route[ride.from_pp])
    first = ride.from_pp - int(view.route_pp_start[route])
    last = ride.to_pp - int(view.route_pp_start[route])
    cols = view.pp_col[ride.from_pp : ride.to_pp + 1] + ride.row - int(view.route_row_start[route])
    arrival = view.col_arrival_s[cols].tolist()
    departure = view.col_departure_s[cols].tolist()
    pattern = int(snap.trips.pattern[trip])
    stops = t.rides.stops(pattern)[first : last + 1]
    calls = tuple(
        StopCall(stops[i], clock.at(arrival[i]), clock.at(departure[i]))
        for i in range(1, len(stops) - 1)
    )
    r, line_of = snap.routes, int(snap.trips.route[trip])
    return TransitLeg(
        operator_id=r.operator_ids[line_of],
        route_id=r.ids[line_of],
        route_short_name=r.short_names[line_of],
        route_long_name=r.long_names[line_of],
        route_type=int(r.route_type[line_of]),
        trip_id=snap.trips.ids[trip],
        headsign=snap.trips.headsigns[trip],
        from_place=stops[0],
        to_place=stops[-1],
        departure=clock.at(departure[0]),
        arrival=clock.at(arrival[-1]),
        intermediate_stops=calls,
        geometry=t.rides.line(pattern, int(snap.trips.shape[trip]), first, last),
        stay_seated=ride.stay_seated,
        realtime=bool(view.row_realtime[ride.row]),
        transfer_s=None if ride.stay_seated else transfer_s,
        service_date=view.day + dt.timedelta(days=int(view.row_day[ride.row])),
    )


def _walk_clock(t: Trace, walk: Walk) -> Clock:
    """Return the clock of a walk: the zone of the stop it leaves (or reaches, from a point)."""
    stop = walk.from_stop if walk.from_stop >= 0 else walk.to_stop
    zone = -1 if stop < 0 else int(t.snap.stop_timezone[stop])
    return t.rides.clock(t.view.base_epoch_s, zone)


def _in_place(t: Trace, walk: Walk) -> bool:
    """Return whether a walk stays at one stop or at one place that operators share."""
    a = t.origin if walk.from_stop < 0 else t.places.get(walk.from_stop)
    b = t.destination if walk.to_stop < 0 else t.places.get(walk.to_stop)
    if a.stop_id is not None and a.stop_id == b.stop_id:
        return True
    return a.place_id is not None and a.place_id == b.place_id


def summarise(t: Trace, steps: list[Step]) -> tuple[int, int, int]:
    """Return (departure, arrival, transfers) of the itinerary `to_itinerary` would build.

    Epoch seconds, without building a leg: the planner ranks many journeys and builds few.
    """
    times: list[tuple[int, int]] = []
    rides = 0
    for step in steps:
        if isinstance(step, Ride):
            times.append(
                (
                    time_at(t.view, step.row, step.from_pp, True),
                    time_at(t.view, step.row, step.to_pp, False),
                )
            )
            rides += not step.stay_seated
            continue
        if not _in_place(t, step):
            times.append((step.departure_s, step.arrival_s))
    base = t.view.base_epoch_s
    return base + times[0][0], base + times[-1][1], max(0, rides - 1)


def to_itinerary(t: Trace, steps: list[Step]) -> Itinerary:
    """Turn traced steps into an itinerary with places and aware datetimes.

    A walk within one place (the copies of a stop that several operators publish) is
    no leg: the next ride says it is a change there, and how long the change needs.
    """
    legs: list[Leg] = []
    transfer_s: int | None = None
    for step in steps:
        if isinstance(step, Ride):
            if transfer_s is None and legs and isinstance(legs[-1], TransitLeg):
                transfer_s = int(t.snap.footpaths.transfer_s[t.view.pp_stop[step.from_pp]])
            legs.append(_transit_leg(t, step, transfer_s))
            transfer_s = None
            continue
        if _in_place(t, step):
            transfer_s = step.arrival_s - step.departure_s if legs else None
            continue
        a = t.origin if step.from_stop < 0 else t.places.get(step.from_stop)
        b = t.destination if step.to_stop < 0 else t.places.get(step.to_stop)
        clock = _walk_clock(t, step)
        when = clock.at(step.departure_s), clock.at(step.arrival_s)
        legs.append(WalkLeg(a, b, *when, distance_m=round(distance_between_m(a, b), 1)))
    return make_itinerary(tuple(legs))


def distance_between_m(a: Place, b: Place) -> float:
    """Return the great-circle distance between two places."""
    return great_circle_m(a.lat, a.lon, b.lat, b.lon)
