"""Walk RAPTOR's labels back from the destination into the legs of an itinerary."""

from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from gtfs.compiled import compiled
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import great_circle_m
from journeys import bounds, raptor
from journeys.dayview import DayView
from journeys.itinerary import Itinerary, Leg, Place, StopCall, TransitLeg, WalkLeg, make_itinerary
from journeys.patterns import Clock, Places, Rides
from journeys.raptor import Labels, Targets

I64 = npt.NDArray[np.int64]


class Ride(NamedTuple):
    """A stretch of one row (trip run) from one position to a later one."""

    row: int
    from_pp: int
    to_pp: int
    stay_seated: bool


class Walk(NamedTuple):
    """A walk between stops (-1: the query's origin or destination place), times on the day axis."""

    from_stop: int
    to_stop: int
    departure_s: int
    arrival_s: int


Step = Ride | Walk
#: A leg's departure and arrival in ISO 8601 (what its itinerary's id digests).
Stamps = tuple[str, str]
#: Per column of a day view (a trip's call at a stop): its `StopCall`, made on first use.
Calls = list[StopCall | None]


class Trace(NamedTuple):
    """What reconstruction needs besides the labels (lent for the search: legs never read them)."""

    snap: Snapshot
    view: DayView
    labels: Labels
    targets: Targets
    origin: Place
    destination: Place
    places: Places
    rides: Rides
    calls: Calls
    net: raptor.Network
    zero_bounds: raptor.Bounds


def time_at(view: DayView, row: int, pp: int, departure: bool) -> int:
    """Return a row's arrival or departure time at a position, on the day axis."""
    route = int(view.pp_route[pp])
    col = int(view.pp_col[pp]) + row - int(view.route_row_start[route])
    return int(view.col_departure_s[col] if departure else view.col_arrival_s[col])


#: The longest chain of stay-seated rows traced as one vehicle ride.
MAX_CHAIN = 8


def trace_steps(t: Trace, k: int, departure_s: int) -> list[Step]:
    """Return the steps of the journey arriving in round k, in travel order."""
    kernel()
    view, labels = t.view, t.labels
    steps = _trace(
        (
            view.route_pp_start,
            view.route_row_start,
            view.row_route,
            view.row_next,
            view.pp_route,
            view.pp_stop,
            view.pp_board,
            view.pp_col,
            view.col_departure_s,
        ),
        tuple(labels),
        t.snap.footpaths.transfer_s,
        t.targets.stops,
        t.targets.egress_s,
        k,
        departure_s,
    )
    return [
        Ride(a, b, c, bool(d)) if kind == 0 else Walk(a, b, c, d)
        for kind, a, b, c, d in steps.tolist()
    ]


@functools.cache
def kernel() -> None:
    """Compile the tracer once per process (see `journeys.raptor.kernels`)."""
    global _trace
    _trace = compiled(_trace)


def warm_up() -> None:
    """Compile the rounds, the footpaths and the tracer, or load them from the disk cache."""
    raptor.warm_up()
    bounds.warm_up()
    kernel()
    z = np.zeros(2, dtype=np.int64)
    labels = Labels.empty(1, 1)
    net = (z, z, z, z, z, z, np.zeros(2, dtype=np.bool_), z, z)
    with contextlib.suppress(AssertionError):  # labels of nothing: compiled all the same
        _trace(net, tuple(labels), np.zeros(1, dtype=np.int32), z[:1], z[:1], 0, 0)


