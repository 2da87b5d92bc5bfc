"""The timetable of one service date, compiled from a snapshot into flat arrays for RAPTOR.

Trips of the previous, the same and the next service day (times after midnight
belong to the previous day) are put on one time axis: seconds since the query
date's noon minus 12 h in the network's time zone. Each snapshot pattern
becomes one or more "routes" whose trips never overtake each other. Times are
stored column by column (all trips at position 0, then at position 1, ...), so
each position's departures are one sorted slice: a binary search finds the
earliest trip one can catch there.

A realtime overlay is applied here, on top of the unchanged snapshot:
cancelled trips are dropped, delayed trips run at their expected times (split
off into routes of their own only where they overtake another trip), and trips
skipping stops form routes whose skipped stops are neither boardable nor
alightable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gtfs.realtime.overlay import RealtimeOverlay
from gtfs.snapshot.build import Snapshot
from gtfs.snapshot.service import service_day_start

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

INF = np.int64(1) << 40
#: A query's time on its date's axis is never earlier than this before 0 (a DST change).
EARLIEST_QUERY_S = 2 * 3600


@dataclass(frozen=True, slots=True, eq=False)
class DayView:
    """Routes, positions and column-major times of one service date, ready to scan."""

    day: dt.date
    base_epoch_s: int
    n_stops: int
    route_pp_start: I64
    route_row_start: I64
    pp_route: I64
    pp_stop: I64
    pp_board: B
    pp_alight: B
    pp_col: I64
    pp_rows: I64
    pp_last: B
    col_arrival_s: I64
    col_departure_s: I64
    row_trip: I64
    #: The service date of each row's run, as days after `day` (-1, 0 or 1).
    row_day: I64
    row_route: I64
    row_realtime: B
    row_next: I64
    stop_pp_ptr: I64
    stop_pp: I64
    # Least times along each route (see `_ride_floors`), for lower bounds to a destination.
    pp_arrive_floor_s: I64
    pp_depart_floor_s: I64
    seated_slack_s: int


@dataclass(slots=True)
class _Route:
    """A route under construction: trips that never overtake, with their times."""

    pattern: int
    trips: I64
    arrival_s: I64
    departure_s: I64
    board: B
    alight: B
    realtime: B


def _instances(snap: Snapshot, day: dt.date, wheelchair: bool) -> tuple[I64, I64, I64]:
    """Return (trip, shift in s) of every run on day-1, day and day+1, on day's time axis."""
    base = service_day_start(day, snap.timezone)
    trips_out: list[I64] = []
    shifts: list[I64] = []
    offsets: list[I64] = []
    usable = snap.trips.pattern >= 0
    if wheelchair:
        usable &= snap.trips.wheelchair == 1
    for offset in (-1, 0, 1):
        run_day = day + dt.timedelta(days=offset)
        column = run_day.toordinal() - snap.first_day
        if not 0 <= column < snap.service_active.shape[1]:
            continue
        services = snap.trips.service
        running = usable & (services >= 0) & snap.service_active[np.maximum(services, 0), column]
        trips = np.flatnonzero(running).astype(np.int64)
        zone_shift = np.asarray(
            [service_day_start(run_day, z) - base for z in snap.timezones], dtype=np.int64
        )
        shift = zone_shift[snap.trips.timezone[trips]]
        if offset < 0:  # of the previous day only the runs still going after midnight matter
            last_arrival = snap.trips.arrival_s[snap.trips.time_ptr[trips + 1] - 1] + shift
            trips, shift = (
                trips[last_arrival >= -EARLIEST_QUERY_S],
                shift[last_arrival >= -EARLIEST_QUERY_S],
            )
        trips_out.append(trips)
        shifts.append(shift)
        offsets.append(np.full(len(trips), offset + 1, dtype=np.int64))
    if not trips_out:
        return (np.zeros(0, dtype=np.int64),) * 3
    return np.concatenate(trips_out), np.concatenate(shifts), np.concatenate(offsets)


def _times(snap: Snapshot, trips: I64, shifts: I64, length: int) -> tuple[I64, I64]:
    """Return (arrival, departure) matrices (trips x positions) on the day's axis."""
    index = snap.trips.time_ptr[trips][:, None] + np.arange(length)[None, :]
    arrival = snap.trips.arrival_s[index].astype(np.int64) + shifts[:, None]
    departure = snap.trips.departure_s[index].astype(np.int64) + shifts[:, None]
    return arrival, departure


