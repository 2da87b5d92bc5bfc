"""A deliberately simple earliest-arrival oracle: Connection Scan straight from the GTFS tables.

It shares nothing with the planner but the stop index and the per-stop transfer
times of the snapshot (their own tests check those): service days, time
shifts, trips, pickup/drop-off rules, block continuations and walks (a
Dijkstra over links between nearby stops, within each query's limits) are
recomputed here the plain way, with datetime, dictionaries and one loop over
connections.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.realtime.overlay import RealtimeOverlay
from gtfs.snapshot.build import Snapshot
from gtfs.tables import GtfsTables

INFINITY = 10**12
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def runs_on(tables: GtfsTables, day: dt.date) -> set[str]:
    """Return the service ids that run on a date (calendar, then calendar_dates exceptions)."""
    ymd = day.strftime("%Y%m%d")
    running = set()
    for row in tables.calendar.to_dict("records"):
        if (
            str(row["start_date"]) <= ymd <= str(row["end_date"])
            and row[WEEKDAYS[day.weekday()]] == 1
        ):
            running.add(str(row["service_id"]))
    for row in tables.calendar_dates.to_dict("records"):
        if str(row["date"]) == ymd:
            if int(row["exception_type"]) == 1:
                running.add(str(row["service_id"]))
            else:
                running.discard(str(row["service_id"]))
    return running


def day_start(day: dt.date, tz: str) -> int:
    """Return the epoch second of a service day's noon minus 12 hours."""
    return (
        int(dt.datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(tz)).timestamp()) - 43200
    )


class Connection(NamedTuple):
    """A vehicle going from one stop to the next; `run` is (trip id, day offset)."""

    departure_s: int
    arrival_s: int
    from_stop: int
    to_stop: int
    board: bool
    alight: bool
    last: bool
    run: tuple[str, int]


def _no_wheelchair(tables: GtfsTables) -> set[str]:
    """Return the stops marked not accessible (themselves, or unmarked under such a station)."""
    marks = pd.to_numeric(tables.stops["wheelchair_boarding"], errors="coerce").fillna(0)
    own = dict(zip(tables.stops["stop_id"], marks.astype(int), strict=True))
    out = set()
    for stop, parent in zip(tables.stops["stop_id"], tables.stops["parent_station"], strict=True):
        value = own[stop] if own[stop] in (1, 2) else own.get(parent)
        if value == 2:
            out.add(stop)
    return out


@dataclass(frozen=True, slots=True)
class Times:
    """Times and pickup/drop-off rules of every stop_time row, and the cancelled trips."""

    arr: npt.NDArray[np.int64]
    dep: npt.NDArray[np.int64]
    board: npt.NDArray[np.bool_]
    alight: npt.NDArray[np.bool_]
    cancelled: set[str]


