"""Lower bounds on the time from arriving at a stop to reaching the destination.

RAPTOR drops an arrival that cannot beat the best arrival at the destination
found so far. With a lower bound on the rest of the journey it can drop the
arrival earlier: when arrival + bound is not before the best. A range query
pays for the bounds once and prunes in every one of its departures.

The bounds come from a few backward relaxations over the day's routes, with
each route's least ride times (`DayView.pp_arrive_floor_s`), footpaths, and no
waiting or transfer time. Every relaxation adds one ride, so after n of them
a bound holds for journeys of up to n rides, and after a pass that changes
nothing it holds for every journey.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.footpaths import Footpaths
from journeys.dayview import DayView
from journeys.raptor import Bounds, Targets

I64 = npt.NDArray[np.int64]

#: "Cannot reach the destination": far above any real bound, far below `INF`.
UNREACHABLE_S = np.int64(1) << 31
_SEG = np.int64(1) << 34  # larger than any bound plus floor: keeps routes apart in one scan


def no_bounds(view: DayView) -> Bounds:
    """Return zero bounds: prune only on the destination's own label."""
    return Bounds(
        np.zeros(view.n_stops, dtype=np.int64), np.zeros(len(view.pp_stop), dtype=np.int64)
    )


def to_destination(
    view: DayView, foot: Footpaths, targets: Targets, rides: int, max_walk_s: int
) -> Bounds:
    """Return lower bounds on the time from a stop or a boarding to the destination.

    Valid for journeys of at most `rides` vehicle rides (a stay-seated ride through a
    block terminus counts as two) walking at most `max_walk_s` between two of them, or
    for all such journeys when the relaxation settles earlier.
    """
    ready = np.full(view.n_stops, UNREACHABLE_S, dtype=np.int64)
    np.minimum.at(ready, targets.stops, targets.egress_s)
    usable = foot.duration_s <= max_walk_s
    origin = np.repeat(np.arange(view.n_stops, dtype=np.int64), np.diff(foot.ptr))[usable]
    walk_s = foot.duration_s[usable].astype(np.int64)
    to_stop = foot.to_stop[usable].astype(np.int64)
    arrive = _walk_back(ready, origin, to_stop, walk_s, view.seated_slack_s)
    boarded = _ride_back(view, arrive)
    for _ in range(rides):
        np.minimum.at(ready, view.pp_stop, boarded)
        settled = _walk_back(ready, origin, to_stop, walk_s, view.seated_slack_s)
        if np.array_equal(settled, arrive):
            break
        arrive = settled
        boarded = _ride_back(view, arrive)
    return Bounds(arrive, boarded)


def _walk_back(ready: I64, origin: I64, to_stop: I64, walk_s: I64, slack_s: int) -> I64:
    """Return bounds from arriving: change vehicles in place or walk a footpath, then board."""
    arrive = np.minimum(ready, ready + slack_s)  # seated on through a block terminus
    np.minimum.at(arrive, origin, walk_s + ready[to_stop])
    out: I64 = np.minimum(arrive, UNREACHABLE_S)
    return out


def _ride_back(view: DayView, arrive: I64) -> I64:
    """Return, per position, the bound from boarding there: ride on, alight at a later stop."""
    offset = view.pp_route * _SEG
    later = view.pp_arrive_floor_s + np.minimum(arrive[view.pp_stop], UNREACHABLE_S) + offset
    best = np.minimum.accumulate(later[::-1])[::-1] - offset
    boarded = np.full(len(best), UNREACHABLE_S, dtype=np.int64)
    boarded[:-1] = best[1:] - view.pp_depart_floor_s[:-1]
    boarded[view.pp_last] = UNREACHABLE_S
    out: I64 = np.minimum(boarded, UNREACHABLE_S)
    return out