def _fifo_chains(arrival: I64, departure: I64) -> list[I64]:
    """Split rows sorted by first departure into chains in which no trip overtakes another."""
    if len(arrival) < 2 or (
        (np.diff(arrival, axis=0) >= 0).all() and (np.diff(departure, axis=0) >= 0).all()
    ):
        return [np.arange(len(arrival), dtype=np.int64)]
    chains: list[list[int]] = []
    for row in range(len(arrival)):
        for chain in chains:
            last = chain[-1]
            if (arrival[row] >= arrival[last]).all() and (departure[row] >= departure[last]).all():
                chain.append(row)
                break
        else:
            chains.append([row])
    return [np.asarray(c, dtype=np.int64) for c in chains]


#: Expected (arrival, departure) on the day's axis and skipped stops of a run, by run index.
Realtime = dict[int, tuple[I64, I64, B]]


def _group_keys(snap: Snapshot, trips: I64, runs: I64, realtime: Realtime) -> I64:
    """Return, per run, its pattern and (for runs skipping stops) which stops it skips."""
    skip_ids: dict[bytes, int] = {}
    skip = np.zeros(len(runs), dtype=np.int64)
    for i, run in enumerate(runs.tolist()):
        if run in realtime and realtime[run][2].any():
            skip[i] = skip_ids.setdefault(realtime[run][2].tobytes(), len(skip_ids) + 1)
    return snap.trips.pattern[trips[runs]].astype(np.int64) * (len(skip_ids) + 1) + skip


def _group_times(
    snap: Snapshot, trips: I64, shifts: I64, group: I64, realtime: Realtime
) -> tuple[I64, I64, B]:
    """Return (arrival, departure, realtime?) matrices of a group's runs, realtime applied."""
    p = int(snap.trips.pattern[trips[group[0]]])
    length = int(snap.patterns.stop_ptr[p + 1] - snap.patterns.stop_ptr[p])
    arrival, departure = _times(snap, trips[group], shifts[group], length)
    live = np.asarray([run in realtime for run in group.tolist()], dtype=np.bool_)
    for i in live.nonzero()[0].tolist():
        expected_arrival, expected_departure, _ = realtime[int(group[i])]
        arrival[i], departure[i] = expected_arrival, expected_departure
    return arrival, departure, live


def _routes(
    snap: Snapshot, trips: I64, shifts: I64, runs: I64, realtime: Realtime
) -> tuple[list[_Route], list[I64]]:
    """Group runs by pattern (and skipped stops) into overtaking-free routes, with their runs."""
    key = _group_keys(snap, trips, runs, realtime)
    order = np.lexsort(
        (snap.trips.departure_s[snap.trips.time_ptr[trips[runs]]] + shifts[runs], key)
    )
    routes: list[_Route] = []
    run_ids: list[I64] = []
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for group in np.split(runs[order], cuts) if len(order) else []:
        arrival, departure, live = _group_times(snap, trips, shifts, group, realtime)
        rows = np.argsort(departure[:, 0], kind="stable")  # realtime may reorder them
        p = int(snap.trips.pattern[trips[group[0]]])
        a, b = int(snap.patterns.stop_ptr[p]), int(snap.patterns.stop_ptr[p + 1])
        closed = realtime[int(group[0])][2] if int(group[0]) in realtime else np.zeros(b - a, bool)
        for chain in _fifo_chains(arrival[rows], departure[rows]):
            pick = rows[chain]
            routes.append(
                _Route(
                    p,
                    trips[group[pick]],
                    arrival[pick],
                    departure[pick],
                    snap.patterns.can_board[a:b] & ~closed,
                    snap.patterns.can_alight[a:b] & ~closed,
                    live[pick],
                )
            )
            run_ids.append(group[pick])
    return routes, run_ids


