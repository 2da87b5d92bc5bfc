"""Walks at the ends of a journey and walking all the way, within a query's limits.

Every walk is a shortest path over the footpath graph: the snapshot's footpaths
are the shortest paths over the links between nearby stops (closed up to
`WalkingConfig.max_walk_s`), each stop's shortest first, so the stops within a
limit of a stop are a prefix of its footpaths. A coordinate is joined to every
stop within the limit as the crow flies (times the detour), then on along the
footpaths of those stops, keeping the shortest total per stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.footpaths import Footpaths, expand_ranges, haversine_m, walk_duration_s

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Reach:
    """Stops within a walk of a place and how long each walk takes (a stop itself: 0 s)."""

    stops: I64
    walk_s: I64

    def seconds_to(self, stop: int) -> int | None:
        """Return the walk to or from one stop, or None when it is out of reach."""
        hit = np.flatnonzero(self.stops == stop)
        return int(self.walk_s[hit[0]]) if len(hit) else None


def from_stops(foot: Footpaths, stops: I64, max_s: int, outward: bool) -> Reach:
    """Return the stops one walks to from some stops (the copies of one place, each at 0 s).

    `outward` False: the stops from which one walks to one of them.
    """
    if len(stops) == 1:  # a stop has one footpath to each other stop, none to itself
        near, walk_s = (
            foot.out_of(int(stops[0]), max_s) if outward else foot.into(int(stops[0]), max_s)
        )
        return Reach(np.concatenate((stops.astype(np.int64), near)), np.concatenate(((0,), walk_s)))
    found_stops, found_s = [stops.astype(np.int64)], [np.zeros(len(stops), dtype=np.int64)]
    for stop in stops.tolist():
        near, walk_s = foot.out_of(stop, max_s) if outward else foot.into(stop, max_s)
        found_stops.append(near)
        found_s.append(walk_s)
    reached, seconds = np.concatenate(found_stops), np.concatenate(found_s)
    order = np.lexsort((seconds, reached))
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = reached[order][1:] != reached[order][:-1]
    keep = order[first]
    return Reach(reached[keep], seconds[keep])


def from_point(snap: Snapshot, lat: float, lon: float, max_s: int, outward: bool) -> Reach:
    """Return the stops within `max_s` of a coordinate (none: empty), over the footpaths too."""
    s = snap.stops
    distance_m = haversine_m(np.full(len(s.lat), lat), np.full(len(s.lon), lon), s.lat, s.lon)
    direct_s = walk_duration_s(distance_m, snap.walking)
    seeds = np.flatnonzero(direct_s <= max_s)
    best = np.where(direct_s <= max_s, direct_s, np.iinfo(np.int64).max)
    foot = snap.footpaths
    ptr, to, seconds = (
        (foot.ptr, foot.to_stop, foot.duration_s)
        if outward
        else (foot.in_ptr, foot.in_from, foot.in_duration_s)
    )
    owner, flat = expand_ranges(ptr[seeds], ptr[seeds + 1] - ptr[seeds])
    total_s = direct_s[seeds][owner] + seconds[flat]
    near = total_s <= max_s
    np.minimum.at(best, to[flat][near].astype(np.int64), total_s[near])
    reached = np.flatnonzero(best <= max_s)
    return Reach(reached.astype(np.int64), best[reached].astype(np.int64))


def walk_all_the_way_s(start: Reach, end: Reach, direct_s: int | None, max_s: int) -> int | None:
    """Return the shortest walk from the origin to the destination within `max_s`, or None.

    A walk passes a stop both ends reach (the origin or the destination stop itself, at
    0 s), or goes straight from one coordinate to the other (`direct_s`).
    """
    ends = dict(zip(end.stops.tolist(), end.walk_s.tolist(), strict=True))
    options = [
        s + ends[stop]
        for stop, s in zip(start.stops.tolist(), start.walk_s.tolist(), strict=True)
        if stop in ends
    ]
    options += [direct_s] if direct_s is not None else []
    best = min(options, default=None)
    return best if best is not None and best <= max_s else None
