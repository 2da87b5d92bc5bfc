"""RAPTOR rounds (Delling, Pajor, Werneck 2012), compiled to machine code with numba.

Round k scans every route serving a stop whose boarding time improved in round
k-1, from the first such stop on, holding the earliest trip boarded so far
(trips never overtake within a route), and improves per-stop arrival labels.
After the scan come stay-seated block continuations, then transfers (same
stop, minimum transfer time) and footpaths. Labels persist between calls, so a
range query (rRAPTOR) runs the departures of a window from the latest to the
earliest on the same labels.

The round loop is compiled because a range query runs hundreds of small rounds:
vectorised numpy paid about 150 microseconds of call overhead per round however
few stops it touched. The kernel works on the flat arrays of a `DayView`, the
footpaths, the labels and the bounds, and allocates only per-call scratch.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from gtfs.compiled import compiled
from gtfs.snapshot import footpaths
from gtfs.snapshot.footpaths import Footpaths
from journeys.dayview import INF, DayView

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
B = npt.NDArray[np.bool_]


class Labels(NamedTuple):
    """Per-round labels (rounds + 1 rows, one column per stop), kept between departures.

    `arrival` is reaching a stop by vehicle (with the row ridden, where and which row was
    boarded, where alighted), `walk` by a footpath from `walk_from`, `ready` the time one
    can board there; `target` is the best arrival at the destination per round.
    """

    arrival: I64
    walk: I64
    ready: I64
    row: I64
    board_pp: I64
    board_row: I64
    alight_pp: I64
    walk_from: I64
    target: I64
    target_stop: I64

    @classmethod
    def empty(cls, rounds: int, n_stops: int) -> Labels:
        """Return labels for up to `rounds` rides, every time unreached."""
        # Two blocks rather than ten arrays: allocating is much of a small query's cost.
        times = np.full((3, rounds + 1, n_stops), INF, dtype=np.int64)
        indexes = np.full((5, rounds + 1, n_stops), -1, dtype=np.int64)
        target = np.full((2, rounds + 1), INF, dtype=np.int64)
        target[1] = -1
        arrival, walk, ready = times
        row, board_pp, board_row, alight_pp, walk_from = indexes
        return cls(arrival, walk, ready, row, board_pp, board_row, alight_pp, walk_from, *target)

    @property
    def rounds(self) -> int:
        """The most rides a journey may take."""
        return int(self.arrival.shape[0]) - 1


class LabelPool:
    """Label arrays reused from one query to the next: allocating them cost a small query much.

    Only the times are reset: an index label is read only where its time is set.
    """

    #: Spare sets kept per shape (about as many as queries run at once).
    KEEP = 8

    def __init__(self) -> None:
        """Start with no spare labels."""
        self._spare: dict[tuple[int, int], list[Labels]] = {}
        self._lock = threading.Lock()

    def take(self, rounds: int, n_stops: int) -> Labels:
        """Return labels for up to `rounds` rides, every time unreached: give them back after."""
        with self._lock:
            spare = self._spare.get((rounds, n_stops))
            labels = spare.pop() if spare else None
        if labels is None:
            return Labels.empty(rounds, n_stops)
        cast("I64", labels.arrival.base).fill(INF)  # the three time labels are one block
        labels.target.fill(INF)
        labels.target_stop.fill(-1)
        return labels

    def give_back(self, labels: Labels) -> None:
        """Keep a search's labels for the next one."""
        key = (labels.rounds, labels.arrival.shape[1])
        with self._lock:
            spare = self._spare.setdefault(key, [])
            if len(spare) < self.KEEP:
                spare.append(labels)


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a journey may end: the stops one may alight at, and the walk from each to the end."""

    stops: I64
    egress_s: I64


class Bounds(NamedTuple):
    """Lower bounds on the rest of a journey: from arriving at a stop, from boarding a position."""

    arrive_s: I64
    board_s: I64


class Network(NamedTuple):
    """The arrays of a day view and its footpaths that the rounds read."""

    route_pp_start: I64
    route_row_start: I64
    row_route: I64
    row_next: I64
    pp_route: I64
    pp_stop: I64
    pp_board: B
    pp_alight: B
    pp_col: I64
    pp_rows: I64
    col_arrival_s: I64
    col_departure_s: I64
    stop_pp_ptr: I64
    stop_pp: I64
    foot_ptr: I64
    foot_to: I32
    foot_s: I32
    transfer_s: I32
    #: Per route: no trip arrives anywhere earlier than at a stop before (times may run
    #: backwards in a feed or under realtime): a scan may stop once a ride is too late.
    route_forward: B


def network(view: DayView, foot: Footpaths) -> Network:
    """Return the arrays of a view and its footpaths that `run_rounds` reads."""
    return Network(
        view.route_pp_start,
        view.route_row_start,
        view.row_route,
        view.row_next,
        view.pp_route,
        view.pp_stop,
        view.pp_board,
        view.pp_alight,
        view.pp_col,
        view.pp_rows,
        view.col_arrival_s,
        view.col_departure_s,
        view.stop_pp_ptr,
        view.stop_pp,
        np.asarray(foot.ptr, dtype=np.int64),
        foot.to_stop,
        foot.duration_s,
        foot.transfer_s,
        _forward_routes(view),
    )


def _forward_routes(view: DayView) -> B:
    """Return, per route, whether every trip's arrivals never go back from stop to stop."""
    col_pp = np.repeat(np.arange(len(view.pp_col), dtype=np.int64), view.pp_rows)
    inner = np.flatnonzero(~view.pp_last[col_pp])  # columns of positions with a next one
    after = inner + view.pp_rows[col_pp[inner]]  # the same trip at the next position
    back = view.col_arrival_s[after] < view.col_arrival_s[inner]
    forward = np.ones(len(view.route_pp_start) - 1, dtype=np.bool_)
    forward[view.pp_route[col_pp[inner[back]]]] = False
    return forward


