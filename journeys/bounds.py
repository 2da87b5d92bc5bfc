"""Lower bounds on the time from every stop to the destination, to prune range queries.

The graph has an edge per pair of consecutive stops of a route, weighted by the
shortest ride between them on that date, and an edge per footpath. Waiting and
transfer times are ignored, so a distance in it never exceeds the real travel
time: a label whose arrival plus its bound cannot beat the best arrival known
is dropped without losing any Pareto-optimal journey (as nigiri does).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.snapshot import Footpaths
from journeys.dayview import INF, DayView
from journeys.raptor import Targets

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BoundGraph:
    """Edges into each stop (CSR by head stop): tail stops and the least seconds to traverse."""

    ptr: I64
    tail: I64
    seconds: I64


def _ride_edges(view: DayView) -> tuple[I64, I64, I64]:
    """Return (from stop, to stop, least ride seconds) for consecutive positions of each route."""
    pp = (~view.pp_last).nonzero()[0]
    rows = view.pp_rows[pp]
    starts = view.pp_col[pp]
    if len(pp) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    owner = np.arange(len(pp), dtype=np.int64).repeat(rows)
    col = starts.repeat(rows) + np.arange(int(rows.sum())) - (rows.cumsum() - rows).repeat(rows)
    ride = view.col_arrival_s[col + rows[owner]] - view.col_departure_s[col]
    least = np.minimum.reduceat(ride, (rows.cumsum() - rows)) if len(ride) else ride
    return view.pp_stop[pp], view.pp_stop[pp + 1], np.maximum(least, 0)


def build_bound_graph(view: DayView, foot: Footpaths) -> BoundGraph:
    """Build the reverse graph of least ride and walking times of a day view."""
    tail, head, seconds = _ride_edges(view)
    walk_tail = np.arange(len(foot.ptr) - 1, dtype=np.int64).repeat(np.diff(foot.ptr))
    tail = np.concatenate([tail, walk_tail])
    head = np.concatenate([head, foot.to_stop.astype(np.int64)])
    seconds = np.concatenate([seconds, foot.duration_s.astype(np.int64)])
    order = np.lexsort((seconds, tail, head))
    tail, head, seconds = tail[order], head[order], seconds[order]
    keep = np.ones(len(head), dtype=np.bool_)
    keep[1:] = (head[1:] != head[:-1]) | (tail[1:] != tail[:-1])
    tail, head, seconds = tail[keep], head[keep], seconds[keep]
    counts = np.bincount(head, minlength=view.n_stops)
    return BoundGraph(np.concatenate([[0], counts.cumsum()]).astype(np.int64), tail, seconds)


def lower_bounds(graph: BoundGraph, targets: Targets) -> I64:
    """Return, per stop, a lower bound on the seconds to the destination (INF: unreachable)."""
    n = len(graph.ptr) - 1
    best = [int(INF)] * n
    heap: list[tuple[int, int]] = []
    for stop, egress in zip(targets.stops.tolist(), targets.egress_s.tolist(), strict=True):
        if egress < best[stop]:
            best[stop] = egress
            heapq.heappush(heap, (egress, stop))
    ptr, tail, seconds = graph.ptr.tolist(), graph.tail.tolist(), graph.seconds.tolist()
    while heap:
        d, v = heapq.heappop(heap)
        if d > best[v]:
            continue
        for e in range(ptr[v], ptr[v + 1]):
            u, du = tail[e], d + seconds[e]
            if du < best[u]:
                best[u] = du
                heapq.heappush(heap, (du, u))
    return np.asarray(best, dtype=np.int64)
