"""The bounds of `journeys.bounds.to_destination` computed with numpy, step by step.

The planner's first implementation, kept as the reference its compiled relaxation is held
equal to (`test_bounds.py`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.footpaths import Footpaths
from journeys.bounds import UNREACHABLE_S
from journeys.dayview import DayView
from journeys.raptor import Bounds, Targets

I64 = npt.NDArray[np.int64]
_SEG = np.int64(1) << 34  # larger than any bound plus floor: keeps routes apart in one scan


def reference_bounds(
    view: DayView, foot: Footpaths, targets: Targets, rides: int, max_walk_s: int
) -> Bounds:
    """Return `to_destination`'s bounds with numpy, step by step."""
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