#: The kernels, in the order they must be compiled (a kernel calls only those before it).
_KERNELS = ("_first_at_or_after", "_target_arrival", "_catchable", "_rounds")


@functools.cache
def kernels() -> None:
    """Replace the kernels of this module by their compiled versions, once per process.

    Compiling is left until planning starts, so that a process that only imports a
    feed (`maas import-gtfs`, an upload) never loads numba.
    """
    for name in _KERNELS:
        globals()[name] = compiled(globals()[name])


def target_arrival(labels: Labels, k: int, targets: Targets) -> tuple[int, int]:
    """Return (arrival at the destination in round k, the stop it is reached from)."""
    kernels()
    return _target_arrival(labels.arrival, k, targets.stops, targets.egress_s)


def run_rounds(
    net: Network,
    labels: Labels,
    targets: Targets,
    bounds: Bounds,
    start: tuple[I64, I64, int],
    marked: I64 | None,
    max_walk_s: int,
) -> I64:
    """Write round 0, run rounds 1..; return the rounds that improved the destination.

    `start` is (access stops, the walk to each, the departure): round 0 is walking from
    the origin (walking all the way is the planner's own answer). `marked` restricts the
    first round to some access stops (None: all of them). The arrival of an improved
    round is then in `labels.target`. Each stop's round-0 boarding time from before this
    departure is kept: a trip one could catch then was scanned by a later departure
    already. Walks between two vehicles take footpaths of at most `max_walk_s`.
    """
    stops, access_s, departure_s = start
    first = stops if marked is None else np.ascontiguousarray(marked, dtype=np.int64)
    kernels()
    # Plain tuples: numba unboxes a named tuple of arrays about six times slower, which
    # was most of a small feed's call.
    return _rounds(
        tuple(net),
        tuple(labels),
        targets.stops,
        targets.egress_s,
        (bounds.arrive_s, bounds.board_s),
        stops,
        access_s,
        departure_s,
        first,
        max_walk_s,
    )


def catchable(view: DayView, pp: I64, earliest_s: I64, latest_s: I64) -> tuple[I64, I64]:
    """Return, per position, the columns [lo, hi) of the trips departing in [earliest, latest]."""
    kernels()
    return _catchable(view.col_departure_s, view.pp_col, view.pp_rows, pp, earliest_s, latest_s)


def warm_up() -> None:
    """Compile the rounds and the footpaths, or load them from the disk cache, before use."""
    footpaths.warm_up()
    z = np.zeros(2, dtype=np.int64)
    no = np.zeros(2, dtype=np.bool_)
    i32 = np.zeros(2, dtype=np.int32)
    net = Network(z, z, z, z, z, z, no, no, z, z, z, z, z, z, z, i32, i32, i32, no)
    labels = Labels.empty(1, 1)
    run_rounds(net, labels, Targets(z[:0], z[:0]), Bounds(z, z), (z[:0], z[:0], 0), None, 0)
    _catchable(z, z, z, z[:0], z[:0], z[:0])