class ConnectionScan:
    """Earliest arrival by Connection Scan over day-1, day and day+1 runs on day's time axis."""

    def __init__(
        self,
        tables: GtfsTables,
        snap: Snapshot,
        day: dt.date,
        overlay: RealtimeOverlay | None = None,
        wheelchair: bool = False,
    ) -> None:
        """Build the sorted connections of the date (with realtime; accessible ones only)."""
        self.snap = snap
        self.walking = Walking(snap.stops.lat, snap.stops.lon)
        st = tables.stop_times.sort_values(["trip_id", "stop_sequence"])
        if wheelchair:
            accessible = tables.trips.loc[tables.trips["wheelchair_accessible"] == 1, "trip_id"]
            st = st[st["trip_id"].isin(set(accessible))]
        complete = st.groupby("trip_id")["departure_s"].transform(lambda s: s.notna().all())
        st = st[complete.astype(bool) & st["arrival_s"].notna()]
        self.trip = st["trip_id"].astype(str).to_numpy()
        self.stop = np.asarray([snap.stops.index[s] for s in st["stop_id"]], dtype=np.int64)
        self.arr = np.asarray(st["arrival_s"].astype("int64"), dtype=np.int64)
        self.dep = np.asarray(st["departure_s"].astype("int64"), dtype=np.int64)
        usable = ~st["stop_id"].isin(_no_wheelchair(tables)) if wheelchair else True
        self.board = ((st["pickup_type"].fillna(0) != 1) & usable).to_numpy()
        self.alight = ((st["drop_off_type"].fillna(0) != 1) & usable).to_numpy()
        trips = tables.trips
        self.service = dict(
            zip(trips["trip_id"].astype(str), trips["service_id"].astype(str), strict=True)
        )
        self.block = dict(
            zip(trips["trip_id"].astype(str), trips["block_id"].astype(str), strict=True)
        )
        self.connections: list[Connection] = []
        self.next_run: dict[tuple[str, int], tuple[str, int]] = {}
        for offset in (-1, 0, 1):
            run_day = day + dt.timedelta(days=offset)
            shift = day_start(run_day, snap.timezone) - day_start(day, snap.timezone)
            times = self._expected(overlay or {}) if offset == 0 else self._scheduled()
            self._add_day(runs_on(tables, run_day), offset, shift, times)
        self.connections.sort(key=lambda c: (c.departure_s, c.arrival_s))

    def _scheduled(self) -> Times:
        """Return the timetable's times and pickup/drop-off rules, nothing cancelled."""
        return Times(self.arr, self.dep, self.board, self.alight, set())

    def _expected(self, overlay: RealtimeOverlay) -> Times:
        """Return the times with the overlay applied (to the query day's runs only)."""
        t = Times(self.arr.copy(), self.dep.copy(), self.board.copy(), self.alight.copy(), set())
        for trip_id, rt in overlay.items():
            rows = np.flatnonzero(self.trip == trip_id)
            if rt.cancelled:
                t.cancelled.add(trip_id)
            elif len(rows) == len(rt.arrival_s):
                t.arr[rows] = rt.arrival_s
                t.dep[rows] = np.maximum(rt.departure_s, rt.arrival_s)
                t.board[rows] &= ~rt.skipped
                t.alight[rows] &= ~rt.skipped
        return t

    def _add_day(self, services: set[str], offset: int, shift: int, t: Times) -> None:
        """Add the connections and block continuations of one day's runs."""
        trip = self.trip
        running = np.asarray(
            [self.service[x] in services and x not in t.cancelled for x in trip], dtype=bool
        )
        same_next = np.zeros(len(trip), dtype=bool)
        same_next[:-1] = trip[:-1] == trip[1:]
        ends: dict[str, list[tuple[int, str, int, int, int]]] = {}
        for i in np.flatnonzero(running).tolist():
            if same_next[i]:
                last = i + 2 >= len(trip) or not same_next[i + 1]
                self.connections.append(
                    Connection(
                        int(t.dep[i]) + shift,
                        int(t.arr[i + 1]) + shift,
                        int(self.stop[i]),
                        int(self.stop[i + 1]),
                        bool(t.board[i]),
                        bool(t.alight[i + 1]),
                        last,
                        (trip[i], offset),
                    )
                )
            first = i == 0 or trip[i - 1] != trip[i]
            block = self.block[trip[i]]
            if first and block not in ("<NA>", "nan", "None", ""):
                j = i
                while j + 1 < len(trip) and same_next[j]:
                    j += 1
                run = (
                    int(self.dep[i]),
                    trip[i],
                    int(self.stop[i]),
                    int(self.stop[j]),
                    int(self.arr[j]),
                )
                ends.setdefault(block, []).append(run)
        for runs in ends.values():
            runs.sort()
            for a, b in pairwise(runs):
                if a[3] == b[2] and 0 <= b[0] - a[4] < 3 * 3600:
                    self.next_run[(a[1], offset)] = (b[1], offset)

    def earliest_arrival(
        self, origin: str, target: str, departure_s: int, walks: Walks | None = None
    ) -> int:
        """Return the earliest arrival at `target` from `origin` at `departure_s` (or INFINITY).

        A stop that several operators share is one place: the journey starts at any of its
        copies and has arrived at any copy of the target.
        """
        walks = walks or Walks()
        places = self.snap.places
        starts = places.same_place(self.snap.stops.index[origin]).tolist()
        ends = places.same_place(self.snap.stops.index[target]).tolist()
        ready = self._walks_from(starts, departure_s, walks.start_s)
        egress = self._walks_from(ends, 0, walks.end_s)
        on_foot = self._walks_from(starts, departure_s, max(walks.start_s, walks.end_s))
        best = min((on_foot[t] for t in ends if t in on_foot), default=INFINITY)
        arrival: dict[int, int] = {}
        on: set[tuple[str, int]] = set()
        transfer_s = self.snap.footpaths.transfer_s
        for c in self.connections:
            if c.departure_s < departure_s:
                continue
            if c.departure_s >= best:
                break
            if c.run not in on:
                if not (c.board and ready.get(c.from_stop, INFINITY) <= c.departure_s):
                    continue
                on.add(c.run)
            if c.last and c.run in self.next_run:
                on.add(self.next_run[c.run])
            if not c.alight or c.arrival_s >= arrival.get(c.to_stop, INFINITY):
                continue
            arrival[c.to_stop] = c.arrival_s
            best = min(best, c.arrival_s + egress.get(c.to_stop, INFINITY))
            ready[c.to_stop] = min(
                ready.get(c.to_stop, INFINITY), c.arrival_s + int(transfer_s[c.to_stop])
            )
            for b, seconds in self.walking.walk_s(c.to_stop, walks.transfer_s).items():
                if b != c.to_stop:
                    ready[b] = min(ready.get(b, INFINITY), c.arrival_s + seconds)
        return best

    def _walks_from(self, stops: list[int], start_s: int, max_s: int) -> dict[int, int]:
        """Return when one reaches each stop walking from any of some stops, left at `start_s`."""
        out: dict[int, int] = {}
        for stop in stops:
            for b, seconds in self.walking.walk_s(stop, max_s).items():
                out[b] = min(out.get(b, INFINITY), start_s + seconds)
        return out


