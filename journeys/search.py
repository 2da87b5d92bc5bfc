"""One RAPTOR run per departure time, and the range (rRAPTOR) loop over a window of departures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.snapshot import Footpaths
from journeys.dayview import INF, KEY_SPAN, TIME_OFFSET, DayView
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
) -> list[Found]:
    """Run RAPTOR rounds for one departure on top of the labels; return improved destinations."""
    found = _start(labels, access, departure_s, targets)
    ready_best = labels.ready[0].copy()
    arrival_bound = labels.arrival[0].copy()
    marked = np.unique(access.stops)
    for k in range(1, labels.rounds + 1):
        scanned = scan_routes(view, ready_best, marked)
        if scanned is None:
            break
        candidates = concat_candidates([scanned, *seated_continuations(view, scanned, row_route)])
        np.minimum(arrival_bound, labels.arrival[k], out=arrival_bound)
        stops = improve_arrivals(
            labels, k, candidates, arrival_bound, int(labels.target[: k + 1].min())
        )
        if len(stops) == 0:
            break
        marked = relax_transfers(labels, k, stops, foot, np.minimum(ready_best, labels.ready[k]))
        np.minimum(ready_best, labels.ready[k], out=ready_best)
        arrival, stop = target_arrival(labels, k, targets)
        if arrival < labels.target[: k + 1].min():
            labels.target[k], labels.target_stop[k] = arrival, stop
            found.append(Found(departure_s, k, arrival))
    return found


def departures_in_window(view: DayView, access: Access, first_s: int, last_s: int) -> I64:
    """Return the distinct times to leave the origin so as to catch a vehicle, latest first."""
    counts = view.stop_pp_ptr[access.stops + 1] - view.stop_pp_ptr[access.stops]
    owner, flat = expand_ranges(view.stop_pp_ptr[access.stops], counts)
    pp = view.stop_pp[flat]
    board = view.pp_board[pp]
    pp, walk_s = pp[board], access.access_s[owner[board]]
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
    latest: I64 = np.unique(times[order][first])[::-1]
    return latest


def run_range(
    view: DayView,
    foot: Footpaths,
    labels: Labels,
    access: Access,
    window: tuple[int, int],
    targets: Targets,
    stop_by_s: int | None = None,
) -> list[Found]:
    """rRAPTOR: run every departure of the window, latest first, keeping labels between runs.

    With `stop_by_s` (arrive-by), stop after the first departure that arrives by then.
    """
    row_route = row_routes(view)
    found: list[Found] = []
    for departure_s in departures_in_window(view, access, *window).tolist():
        new = run_departure(view, foot, labels, access, int(departure_s), targets, row_route)
        found += new
        if stop_by_s is not None and any(f.arrival_s <= stop_by_s for f in new):
            break
    return found


__all__ = [
    "INF",
    "Access",
    "Found",
    "departures_in_window",
    "row_routes",
    "run_departure",
    "run_range",
]
