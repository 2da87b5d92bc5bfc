"""Footpaths of the compiled timetable: walking links between nearby stops of any operators.

Stops are bucketed on a square grid whose cell is the link radius, so each
stop is compared only with the stops of its own and the eight neighbouring
cells (numpy only, no KD-tree dependency). The footpaths are the shortest paths
over those links up to the longest walk a query may ask for, by a bounded
Dijkstra from every stop.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.compiled import compiled
from gtfs.snapshot.service import index_of

EARTH_RADIUS_M = 6_371_008.8

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WalkingConfig:
    """How far and how fast people walk between stops, and the slack a transfer needs."""

    radius_m: float = 400.0
    detour_factor: float = 1.3
    walking_speed_mps: float = 1.3
    min_transfer_s: int = 60
    #: The longest walk between stops any query may ask for. Shortest paths over the links
    #: are closed into direct footpaths up to this long (0: the links alone), as RAPTOR
    #: walks at most one footpath between two rides; a query uses those within its limits.
    max_walk_s: int = 1800

    @property
    def max_walk_m(self) -> float:
        """Return the straight-line length walked in `max_walk_s`."""
        return self.max_walk_s * self.walking_speed_mps / self.detour_factor


@dataclass(frozen=True, slots=True, eq=False)
class Footpaths:
    """Footpaths as CSR by origin stop, each stop's shortest first, and the same by destination.

    `transfer_s` is the time a transfer at one stop needs. A query's limit on a walk
    is a prefix of each stop's footpaths, so the planner stops at the first one longer.
    """

    ptr: IntArray
    to_stop: npt.NDArray[np.int32]
    duration_s: npt.NDArray[np.int32]
    distance_m: FloatArray
    transfer_s: npt.NDArray[np.int32]
    in_ptr: IntArray
    in_from: npt.NDArray[np.int32]
    in_duration_s: npt.NDArray[np.int32]

    def out_of(self, stop: int, max_s: int) -> tuple[IntArray, IntArray]:
        """Return (stops, seconds) of the footpaths out of a stop no longer than `max_s`."""
        lo, hi = int(self.ptr[stop]), int(self.ptr[stop + 1])
        end = lo + int(np.searchsorted(self.duration_s[lo:hi], max_s, side="right"))
        return self.to_stop[lo:end].astype(np.int64), self.duration_s[lo:end].astype(np.int64)

    def into(self, stop: int, max_s: int) -> tuple[IntArray, IntArray]:
        """Return (stops, seconds) of the footpaths into a stop no longer than `max_s`."""
        lo, hi = int(self.in_ptr[stop]), int(self.in_ptr[stop + 1])
        end = lo + int(np.searchsorted(self.in_duration_s[lo:hi], max_s, side="right"))
        return self.in_from[lo:end].astype(np.int64), self.in_duration_s[lo:end].astype(np.int64)


#: The transfer time of a stop where transfers.txt forbids changing (type 3).
NEVER_S = 10**7


def project_m(lat: FloatArray, lon: FloatArray, lat0: float) -> tuple[FloatArray, FloatArray]:
    """Project coordinates to metres on a plane tangent at latitude `lat0` (equirectangular)."""
    x = np.radians(lon) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
    y = np.radians(lat) * EARTH_RADIUS_M
    return x, y


def haversine_m(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Return great-circle distances in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))), dtype=np.float64)


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in metres between two points (one at a time)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(a, 1.0)))


def walk_duration_s(distance_m: FloatArray, config: WalkingConfig) -> IntArray:
    """Return walking durations (whole seconds, rounded up) for straight-line distances."""
    seconds = np.ceil(distance_m * config.detour_factor / config.walking_speed_mps)
    return seconds.astype(np.int64)


def expand_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Return (owner row, flat index) for the concatenated ranges [start, start + count)."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offsets


def neighbour_pairs(
    lat: FloatArray, lon: FloatArray, radius_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return every ordered pair (i, j), i != j, of points within `radius_m`, with distances.

    Points without coordinates are never paired.
    """
    located = (np.isfinite(lat) & np.isfinite(lon)).nonzero()[0]
    empty = np.zeros(0, dtype=np.int64)
    if len(located) < 2 or radius_m <= 0:
        return empty, empty, np.zeros(0, dtype=np.float64)
    if len(located) < len(lat):
        i, j, d = neighbour_pairs(lat[located], lon[located], radius_m)
        return located[i], located[j], d
    # Projecting at the latitude farthest from the equator never stretches a distance,
    # so two points within the radius always land in neighbouring cells.
    x, y = project_m(lat, lon, float(lat[np.argmax(np.abs(lat))]))
    cx = np.floor((x - x.min()) / radius_m).astype(np.int64)
    cy = np.floor((y - y.min()) / radius_m).astype(np.int64)
    width = int(cy.max()) + 3
    cell = (cx + 1) * width + (cy + 1)
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    froms: list[IntArray] = []
    tos: list[IntArray] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            target = cell + dx * width + dy
            lo = np.searchsorted(sorted_cells, target, side="left")
            hi = np.searchsorted(sorted_cells, target, side="right")
            owner, flat = expand_ranges(lo.astype(np.int64), (hi - lo).astype(np.int64))
            froms.append(owner)
            tos.append(order[flat])
    i, j = np.concatenate(froms), np.concatenate(tos)
    keep = i != j
    i, j = i[keep], j[keep]
    distance_m = haversine_m(lat[i], lon[i], lat[j], lon[j])
    near = distance_m <= radius_m
    return i[near], j[near], distance_m[near]


def close_chains(
    i: IntArray, j: IntArray, distance_m: FloatArray, n: int, max_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return the shortest path over the links of every pair of stops up to `max_m` apart.

    A Dijkstra from every stop, bounded by `max_m`, compiled: in a dense city there are
    hundreds of stops within a half-hour walk of each.
    """
    order = np.lexsort((j, i))
    ptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=n))]).astype(np.int64)
    return _dijkstra_kernel()(
        ptr, j[order].astype(np.int64), distance_m[order].astype(np.float64), n, float(max_m)
    )


def warm_up() -> None:
    """Compile the footpath Dijkstra, or load it from the disk cache, before a build waits."""
    one = np.ones(1, dtype=np.int64)
    close_chains(one * 0, one, np.ones(1), 2, 1.0)


@functools.cache
def _dijkstra_kernel() -> Callable[..., tuple[IntArray, IntArray, FloatArray]]:
    """Return the compiled Dijkstra (numba is loaded here, by the process that plans)."""
    return compiled(_bounded_dijkstra)


def _bounded_dijkstra(
    ptr: IntArray, to: IntArray, link_m: FloatArray, n: int, max_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    out_i = np.empty(max(16, 4 * len(to)), dtype=np.int64)
    out_j, out_m = np.empty_like(out_i), np.empty(len(out_i), dtype=np.float64)
    best = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    seen = np.empty(n, dtype=np.int64)
    count = 0
    for source in range(n):
        heap = [(0.0, source)]
        n_seen = 0
        best[source] = 0.0
        seen[n_seen] = source
        n_seen += 1
        while heap:
            metres, a = heapq.heappop(heap)
            if done[a]:
                continue
            done[a] = True
            if a != source:
                if count == len(out_i):  # grow the output
                    out_i = np.concatenate((out_i, np.empty_like(out_i)))
                    out_j = np.concatenate((out_j, np.empty_like(out_j)))
                    out_m = np.concatenate((out_m, np.empty_like(out_m)))
                out_i[count], out_j[count], out_m[count] = source, a, metres
                count += 1
            for e in range(ptr[a], ptr[a + 1]):
                b, via = to[e], metres + link_m[e]
                if via <= max_m and via < best[b]:
                    if best[b] == np.inf:
                        seen[n_seen] = b
                        n_seen += 1
                    best[b] = via
                    heapq.heappush(heap, (via, b))
        for k in range(n_seen):
            best[seen[k]], done[seen[k]] = np.inf, False
    return out_i[:count], out_j[:count], out_m[:count]


def _transfer_rules(
    index: pd.Index, transfers: pd.DataFrame, walking: WalkingConfig
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Return transfers.txt as (from stop, to stop, type, seconds) of known stops."""
    a = index_of(index, transfers["from_stop_id"])
    b = index_of(index, transfers["to_stop_id"])
    kind = np.asarray(
        pd.to_numeric(transfers["transfer_type"], errors="coerce").fillna(0), dtype=np.int64
    )
    given = pd.to_numeric(transfers["min_transfer_time"], errors="coerce").fillna(-1)
    minimum = np.asarray(given, dtype=np.int64)
    known = (a >= 0) & (b >= 0)
    a, b, kind, minimum = a[known], b[known], kind[known], minimum[known]
    fallback = np.where((kind == 2) & (minimum >= 0), minimum, walking.min_transfer_s)
    return a, b, kind, np.where(kind == 1, 0, fallback)


def build_footpaths(
    stop_ids: tuple[str, ...],
    lat: FloatArray,
    lon: FloatArray,
    transfers: pd.DataFrame,
    walking: WalkingConfig,
) -> Footpaths:
    """Link stops within the walking radius (shortest paths closed), then apply transfers.txt."""
    n = len(stop_ids)
    i, j, distance_m = neighbour_pairs(lat, lon, walking.radius_m)
    if walking.max_walk_m > walking.radius_m:
        i, j, distance_m = close_chains(i, j, distance_m, n, walking.max_walk_m)
    duration = np.maximum(walk_duration_s(distance_m, walking), walking.min_transfer_s)
    a, b, kind, seconds = _transfer_rules(pd.Index(stop_ids), transfers, walking)
    transfer_s = np.full(n, walking.min_transfer_s, dtype=np.int64)
    same = a == b
    transfer_s[a[same]] = np.where(kind[same] == 3, NEVER_S, seconds[same])
    rules = ~same
    a, b, kind, seconds = a[rules], b[rules], kind[rules], seconds[rules]
    # A rule replaces the generated link of its pair; type 3 leaves none.
    replaced = np.isin(i * n + j, a * n + b)
    distance_of = dict(
        zip((i * n + j)[replaced].tolist(), distance_m[replaced].tolist(), strict=True)
    )
    add = kind != 3
    added_m = np.asarray(
        [distance_of.get(k, 0.0) for k in (a * n + b)[add].tolist()], dtype=np.float64
    )
    i = np.concatenate([i[~replaced], a[add]])
    j = np.concatenate([j[~replaced], b[add]])
    return _csr_footpaths(
        n,
        i,
        j,
        np.concatenate([duration[~replaced], seconds[add]]),
        np.concatenate([distance_m[~replaced], added_m]),
        transfer_s,
    )


def _csr_footpaths(
    n: int,
    i: IntArray,
    j: IntArray,
    duration_s: IntArray,
    distance_m: FloatArray,
    transfer_s: IntArray,
) -> Footpaths:
    """Pack footpath edges into CSR arrays by origin and by destination, shortest first.

    A pair named twice (transfers.txt may) keeps its shortest footpath only.
    """
    first = np.lexsort((duration_s, j, i))
    pair = i[first] * n + j[first]
    once = first[np.concatenate([[True], pair[1:] != pair[:-1]])[: len(first)]]
    i, j, duration_s, distance_m = i[once], j[once], duration_s[once], distance_m[once]
    order = np.lexsort((j, duration_s, i))
    back = np.lexsort((i, duration_s, j))
    return Footpaths(
        ptr=_ptr(i, n),
        to_stop=j[order].astype(np.int32),
        duration_s=duration_s[order].astype(np.int32),
        distance_m=distance_m[order].astype(np.float64),
        transfer_s=transfer_s.astype(np.int32),
        in_ptr=_ptr(j, n),
        in_from=i[back].astype(np.int32),
        in_duration_s=duration_s[back].astype(np.int32),
    )


def _ptr(owner: IntArray, n: int) -> IntArray:
    """Return the CSR offsets of edges grouped by owner."""
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int64)