def _rounds(  # noqa: C901 - one compiled loop: numba keeps arrays in locals only within one body
    net: tuple[Any, ...],
    labels: tuple[I64, ...],
    target_stops: I64,
    egress_s: I64,
    bounds: tuple[I64, I64],
    access_stops: I64,
    access_s: I64,
    departure_s: int,
    marked: I64,
    max_walk_s: int,
) -> I64:
    (
        route_pp_start,
        route_row_start,
        row_route,
        row_next,
        pp_route,
        pp_stop,
        pp_board,
        pp_alight,
        pp_col,
        pp_rows,
        col_arrival_s,
        col_departure_s,
        stop_pp_ptr,
        stop_pp,
        foot_ptr,
        foot_to,
        foot_s,
        transfer_s,
        route_forward,
    ) = net
    arrival, walk, ready, row_of, board_pp_of, board_row_of, alight_pp_of, walk_from = labels[:8]
    target, target_stop = labels[8], labels[9]
    arrive_bound_s, board_bound_s = bounds
    n_stops = arrival.shape[1]
    # Each stop's round-0 boarding time before this departure, then round 0: walking
    # from the origin to the access stops.
    before = ready[0].copy()
    for i in range(len(access_stops)):
        s, t = access_stops[i], departure_s + access_s[i]
        walk[0, s] = ready[0, s] = t
        walk_from[0, s] = -1
    n_routes = len(route_pp_start) - 1
    rounds = arrival.shape[0] - 1
    improved = np.empty(rounds, dtype=np.int64)
    n_improved = 0
    # Per stop: best boarding time of any round so far, best arrival of any round up to
    # this one, and for a marked stop its boarding time before it improved.
    ready_best = ready[0].copy()
    arrival_bound = arrival[0].copy()
    # Scratch of one round, cleared as it is used.
    boards = np.zeros(len(pp_stop), dtype=np.bool_)  # boarding may help at this position
    route_first = np.full(n_routes, -1, dtype=np.int64)  # first position to scan, -1: none
    route_last = np.empty(n_routes, dtype=np.int64)  # last position to board at
    routes = np.empty(n_routes, dtype=np.int64)
    ends = np.empty((n_routes, 3), dtype=np.int64)  # next row of a block, boarded where, which
    won = np.zeros(n_stops, dtype=np.bool_)  # arrival improved this round
    changed = np.empty(n_stops, dtype=np.int64)
    touched = np.zeros(n_stops, dtype=np.bool_)  # reached by vehicle or footpath this round
    walked = np.zeros(n_stops, dtype=np.bool_)  # footpath label improved this round
    reached = np.empty(n_stops, dtype=np.int64)

    for k in range(1, rounds + 1):
        for s in range(n_stops):
            arrival_bound[s] = min(arrival_bound[s], arrival[k, s])
        best = target[: k + 1].min()

        # The positions of marked stops where boarding may still beat the destination's best.
        n_scan = 0
        for s in marked:
            for i in range(stop_pp_ptr[s], stop_pp_ptr[s + 1]):
                p = stop_pp[i]
                if not pp_board[p] or ready_best[s] + board_bound_s[p] >= best:
                    continue
                boards[p] = True
                r = pp_route[p]
                if route_first[r] < 0:
                    routes[n_scan] = r
                    n_scan += 1
                    route_first[r] = route_last[r] = p
                else:
                    route_first[r] = min(route_first[r], p)
                    route_last[r] = max(route_last[r], p)
        if n_scan == 0:
            break
        routes[:n_scan].sort()

        # Ride the earliest trip boarded so far along each route (trips never overtake),
        # then stay seated onto the next trip of each block whose terminus a trip reached,
        # and take every arrival under the bounds (ties: the latest candidate wins).
        n_changed = n_ends = i = 0
        while i < n_scan + n_ends:
            if i < n_scan:
                r = routes[i]
                first, last_board = route_first[r], route_last[r]
                route_first[r] = held = board_pp = board_row = -1
            else:
                row, board_pp, board_row = ends[i - n_scan]
                r = row_route[row]
                first, held = route_pp_start[r] + 1, row - route_row_start[r]
                last_board = -1
            row0, end = route_row_start[r], route_pp_start[r + 1]
            forward = route_forward[r]
            for p in range(first, end):
                # Past the last boarding position, with no trip held or the one held too
                # late to beat the destination's best from here on, nothing can improve.
                if p > last_board and (
                    held < 0 or (forward and col_arrival_s[pp_col[p] + held] >= best)
                ):
                    break
                s = pp_stop[p]
                if held >= 0 and pp_alight[p]:
                    t = col_arrival_s[pp_col[p] + held]
                    limit = min(arrival_bound[s], best - arrive_bound_s[s])
                    if t < limit and (t < arrival[k, s] or (won[s] and t == arrival[k, s])):
                        if not won[s]:
                            won[s] = True
                            changed[n_changed] = s
                            n_changed += 1
                        arrival[k, s] = t
                        row_of[k, s], alight_pp_of[k, s] = row0 + held, p
                        board_pp_of[k, s], board_row_of[k, s] = board_pp, board_row
                if boards[p]:  # only on the routes: all flags are cleared before the blocks
                    boards[p] = False
                    # Only a trip before the one held can be better: none if the one just
                    # before it leaves too soon (departures are sorted).
                    lo = pp_col[p]
                    hi = lo + (pp_rows[p] if held < 0 else held)
                    if hi > lo and col_departure_s[hi - 1] >= ready_best[s]:
                        col = _first_at_or_after(col_departure_s, lo, hi, ready_best[s])
                        # A trip one could catch before the stop's boarding time improved
                        # was scanned then; nothing can be alighted after the last stop.
                        if p < end - 1 and col_departure_s[col] < before[s]:
                            held, board_pp, board_row = col - lo, p, row0 + col - lo
            if i < n_scan and held >= 0 and row_next[row0 + held] >= 0:
                ends[n_ends] = row_next[row0 + held], board_pp, board_row
                n_ends += 1
            i += 1
        if n_changed == 0:
            break

        # Transfers in place and footpaths give the boarding times of round k.
        n_reached = 0
        for s in np.sort(changed[:n_changed]):
            won[s] = False
            if not touched[s]:
                touched[s] = True
                reached[n_reached] = s
                n_reached += 1
            # Each stop's footpaths come shortest first. A walk reaching the destination's
            # best or later, or no sooner than one can already board there (in a round with
            # fewer rides, which the tracer prefers), is no label anyone reads.
            arrived = arrival[k, s]
            for e in range(foot_ptr[s], foot_ptr[s + 1]):
                t = arrived + foot_s[e]
                if foot_s[e] > max_walk_s or t >= best:
                    break
                u = foot_to[e]
                if t >= ready_best[u]:
                    continue
                if t < walk[k, u] or (walked[u] and t == walk[k, u]):
                    walk[k, u], walk_from[k, u], walked[u] = t, s, True
                    if not touched[u]:
                        touched[u] = True
                        reached[n_reached] = u
                        n_reached += 1
        n_marked = 0
        next_marked = np.empty(n_reached, dtype=np.int64)
        for s in np.sort(reached[:n_reached]):
            touched[s] = walked[s] = False
            t = min(arrival[k, s] + transfer_s[s], walk[k, s])
            bound = min(ready_best[s], ready[k, s])
            if t < bound:
                ready[k, s], before[s] = t, bound
                next_marked[n_marked] = s
                n_marked += 1
        for s in range(n_stops):
            ready_best[s] = min(ready_best[s], ready[k, s])

        reach, stop = _target_arrival(arrival, k, target_stops, egress_s)
        if reach < best:
            target[k], target_stop[k] = reach, stop
            improved[n_improved] = k
            n_improved += 1
            best = reach
        # A stop that cannot beat the destination's best even at its bound stays unmarked.
        n_keep = 0
        for s in next_marked[:n_marked]:
            if ready_best[s] + arrive_bound_s[s] < best:
                next_marked[n_keep] = s
                n_keep += 1
        marked = next_marked[:n_keep]
    return improved[:n_improved]


def _target_arrival(arrival: I64, k: int, stops: I64, egress_s: I64) -> tuple[int, int]:
    best, best_stop = int(INF), -1
    for i in range(len(stops)):
        s = stops[i]
        t = arrival[k, s] + egress_s[i]
        if t < best:
            best, best_stop = t, s
    return best, best_stop


def _catchable(
    col_departure_s: I64, pp_col: I64, pp_rows: I64, pp: I64, earliest_s: I64, latest_s: I64
) -> tuple[I64, I64]:
    lo = np.empty(len(pp), dtype=np.int64)
    hi = np.empty(len(pp), dtype=np.int64)
    for i in range(len(pp)):
        first, end = pp_col[pp[i]], pp_col[pp[i]] + pp_rows[pp[i]]
        lo[i] = _first_at_or_after(col_departure_s, first, end, earliest_s[i])
        hi[i] = _first_at_or_after(col_departure_s, lo[i], end, latest_s[i] + 1)
    return lo, hi


def _first_at_or_after(values: I64, lo: int, hi: int, t: int) -> int:
    """Return the first index in values[lo:hi] (sorted) whose value is >= t, or hi."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo
