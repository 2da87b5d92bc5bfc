"""RAPTOR rounds (Delling, Pajor, Werneck 2012) as vectorised numpy scans over a `DayView`.

Round k scans every route serving a stop whose boarding time improved in
round k-1, from that stop on. All positions of all those routes are scanned at
once: one `searchsorted` finds the earliest catchable trip at each position,
a segmented running minimum carries the trip already boarded upstream (trips
never overtake within a route), and arrivals improve per-stop labels. After
the scan come stay-seated block continuations, then transfers (same stop,
minimum transfer time) and footpaths. Labels persist between calls, so a range
query (rRAPTOR) runs the departures of a window from the latest to the earliest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gtfs.snapshot_footpaths import Footpaths
from journeys.dayview import INF, KEY_SPAN, TIME_OFFSET, DayView

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_POS = np.int64(1) << 13  # positions per route stay below this
_SENT = _POS << 22  # larger than any (row, position) key
_SEG = _SENT << 1


def expand_ranges(starts: I64, counts: I64) -> tuple[I64, I64]:
    """Return (owner, index) of the concatenated ranges [start, start + count)."""
    ends = counts.cumsum()
    owner = np.arange(len(starts), dtype=np.int64).repeat(counts)
    return owner, (starts - ends + counts).repeat(counts) + np.arange(
        int(ends[-1]) if len(ends) else 0
    )


@dataclass(slots=True)
class Candidates:
    """Arrivals found by a scan: at stop, time, row ridden, where boarded, which row boarded."""

    stop: I64
    arrival_s: I64
    row: I64
    board_pp: I64
    board_row: I64
    alight_pp: I64


@dataclass(slots=True)
class Labels:
    """Per-round labels, kept between the departures of a range query."""

    rounds: int
    n_stops: int
    arrival: I64 = field(init=False)
    walk: I64 = field(init=False)
    ready: I64 = field(init=False)
    row: I64 = field(init=False)
    board_pp: I64 = field(init=False)
    board_row: I64 = field(init=False)
    alight_pp: I64 = field(init=False)
    walk_from: I64 = field(init=False)
    target: I64 = field(init=False)
    target_stop: I64 = field(init=False)

    def __post_init__(self) -> None:
        """Allocate (rounds + 1) x stops arrays, every time unreached."""
        shape = (self.rounds + 1, self.n_stops)
        self.arrival = np.full(shape, INF, dtype=np.int64)
        self.walk = np.full(shape, INF, dtype=np.int64)
        self.ready = np.full(shape, INF, dtype=np.int64)
        self.row = np.full(shape, -1, dtype=np.int64)
        self.board_pp = np.full(shape, -1, dtype=np.int64)
        self.board_row = np.full(shape, -1, dtype=np.int64)
        self.alight_pp = np.full(shape, -1, dtype=np.int64)
        self.walk_from = np.full(shape, -1, dtype=np.int64)
        self.target = np.full(self.rounds + 1, INF, dtype=np.int64)
        self.target_stop = np.full(self.rounds + 1, -1, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a journey may end: stops and egress walks; an `exact` stop also accepts footpaths."""

    stops: I64
    egress_s: I64
    exact: bool


def _marked_positions(
    view: DayView, ready: I64, marked: I64, board_before: I64
) -> npt.NDArray[np.bool_]:
    """Return a mask over every position, true where the stop is marked and boarding may help."""
    counts = view.stop_pp_ptr[marked + 1] - view.stop_pp_ptr[marked]
    owner, flat = expand_ranges(view.stop_pp_ptr[marked], counts)
    at = view.stop_pp[flat]
    mask = np.zeros(len(view.pp_stop), dtype=np.bool_)
    mask[at[ready[marked[owner]] < board_before[at]]] = True
    return mask


def scan_routes(
    view: DayView, ready: I64, marked: I64, limit: I64, board_before: I64
) -> tuple[Candidates, Candidates] | None:
    """Scan the routes of the marked stops; return (arrivals under `limit`, trips at route ends).

    Boarding is tried only at marked stops: at any other stop the same trips were
    already tried, with the same boarding time, in an earlier round. Nor where one is
    ready only at or after the position's `board_before`: no arrival from there would
    be kept. The trips held at the last stop of each route are returned for stay-seated
    continuations.
    """
    if len(marked) == 0:
        return None
    mask = _marked_positions(view, ready, marked, board_before)
    pps = mask.nonzero()[0]
    route = view.pp_route[pps]
    first = np.ones(len(pps), dtype=np.bool_)
    first[1:] = route[1:] != route[:-1]
    starts = pps[first]
    lengths = view.route_pp_start[route[first] + 1] - starts
    seg, pp = expand_ranges(starts, lengths)
    if len(pp) == 0:
        return None
    board = (mask[pp] & view.pp_board[pp]).nonzero()[0]
    at = pp[board]
    wanted = np.minimum(ready[view.pp_stop[at]] + TIME_OFFSET, KEY_SPAN - 1)
    row = np.searchsorted(view.col_key, at * KEY_SPAN + wanted) - view.pp_col[at]
    ok = row < view.pp_rows[at]
    key = np.full(len(pp), _SENT, dtype=np.int64)
    key[board[ok]] = row[ok] * _POS + view.pp_index[at[ok]]
    offset = (len(starts) - seg) * _SEG
    running = np.minimum.accumulate(key + offset) - offset
    held = np.empty_like(running)
    held[0] = _SENT
    held[1:] = running[:-1]
    held[np.cumsum(lengths) - lengths] = _SENT
    riding = held < _SENT
    arrivals = _candidates(view, pp, held, (riding & view.pp_alight[pp]).nonzero()[0], limit)
    ends = _candidates(view, pp, held, (riding & view.pp_last[pp]).nonzero()[0], None)
    return arrivals, ends