def _trace(  # noqa: C901 - one compiled body, as the rounds
    net: tuple[Any, ...],
    labels: tuple[I64, ...],
    transfer_s: npt.NDArray[np.int32],
    target_stops: I64,
    egress_s: I64,
    k: int,
    departure_s: int,
) -> I64:
    """Return the steps (kind 0 ride: row, from, to, seated; 1 walk: from, to, times) in order.

    From the destination back: a vehicle label leads to the row ridden and where it was
    boarded, chosen among the positions where the row is catchable by the fewest rides,
    the least walking and then the latest position (the scan boards at the first one it
    can; any later one where the trip is also catchable gives the same arrival); a
    walking label leads to the stop walked from.
    """
    (
        route_pp_start,
        route_row_start,
        row_route,
        row_next,
        pp_route,
        pp_stop,
        pp_board,
        pp_col,
        col_departure_s,
    ) = net
    arrival, walk, _, _, board_pp_of, board_row_of, alight_pp_of, walk_from = labels[:8]
    row_of, target_stop = labels[3], labels[9]
    out = np.empty(((k + 1) * (MAX_CHAIN + 1) + 2, 5), dtype=np.int64)
    n = 0
    stop = target_stop[k]
    egress = 0
    for i in range(len(target_stops)):
        if target_stops[i] == stop:
            egress = egress_s[i]
            break
    arrive = arrival[k, stop]
    out[n, 0] = 1
    out[n, 1] = stop
    out[n, 2] = -1
    out[n, 3] = arrive
    out[n, 4] = arrive + egress
    n += 1
    by_transit = True
    chain = np.empty(MAX_CHAIN, dtype=np.int64)
    while True:
        if not by_transit:
            if k == 0:
                arrive = walk[0, stop]
                out[n, 0] = 1
                out[n, 1] = -1
                out[n, 2] = stop
                out[n, 3] = min(departure_s, arrive)
                out[n, 4] = arrive
                n += 1
                break
            came = walk_from[k, stop]
            out[n, 0] = 1
            out[n, 1] = came
            out[n, 2] = stop
            out[n, 3] = arrival[k, came]
            out[n, 4] = walk[k, stop]
            n += 1
            stop, by_transit = came, True
            continue
        row, board_row = row_of[k, stop], board_row_of[k, stop]
        alight_pp, first_pp = alight_pp_of[k, stop], board_pp_of[k, stop]
        route_end = route_pp_start[pp_route[first_pp] + 1]
        end_pp = alight_pp if row == board_row else route_end - 1
        # Where to board the first row of the chain: fewest rides, least walking, latest.
        best_j, best_walk, best_pp, best_transit = -1, 0, -1, False
        for pp in range(first_pp, end_pp):
            if not pp_board[pp]:
                continue
            s = pp_stop[pp]
            leave = col_departure_s[pp_col[pp] + board_row - route_row_start[pp_route[pp]]]
            j, transit = -1, False
            for jj in range(k):
                if jj > 0 and arrival[jj, s] + transfer_s[s] <= leave:
                    j, transit = jj, True
                    break
                if walk[jj, s] <= leave:
                    j = jj
                    break
            if j < 0:
                continue
            walk_s = 0
            if not transit:
                walk_s = (
                    walk[0, s] - departure_s if j == 0 else walk[j, s] - arrival[j, walk_from[j, s]]
                )
            if (
                best_j < 0
                or j < best_j
                or (j == best_j and (walk_s < best_walk or (walk_s == best_walk and pp > best_pp)))
            ):
                best_j, best_walk, best_pp, best_transit = j, walk_s, pp, transit
        if best_j < 0:
            raise AssertionError("RAPTOR labels are inconsistent")
        # The rows of a stay-seated chain, one ride each, last first.
        n_chain = 1
        chain[0] = board_row
        while chain[n_chain - 1] != row and n_chain < MAX_CHAIN:
            chain[n_chain] = row_next[chain[n_chain - 1]]
            n_chain += 1
        for i in range(n_chain - 1, -1, -1):
            r = chain[i]
            route = row_route[r]
            first = best_pp if i == 0 else route_pp_start[route]
            last = alight_pp if i == n_chain - 1 else route_pp_start[route + 1] - 1
            out[n, 0] = 0
            out[n, 1] = r
            out[n, 2] = first
            out[n, 3] = last
            out[n, 4] = 1 if i > 0 else 0
            n += 1
        k, by_transit = best_j, best_transit
        stop = pp_stop[best_pp]
    steps = out[:n][::-1].copy()
    # Set off as late as still catches the first vehicle (no waiting at the stop).
    if n > 1 and steps[0, 0] == 1 and steps[1, 0] == 0:
        r, pp = steps[1, 1], steps[1, 2]
        board_s = col_departure_s[pp_col[pp] + r - route_row_start[pp_route[pp]]]
        walk_s = steps[0, 4] - steps[0, 3]
        steps[0, 3], steps[0, 4] = board_s - walk_s, board_s
    return steps


def _transit_leg(t: Trace, ride: Ride, transfer_s: int | None) -> tuple[TransitLeg, Stamps]:
    """Build the leg of one ride, its pattern's stops and line sliced, in its trip's zone."""
    view = t.view
    row, from_pp, to_pp = ride.row, ride.from_pp, ride.to_pp
    trip = t.rides.trip(int(view.row_trip[row]))
    clock = t.rides.clock(view.base_epoch_s, trip.zone)
    route = int(view.pp_route[from_pp])
    route_pp = int(view.route_pp_start[route])
    first, last = from_pp - route_pp, to_pp - route_pp
    at = view.pp_col[from_pp : to_pp + 1] + (row - int(view.route_row_start[route]))
    cols = at.tolist()
    stops = t.rides.stops(trip.pattern)[first : last + 1]
    made = t.calls
    inner = cols[1:-1]
    for col in inner:
        if made[col] is None:
            arrival = view.col_arrival_s[at].tolist()
            departure = view.col_departure_s[at].tolist()
            for i in range(1, len(cols) - 1):
                if made[cols[i]] is None:
                    made[cols[i]] = StopCall(stops[i], clock.at(arrival[i]), clock.at(departure[i]))
            break
    calls = cast("tuple[StopCall, ...]", tuple([made[col] for col in inner]))
    leave_s, reach_s = int(view.col_departure_s[cols[0]]), int(view.col_arrival_s[cols[-1]])
    leg = TransitLeg(
        trip.operator_id,
        trip.route_id,
        trip.route_short_name,
        trip.route_long_name,
        trip.route_type,
        trip.trip_id,
        trip.headsign,
        stops[0],
        stops[-1],
        clock.at(leave_s),
        clock.at(reach_s),
        calls,
        t.rides.line(trip.pattern, trip.shape, first, last),
        ride.stay_seated,
        bool(view.row_realtime[row]),
        None if ride.stay_seated else transfer_s,
        t.rides.service_date(view.day, int(view.row_day[row])),
    )
    return leg, (clock.iso(leave_s), clock.iso(reach_s))


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
    stamps: list[Stamps] = []
    transfer_s: int | None = None
    for step in steps:
        if isinstance(step, Ride):
            if transfer_s is None and legs and isinstance(legs[-1], TransitLeg):
                transfer_s = int(t.snap.footpaths.transfer_s[t.view.pp_stop[step.from_pp]])
            leg, stamp = _transit_leg(t, step, transfer_s)
            legs.append(leg)
            stamps.append(stamp)
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
        stamps.append((clock.iso(step.departure_s), clock.iso(step.arrival_s)))
    return make_itinerary(tuple(legs), stamps)


def distance_between_m(a: Place, b: Place) -> float:
    """Return the great-circle distance between two places."""
    return great_circle_m(a.lat, a.lon, b.lat, b.lon)