@dataclass(frozen=True, slots=True)
class Walks:
    """The longest walks of a journey: to the first vehicle, from the last, between two."""

    start_s: int = 15 * 60
    end_s: int = 15 * 60
    transfer_s: int = 10 * 60


class Walking:
    """Shortest walks by Dijkstra over links between stops at most 400 m apart.

    Written apart from the snapshot's footpaths, on the same model: links as the crow
    flies, a walk takes its length times the 1.3 detour at 1.3 m/s, rounded up, and at
    least 60 s between two different stops. The feeds it is used on have no
    transfers.txt, so no rule replaces a walk.
    """

    RADIUS_M = 400.0
    DETOUR = 1.3
    SPEED_MPS = 1.3
    MIN_S = 60

    def __init__(self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> None:
        """Find every stop's links, comparing it with every other stop."""
        self.links: list[list[tuple[int, float]]] = []
        phi, lam = np.radians(lat), np.radians(lon)
        for a in range(len(lat)):
            h = (
                np.sin((phi - phi[a]) / 2) ** 2
                + np.cos(phi[a]) * np.cos(phi) * np.sin((lam - lam[a]) / 2) ** 2
            )
            metres = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
            near = np.flatnonzero(metres <= self.RADIUS_M)
            self.links.append([(int(b), float(metres[b])) for b in near if b != a])
        self._cache: dict[tuple[int, int], dict[int, int]] = {}

    def walk_s(self, stop: int, max_s: int) -> dict[int, int]:
        """Return the seconds of the shortest walk from a stop to each stop within `max_s`."""
        key = (stop, max_s)
        if key not in self._cache:
            self._cache[key] = self._dijkstra(stop, max_s)
        return self._cache[key]

    def _seconds(self, metres: float) -> int:
        return max(math.ceil(metres * self.DETOUR / self.SPEED_MPS), self.MIN_S)

    def _dijkstra(self, stop: int, max_s: int) -> dict[int, int]:
        metres = {stop: 0.0}
        heap = [(0.0, stop)]
        done: dict[int, int] = {}
        while heap:
            m, a = heapq.heappop(heap)
            if a in done:
                continue
            seconds = 0 if a == stop else self._seconds(m)
            if seconds > max_s:
                break
            done[a] = seconds
            for b, link_m in self.links[a]:
                if m + link_m < metres.get(b, math.inf):
                    metres[b] = m + link_m
                    heapq.heappush(heap, (m + link_m, b))
        return done