def _candidates(view: DayView, pp: I64, held: I64, valid: I64, limit: I64 | None) -> Candidates:
    """Turn held (row, boarding position) keys at some positions into arrivals (under `limit`)."""
    at = pp[valid]
    local_row = held[valid] // _POS
    arrival = view.col_arrival_s[view.pp_col[at] + local_row]
    stop = view.pp_stop[at]
    if limit is not None:
        good = (arrival < limit[stop]).nonzero()[0]
        at, local_row, arrival, stop, valid = (
            at[good],
            local_row[good],
            arrival[good],
            stop[good],
            valid[good],
        )
    route = view.pp_route[at]
    row = view.route_row_start[route] + local_row
    return Candidates(
        stop=stop,
        arrival_s=arrival,
        row=row,
        board_pp=view.route_pp_start[route] + held[valid] % _POS,
        board_row=row,
        alight_pp=at,
    )


def seated_continuations(
    view: DayView, ends: Candidates, row_route: I64, limit: I64
) -> Candidates | None:
    """Follow block continuations from trips held at their last stop, staying on board."""
    nxt = view.row_next[ends.row]
    ok = (nxt >= 0).nonzero()[0]
    if len(ok) == 0:
        return None
    rows = nxt[ok]
    route = row_route[rows]
    start = view.route_pp_start[route] + 1
    owner, pp = expand_ranges(start, view.route_pp_start[route + 1] - start)
    local = rows[owner] - view.route_row_start[route[owner]]
    arrival = view.col_arrival_s[view.pp_col[pp] + local]
    stop = view.pp_stop[pp]
    keep = (view.pp_alight[pp] & (arrival < limit[stop])).nonzero()[0]
    owner, pp = owner[keep], pp[keep]
    src = ok[owner]
    return Candidates(
        stop=stop[keep],
        arrival_s=arrival[keep],
        row=rows[owner],
        board_pp=ends.board_pp[src],
        board_row=ends.board_row[src],
        alight_pp=pp,
    )


def concat_candidates(parts: list[Candidates]) -> Candidates:
    """Concatenate candidate lists."""
    return Candidates(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Candidates.__slots__)
    )


def improve_arrivals(labels: Labels, k: int, found: Candidates) -> I64:
    """Write the candidates (already under the bounds) into round k; return the improved stops."""
    if len(found.stop) == 0:
        return found.stop
    stop, arrival = found.stop, found.arrival_s
    row = labels.arrival[k]
    np.minimum.at(row, stop, arrival)
    win = (arrival == row[stop]).nonzero()[0]
    stop = stop[win]
    labels.row[k, stop] = found.row[win]
    labels.board_pp[k, stop] = found.board_pp[win]
    labels.board_row[k, stop] = found.board_row[win]
    labels.alight_pp[k, stop] = found.alight_pp[win]
    return unique_stops(stop, labels.n_stops)


def unique_stops(stops: I64, n_stops: int) -> I64:
    """Return the distinct stops, sorted (a mask is faster than np.unique on small arrays)."""
    mask = np.zeros(n_stops, dtype=np.bool_)
    mask[stops] = True
    return mask.nonzero()[0]


def relax_transfers(labels: Labels, k: int, stops: I64, foot: Footpaths, ready_bound: I64) -> I64:
    """Set round k's boarding times from arrivals (transfer, footpaths); return marked stops."""
    arrival = labels.arrival[k, stops]
    counts = foot.ptr[stops + 1] - foot.ptr[stops]
    owner, edge = expand_ranges(foot.ptr[stops], counts)
    to = foot.to_stop[edge].astype(np.int64)
    walked = arrival[owner] + foot.duration_s[edge]
    walk = labels.walk[k]
    better = (walked < walk[to]).nonzero()[0]
    if len(better):
        to_b, walked_b = to[better], walked[better]
        np.minimum.at(walk, to_b, walked_b)
        win = better[walked_b == walk[to_b]]
        labels.walk_from[k, to[win]] = stops[owner[win]]
    touched = unique_stops(np.concatenate([stops, to[better]]), labels.n_stops)
    ready = np.minimum(labels.arrival[k, touched] + foot.transfer_s[touched], walk[touched])
    improved = ready < ready_bound[touched]
    labels.ready[k, touched[improved]] = ready[improved]
    marked: I64 = touched[improved]
    return marked


def target_arrival(labels: Labels, k: int, targets: Targets) -> tuple[int, int]:
    """Return (arrival at the destination in round k, the stop it is reached from)."""
    times = labels.arrival[k, targets.stops] + targets.egress_s
    if targets.exact:
        times = np.minimum(times, labels.walk[k, targets.stops] + targets.egress_s)
    if len(times) == 0:
        return int(INF), -1
    best = int(np.argmin(times))
    return int(times[best]), int(targets.stops[best])
