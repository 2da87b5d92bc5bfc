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

import functools

import numpy as np
import numpy.typing as npt

from gtfs.compiled import compiled
from gtfs.snapshot.footpaths import Footpaths
from journeys.dayview import DayView
from journeys.raptor import Bounds, Targets

I64 = npt.NDArray[np.int64]

#: "Cannot reach the destination": far above any real bound, far below `INF`.
UNREACHABLE_S = np.int64(1) << 31


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
    for all such journeys when the relaxation settles earlier. Compiled: the same
    relaxations as the numpy reference of the tests (`tests/journeys/bounds_reference.py`),
    without a numpy call per step of each.
    """
    kernel()
    arrive, boarded = _bounds(
        view.n_stops,
        targets.stops,
        targets.egress_s,
        np.asarray(foot.ptr, dtype=np.int64),
        foot.to_stop,
        foot.duration_s,
        max_walk_s,
        view.seated_slack_s,
        (view.pp_stop, view.pp_route, view.pp_arrive_floor_s, view.pp_depart_floor_s),
        view.pp_last,
        rides,
    )
    return Bounds(arrive, boarded)


@functools.cache
def kernel() -> None:
    """Compile the bounds once per process (see `journeys.raptor.kernels`)."""
    global _bounds
    _bounds = compiled(_bounds)


def warm_up() -> None:
    """Compile the bounds, or load them from the disk cache, before use."""
    kernel()
    z = np.zeros(1, dtype=np.int64)
    i32 = np.zeros(0, dtype=np.int32)
    _bounds(1, z, z, np.zeros(2, dtype=np.int64), i32, i32, 0, 0, (z, z, z, z), z == 0, 1)


def _bounds(  # noqa: C901 - one compiled body
    n_stops: int,
    target_stops: I64,
    egress_s: I64,
    foot_ptr: I64,
    foot_to: npt.NDArray[np.int32],
    foot_s: npt.NDArray[np.int32],
    max_walk_s: int,
    slack_s: int,
    positions: tuple[I64, I64, I64, I64],
    pp_last: npt.NDArray[np.bool_],
    rides: int,
) -> tuple[I64, I64]:
    pp_stop, pp_route, arrive_floor_s, depart_floor_s = positions
    n_pp = len(pp_stop)
    ready = np.full(n_stops, UNREACHABLE_S, dtype=np.int64)
    for i in range(len(target_stops)):
        ready[target_stops[i]] = min(ready[target_stops[i]], egress_s[i])
    arrive = np.empty(n_stops, dtype=np.int64)
    settled = np.empty(n_stops, dtype=np.int64)
    boarded = np.empty(n_pp, dtype=np.int64)
    for step in range(rides + 1):
        # Walk back: change in place (seated on through a terminus) or walk a footpath.
        out = arrive if step == 0 else settled
        for s in range(n_stops):
            best = min(ready[s], ready[s] + slack_s)
            for e in range(foot_ptr[s], foot_ptr[s + 1]):
                if foot_s[e] <= max_walk_s:
                    best = min(best, foot_s[e] + ready[foot_to[e]])
            out[s] = min(best, UNREACHABLE_S)
        if step > 0:
            same = True
            for s in range(n_stops):
                if settled[s] != arrive[s]:
                    same = False
                    break
            if same:
                break
            arrive[:] = settled
        # Ride back: from boarding a position, alight at the best later stop of its route.
        later = UNREACHABLE_S
        for p in range(n_pp - 1, -1, -1):
            if p == n_pp - 1 or pp_route[p + 1] != pp_route[p]:
                boarded[p] = UNREACHABLE_S
            else:
                boarded[p] = min(later - depart_floor_s[p], UNREACHABLE_S)
            if pp_last[p]:
                boarded[p] = UNREACHABLE_S
            here = arrive_floor_s[p] + min(arrive[pp_stop[p]], UNREACHABLE_S)
            later = here if p == n_pp - 1 or pp_route[p + 1] != pp_route[p] else min(later, here)
        if step == rides:
            break
        for p in range(n_pp):
            ready[pp_stop[p]] = min(ready[pp_stop[p]], boarded[p])
    return arrive, boarded