def _apply_overlay(
    snap: Snapshot, trips: I64, shifts: I64, day: dt.date, days: I64, overlay: RealtimeOverlay
) -> tuple[B, Realtime]:
    """Return (runs still running, expected times of the runs the overlay delays).

    An update applies to the run of its service date; one that names no date, to the run
    of the service day nearest the query's.
    """
    keep = np.ones(len(trips), dtype=np.bool_)
    realtime: Realtime = {}
    if not overlay:
        return keep, realtime
    where: dict[int, list[int]] = {}
    wanted = {snap.trips.index.get(t, -1) for t in overlay}
    for run in np.isin(trips, list(wanted)).nonzero()[0].tolist():
        where.setdefault(int(trips[run]), []).append(run)
    for trip_id, rt in overlay.items():
        runs = where.get(snap.trips.index.get(trip_id, -1), [])
        if not runs:
            continue
        if rt.service_date is not None:
            runs = [r for r in runs if day + dt.timedelta(int(days[r]) - 1) == rt.service_date]
            if not runs:
                continue
        run = min(runs, key=lambda r: abs(int(shifts[r])))
        length = int(snap.trips.time_ptr[trips[run] + 1] - snap.trips.time_ptr[trips[run]])
        if rt.cancelled:
            keep[run] = False
        elif len(rt.arrival_s) == length:
            arrival = rt.arrival_s.astype(np.int64) + shifts[run]
            departure = np.maximum(rt.departure_s.astype(np.int64) + shifts[run], arrival)
            realtime[run] = (arrival, departure, rt.skipped.astype(np.bool_))
    return keep, realtime


def _block_successors(snap: Snapshot, trips: I64, shifts: I64, days: I64) -> I64:
    """Return, per run, the run of the same block and day going on from its last stop (-1: none)."""
    nxt = np.full(len(trips), -1, dtype=np.int64)
    block = snap.trips.block[trips].astype(np.int64)
    block = np.where(block >= 0, block * 4 + days, -1)
    runs = np.flatnonzero(block >= 0)
    if len(runs) < 2:
        return nxt
    ptr = snap.trips.time_ptr
    first_dep = snap.trips.departure_s[ptr[trips[runs]]].astype(np.int64) + shifts[runs]
    last_arr = snap.trips.arrival_s[ptr[trips[runs] + 1] - 1].astype(np.int64) + shifts[runs]
    first_stop = snap.trips.stop[ptr[trips[runs]]]
    last_stop = snap.trips.stop[ptr[trips[runs] + 1] - 1]
    order = np.lexsort((first_dep, block[runs]))
    a, b = order[:-1], order[1:]
    ok = (block[runs][a] == block[runs][b]) & (last_stop[a] == first_stop[b])
    ok &= (first_dep[b] >= last_arr[a]) & (first_dep[b] - last_arr[a] < 3 * 3600)
    nxt[runs[a[ok]]] = runs[b[ok]]
    return nxt


def build_day_view(
    snap: Snapshot, day: dt.date, overlay: RealtimeOverlay | None = None, wheelchair: bool = False
) -> DayView:
    """Compile the routes of `day` (with the overlay applied) into scan-ready flat arrays."""
    trips, shifts, days = _instances(snap, day, wheelchair)
    keep, realtime = _apply_overlay(snap, trips, shifts, day, days, overlay or {})
    routes, run_groups = _routes(snap, trips, shifts, np.flatnonzero(keep), realtime)
    successor = _block_successors(snap, trips, shifts, days)
    if wheelchair:
        for route in routes:
            a = int(snap.patterns.stop_ptr[route.pattern])
            usable = snap.stops.wheelchair[snap.patterns.stops[a : a + len(route.board)]] != 2
            route.board, route.alight = route.board & usable, route.alight & usable
    return _pack(snap, day, routes, run_groups, successor, days)


