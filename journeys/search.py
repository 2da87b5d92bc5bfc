"""One RAPTOR run per departure time, and the departures of a window for range (rRAPTOR) queries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.snapshot_footpaths import Footpaths
from journeys.bounds import Bounds
from journeys.dayview import KEY_SPAN, TIME_OFFSET, DayView
from journeys.raptor import (
    Labels,
    Targets,
    concat_candidates,
    expand_ranges,
    improve_arrivals,
    relax_transfers,
    scan_routes,
    seated_continuations,
    target_arrival,
)

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Access:
    """Where a journey may start: stops with the walk to them (0 for the origin stop itself)."""

    stops: I64
    access_s: I64


@dataclass(frozen=True, slots=True)
class Found:
    """A destination label that improved: departure of the run, round, arrival."""

    departure_s: int
    round: int
    arrival_s: int


def row_routes(view: DayView) -> I64:
    """Return the route of every row of the view."""
    counts = np.diff(view.route_row_start)
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _start(labels: Labels, access: Access, departure_s: int, targets: Targets) -> list[Found]:
    """Write round 0 (walking from the origin) and report the destination if walking reaches it."""
    times = departure_s + access.access_s
    labels.walk[0, access.stops] = times
    labels.ready[0, access.stops] = times
    labels.walk_from[0, access.stops] = -1
    arrival, stop = target_arrival(labels, 0, targets)
    if arrival < labels.target[0]:
        labels.target[0], labels.target_stop[0] = arrival, stop
        return [Found(departure_s, 0, arrival)]
    return []


def run_departure(
    view: DayView,
    foot: Footpaths,
    labels: Labels,
    access: Access,
    departure_s: int,
    targets: Targets,
    row_route: I64,
    bounds: Bounds,
    marked: I64 | None = None,
) -> list[Found]:
    """Run RAPTOR rounds for one departure on top of the labels; return improved destinations.

    `bounds` bound the rest of the journey (zeros: prune on the destination's own label
    only); `marked` restricts the first round to some access stops (default: all of them).
    """
    found = _start(labels, access, departure_s, targets)
    ready_best = labels.ready[0].copy()
    arrival_bound = labels.arrival[0].copy()
    marked = np.unique(access.stops) if marked is None else marked
    for k in range(1, labels.rounds + 1):
        np.minimum(arrival_bound, labels.arrival[k], out=arrival_bound)
        # Whatever cannot beat the destination's best even at the bound is dropped.
        best = int(labels.target[: k + 1].min())
        limit = np.minimum(arrival_bound, best - bounds.arrive_s)
        scanned = scan_routes(view, ready_best, marked, limit, best - bounds.board_s)
        if scanned is None:
            break
        arrivals, ends = scanned
        seated = seated_continuations(view, ends, row_route, limit)
        candidates = arrivals if seated is None else concat_candidates([arrivals, seated])
        stops = improve_arrivals(labels, k, candidates)
        if len(stops) == 0:
            break
        marked = relax_transfers(labels, k, stops, foot, np.minimum(ready_best, labels.ready[k]))
        np.minimum(ready_best, labels.ready[k], out=ready_best)
        arrival, stop = target_arrival(labels, k, targets)
        best = int(labels.target[: k + 1].min())
        if arrival < best:
            labels.target[k], labels.target_stop[k] = arrival, stop
            found.append(Found(departure_s, k, arrival))
            best = arrival
        marked = marked[ready_best[marked] + bounds.arrive_s[marked] < best]
    return found


def departures_in_window(
    view: DayView, access: Access, first_s: int, last_s: int
) -> list[tuple[int, I64]]:
    """Return the distinct times to leave the origin and catch a vehicle, latest first.

    Each time comes with the access stops where a vehicle is caught by leaving then: in a
    range query, only those stops offer a trip the later departures did not.
    """
    counts = view.stop_pp_ptr[access.stops + 1] - view.stop_pp_ptr[access.stops]
    owner, flat = expand_ranges(view.stop_pp_ptr[access.stops], counts)
    pp = view.stop_pp[flat]
    board = view.pp_board[pp]
    pp, walk_s, stop = pp[board], access.access_s[owner[board]], access.stops[owner[board]]
    lo_t = np.clip(first_s + walk_s + TIME_OFFSET, 0, KEY_SPAN - 1)
    hi_t = np.clip(last_s + walk_s + TIME_OFFSET, 0, KEY_SPAN - 1)
    lo = np.searchsorted(view.col_key, pp * KEY_SPAN + lo_t, side="left")
    hi = np.searchsorted(view.col_key, pp * KEY_SPAN + hi_t, side="right")
    who, col = expand_ranges(lo, hi - lo)
    times = view.col_departure_s[col] - walk_s[who]
    # A run reachable from several access stops only matters at the latest time one can
    # leave and still catch it: earlier times add no trip that was not catchable already.
    at = pp[who]
    row = view.route_row_start[view.pp_route[at]] + col - view.pp_col[at]
    order = np.lexsort((-times, row))
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = row[order][1:] != row[order][:-1]
    keep = order[first]
    times, stops = times[keep], stop[who[keep]]
    by_time = np.lexsort((stops, -times))
    times, stops = times[by_time], stops[by_time]
    cuts = np.flatnonzero(np.diff(times)) + 1
    out = [
        (int(group_times[0]), np.unique(group_stops))
        for group_times, group_stops in zip(
            np.split(times, cuts), np.split(stops, cuts), strict=True
        )
        if len(group_times)
    ]
    if not out or out[-1][0] > first_s:  # the window's start itself: walking may be best
        out.append((first_s, np.zeros(0, dtype=np.int64)))
    return out