def _ints(parts: list[npt.NDArray[np.int64]] | list[npt.NDArray[np.int32]]) -> I64:
    """Concatenate integer arrays as int64 (empty when there are none)."""
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _bools(parts: list[B]) -> B:
    """Concatenate boolean arrays (empty when there are none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.bool_)


def _row_successors(run_groups: list[I64], successor: I64) -> I64:
    """Turn the block successor of each run into the successor of each row (-1: none)."""
    run_of_row = _ints(list(run_groups))
    row_of_run = np.full(len(successor), -1, dtype=np.int64)
    row_of_run[run_of_row] = np.arange(len(run_of_row), dtype=np.int64)
    nxt_run = successor[run_of_row]
    return np.where(nxt_run >= 0, row_of_run[np.maximum(nxt_run, 0)], -1)


def _pack(
    snap: Snapshot,
    day: dt.date,
    routes: list[_Route],
    run_groups: list[I64],
    successor: I64,
    days: I64,
) -> DayView:
    """Concatenate routes into the flat arrays of a `DayView` (times column by column)."""
    lengths = np.asarray([r.arrival_s.shape[1] for r in routes], dtype=np.int64)
    rows = np.asarray([r.arrival_s.shape[0] for r in routes], dtype=np.int64)
    pp_start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    col_start = np.concatenate([[0], np.cumsum(lengths * rows)]).astype(np.int64)
    pp_route = np.repeat(np.arange(len(routes), dtype=np.int64), lengths)
    pp_index = np.arange(int(pp_start[-1]), dtype=np.int64) - pp_start[pp_route]
    pp_rows = rows[pp_route]
    ptr = snap.patterns.stop_ptr
    pp_stop = _ints([snap.patterns.stops[ptr[r.pattern] : ptr[r.pattern + 1]] for r in routes])
    col_dep = _ints([r.departure_s.T.ravel() for r in routes])
    counts = np.bincount(pp_stop, minlength=len(snap.stops.ids))
    col_arr = _ints([r.arrival_s.T.ravel() for r in routes])
    pp_col = col_start[pp_route] + pp_index * pp_rows
    row_next = _row_successors(run_groups, successor)
    row_start = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    arrive_floor, depart_floor = _ride_floors(col_arr, col_dep, pp_col, pp_start, pp_route)
    return DayView(
        day=day,
        base_epoch_s=service_day_start(day, snap.timezone),
        n_stops=len(snap.stops.ids),
        route_pp_start=pp_start,
        route_row_start=row_start,
        pp_route=pp_route,
        pp_stop=pp_stop,
        pp_board=_bools([r.board for r in routes]),
        pp_alight=_bools([r.alight for r in routes]),
        pp_col=pp_col,
        pp_rows=pp_rows,
        pp_last=pp_index == lengths[pp_route] - 1,
        col_arrival_s=col_arr,
        col_departure_s=col_dep,
        row_trip=_ints([r.trips for r in routes]),
        row_day=days[_ints(list(run_groups))] - 1,
        row_route=np.repeat(np.arange(len(routes), dtype=np.int64), rows),
        row_realtime=_bools([r.realtime for r in routes]),
        row_next=row_next,
        stop_pp_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        stop_pp=np.argsort(pp_stop, kind="stable").astype(np.int64),
        pp_arrive_floor_s=arrive_floor,
        pp_depart_floor_s=depart_floor,
        seated_slack_s=_seated_slack(col_arr, col_dep, pp_col, pp_start, row_start, row_next),
    )


def _ride_floors(
    col_arr: I64, col_dep: I64, pp_col: I64, pp_start: I64, pp_route: I64
) -> tuple[I64, I64]:
    """Return (arrive, depart) per position: any ride from i to j takes >= arrive[j] - depart[i].

    Sums of per-hop and per-dwell minima over the trips of the route, so a bound
    holds even where a feed's times run backwards (the minima are then negative).
    """
    n_pp = len(pp_col)
    if n_pp == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_rows = np.diff(np.append(pp_col, len(col_arr)))
    col_pp = np.repeat(np.arange(n_pp, dtype=np.int64), n_rows)
    nxt = np.minimum(np.arange(len(col_arr), dtype=np.int64) + n_rows[col_pp], len(col_arr) - 1)
    dwell = np.minimum.reduceat(col_dep - col_arr, pp_col)
    hop = np.minimum.reduceat(col_arr[nxt] - col_dep, pp_col)
    step = dwell + hop
    total = np.concatenate([[0], np.cumsum(step)])[:-1]
    arrive = total - total[pp_start[pp_route]]  # the hop out of a route's last stop never counts
    return arrive, arrive + dwell


def _seated_slack(
    col_arr: I64, col_dep: I64, pp_col: I64, pp_start: I64, row_start: I64, row_next: I64
) -> int:
    """Return the least wait (<= 0) between a trip's last arrival and its block successor."""
    rows = np.flatnonzero(row_next >= 0)
    if len(rows) == 0:
        return 0
    nxt = row_next[rows]
    route_a = np.searchsorted(row_start, rows, side="right") - 1
    route_b = np.searchsorted(row_start, nxt, side="right") - 1
    arrive = col_arr[pp_col[pp_start[route_a + 1] - 1] + rows - row_start[route_a]]
    depart = col_dep[pp_col[pp_start[route_b]] + nxt - row_start[route_b]]
    return min(0, int((depart - arrive).min()))
