"""The compiled timetable snapshot: immutable flat arrays that the journey planner reads.

Built once from a merged `GtfsTables` by the one writer and then only read.
Stops, routes and trips become dense integer indices; stop_times become flat
arrays ordered by trip and stop_sequence; trips with the same stops (and the
same pickup/drop-off rules) form a pattern whose trips are sorted by their
first departure. Service days are a (service x day) matrix, footpaths a CSR
adjacency list of walking links between stops of any operators.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.snapshot.footpaths import Footpaths, WalkingConfig, build_footpaths
from gtfs.snapshot.service import index_of, service_matrix
from gtfs.snapshot.stop_places import StopPlaces, build_stop_places
from gtfs.tables import GtfsTables

log = logging.getLogger(__name__)


I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Stops:
    """Stops by dense index: ids, names, coordinates, operator, accessibility (0/1/2 as GTFS)."""

    ids: tuple[str, ...]
    index: dict[str, int]
    names: tuple[str, ...]
    lat: F64
    lon: F64
    operator_ids: tuple[str, ...]
    wheelchair: I8


@dataclass(frozen=True, slots=True, eq=False)
class Routes:
    """Routes by dense index."""

    ids: tuple[str, ...]
    short_names: tuple[str, ...]
    long_names: tuple[str, ...]
    route_type: I32
    operator_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Trips:
    """Trips by dense index; `time_ptr[t]:time_ptr[t+1]` slices the flat stop_time arrays."""

    ids: tuple[str, ...]
    index: dict[str, int]
    route: I32
    service: I32
    headsigns: tuple[str, ...]
    shape: I32
    block: I32
    wheelchair: I8
    timezone: I32
    pattern: I32
    time_ptr: I64
    stop: I32
    arrival_s: I32
    departure_s: I32


@dataclass(frozen=True, slots=True, eq=False)
class Patterns:
    """Trip patterns: `stop_ptr` slices stops and their board/alight flags, `trip_ptr` trips."""

    stop_ptr: I64
    stops: I32
    can_board: B
    can_alight: B
    trip_ptr: I64
    trips: I32


@dataclass(frozen=True, slots=True, eq=False)
class Shapes:
    """Shape points, `ptr` slicing `lat`/`lon` per shape index."""

    ids: tuple[str, ...]
    ptr: I64
    lat: F64
    lon: F64


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """One immutable compiled timetable of every operator; readers never see it change."""

    timezone: str
    timezones: tuple[str, ...]
    stops: Stops
    routes: Routes
    trips: Trips
    patterns: Patterns
    footpaths: Footpaths
    shapes: Shapes
    service_ids: tuple[str, ...]
    first_day: int
    service_active: B
    walking: WalkingConfig
    warnings: tuple[str, ...]
    #: Stops that several operators share, grouped into places.
    places: StopPlaces
    #: Each stop's time zone (an index into `timezones`): its operator's agencies' zone.
    stop_timezone: I32


def _strings(series: pd.Series) -> tuple[str, ...]:
    """Return a string column as a tuple with NA as ""."""
    return tuple(series.astype("string").fillna("").tolist())


def _codes(series: pd.Series, fill: int = 0) -> npt.NDArray[np.int64]:
    """Return a nullable numeric column as int64 with NA as `fill`."""
    values = pd.to_numeric(series, errors="coerce").fillna(fill)
    return np.asarray(values, dtype=np.int64)


def _build_stops(stops: pd.DataFrame) -> Stops:
    """Index the stops; a stop with no wheelchair value inherits its parent station's."""
    ids = _strings(stops["stop_id"])
    own = _codes(stops["wheelchair_boarding"])
    parent = index_of(pd.Index(ids), stops["parent_station"].astype("string").fillna(""))
    inherited = np.where((own == 0) & (parent >= 0), own[np.maximum(parent, 0)], own)
    return Stops(
        ids=ids,
        index={s: i for i, s in enumerate(ids)},
        names=_strings(stops["stop_name"]),
        lat=np.asarray(pd.to_numeric(stops["stop_lat"]), dtype=np.float64),
        lon=np.asarray(pd.to_numeric(stops["stop_lon"]), dtype=np.float64),
        operator_ids=_strings(stops["operator_id"]),
        wheelchair=inherited.astype(np.int8),
    )


def _build_routes(routes: pd.DataFrame) -> Routes:
    """Index the routes."""
    return Routes(
        ids=_strings(routes["route_id"]),
        short_names=_strings(routes["route_short_name"]),
        long_names=_strings(routes["route_long_name"]),
        route_type=_codes(routes["route_type"], 3).astype(np.int32),
        operator_ids=_strings(routes["operator_id"]),
    )


def _clean_stop_times(
    tables: GtfsTables, trip_ids: pd.Index, stop_ids: pd.Index, warnings: list[str]
) -> pd.DataFrame:
    """Return stop_times with dense trip/stop codes, sorted, without unusable trips (counted)."""
    st = tables.stop_times
    df = pd.DataFrame(
        {
            "trip": index_of(trip_ids, st["trip_id"].astype("string")),
            "stop": index_of(stop_ids, st["stop_id"].astype("string")),
            "seq": _codes(st["stop_sequence"]),
            "arr": pd.to_numeric(st["arrival_s"], errors="coerce"),
            "dep": pd.to_numeric(st["departure_s"], errors="coerce"),
            "pickup": _codes(st["pickup_type"]) != 1,
            "dropoff": _codes(st["drop_off_type"]) != 1,
        }
    )
    df["arr"] = df["arr"].fillna(df["dep"])
    df["dep"] = df["dep"].fillna(df["arr"])
    bad = df["arr"].isna() | (df["trip"] < 0) | (df["stop"] < 0) | (df["dep"] < df["arr"])
    df = df.sort_values(["trip", "seq"], kind="stable")
    prev_dep = df["dep"].shift(1)
    same_trip = df["trip"].eq(df["trip"].shift(1))
    bad |= same_trip & (df["arr"] < prev_dep)
    bad_trips = set(df.loc[bad, "trip"].tolist())
    size = df.groupby("trip", sort=False)["trip"].transform("size")
    short = set(df.loc[size < 2, "trip"].tolist())
    dropped = (bad_trips | short) - {-1}
    if dropped or bad_trips:
        warnings.append(f"dropped {len(dropped)} trips with missing, unknown or decreasing times")
        log.warning("snapshot: %s", warnings[-1])
    keep = ~df["trip"].isin(dropped | {-1})
    return df.loc[keep].astype({"arr": "int32", "dep": "int32"}).reset_index(drop=True)


def _build_patterns(df: pd.DataFrame, n_trips: int) -> tuple[Patterns, I32, I64]:
    """Group trips by stops and pickup/drop-off rules; return (patterns, trip pattern, time_ptr)."""
    trip = df["trip"].to_numpy()
    stop = df["stop"].to_numpy().astype(np.int32)
    flags = (df["pickup"].to_numpy().astype(np.int8) + 2 * df["dropoff"].to_numpy()).astype(np.int8)
    counts = np.bincount(trip, minlength=n_trips)
    time_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    trip_pattern = np.full(n_trips, -1, dtype=np.int32)
    keys: dict[bytes, int] = {}
    first_stop_rows: list[int] = []
    for t in np.flatnonzero(counts):
        a, b = int(time_ptr[t]), int(time_ptr[t + 1])
        key = stop[a:b].tobytes() + flags[a:b].tobytes()
        p = keys.setdefault(key, len(keys))
        if p == len(first_stop_rows):
            first_stop_rows.append(a)
        trip_pattern[t] = p
    rows = np.asarray(first_stop_rows, dtype=np.int64)
    pat_len = counts[trip[rows]] if len(rows) else np.zeros(0, dtype=np.int64)
    stop_ptr = np.concatenate([[0], np.cumsum(pat_len)]).astype(np.int64)
    flat = np.repeat(rows, pat_len) + (
        np.arange(int(stop_ptr[-1])) - np.repeat(stop_ptr[:-1], pat_len)
    )
    first_dep = df["dep"].to_numpy()[time_ptr[:-1].clip(max=max(len(df) - 1, 0))]
    active = np.flatnonzero(trip_pattern >= 0)
    order = active[np.lexsort((first_dep[active], trip_pattern[active]))]
    trip_counts = np.bincount(trip_pattern[active], minlength=len(rows))
    patterns = Patterns(
        stop_ptr=stop_ptr,
        stops=stop[flat],
        can_board=(flags[flat] & 1).astype(np.bool_),
        can_alight=(flags[flat] & 2).astype(np.bool_),
        trip_ptr=np.concatenate([[0], np.cumsum(trip_counts)]).astype(np.int64),
        trips=order.astype(np.int32),
    )
    return patterns, trip_pattern, time_ptr


def _trip_timezones(tables: GtfsTables) -> tuple[str, tuple[str, ...], I32]:
    """Return (network time zone, every time zone, per-route zone index) from the agencies."""
    agency = tables.agency
    tz_of_agency = dict(
        zip(_strings(agency["agency_id"]), _strings(agency["agency_timezone"]), strict=True)
    )
    route_tz = [tz_of_agency.get(a) or "" for a in _strings(tables.routes["agency_id"])]
    fallback = Counter(z for z in tz_of_agency.values() if z).most_common(1)
    network = fallback[0][0] if fallback else "UTC"
    route_tz = [z or network for z in route_tz]
    zones = tuple(sorted(set(route_tz) | {network}))
    if len(zones) > 1:
        log.info("snapshot: several time zones %s; network time zone %s", zones, network)
    return network, zones, np.asarray([zones.index(z) for z in route_tz], dtype=np.int32)


def _stop_timezones(tables: GtfsTables, stops: Stops, zones: tuple[str, ...], network: str) -> I32:
    """Return each stop's zone index: the zone of its operator's agencies, else the network's."""
    agency = tables.agency
    counted: dict[str, Counter[str]] = {}
    for op, zone in zip(
        _strings(agency["operator_id"]), _strings(agency["agency_timezone"]), strict=True
    ):
        if zone in zones:
            counted.setdefault(op, Counter())[zone] += 1
    of_operator = {op: zones.index(c.most_common(1)[0][0]) for op, c in counted.items()}
    fallback = zones.index(network)
    return np.asarray([of_operator.get(op, fallback) for op in stops.operator_ids], dtype=np.int32)


def _build_shapes(shapes: pd.DataFrame) -> Shapes:
    """Pack shape points, ordered by shape and sequence."""
    df = shapes.assign(seq=_codes(shapes["shape_pt_sequence"])).sort_values(["shape_id", "seq"])
    ids, codes = np.unique(
        df["shape_id"].astype("string").fillna("").to_numpy(dtype=str), return_inverse=True
    )
    counts = np.bincount(codes, minlength=len(ids))
    return Shapes(
        ids=tuple(str(s) for s in ids),
        ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        lat=np.asarray(pd.to_numeric(df["shape_pt_lat"]), dtype=np.float64),
        lon=np.asarray(pd.to_numeric(df["shape_pt_lon"]), dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class _TripContext:
    """What trips are indexed against: routes' time zones, services and shapes."""

    route_index: pd.Index
    route_tz: I32
    network_zone: int
    service_index: pd.Index
    shape_index: pd.Index


def _build_trips(
    trips_df: pd.DataFrame, st: pd.DataFrame, ctx: _TripContext
) -> tuple[Trips, Patterns]:
    """Index the trips, pack their stop_times (cleaned, sorted) and group them in patterns."""
    patterns_of = _build_patterns(st, len(trips_df))
    trip_route = index_of(ctx.route_index, trips_df["route_id"]).astype(np.int32)
    route_zone = ctx.route_tz[np.maximum(trip_route, 0)] if len(ctx.route_tz) else 0
    ids = _strings(trips_df["trip_id"])
    return Trips(
        ids=ids,
        index={t: i for i, t in enumerate(ids)},
        route=trip_route,
        service=index_of(ctx.service_index, trips_df["service_id"]).astype(np.int32),
        headsigns=_strings(trips_df["trip_headsign"]),
        shape=index_of(ctx.shape_index, trips_df["shape_id"]).astype(np.int32),
        block=pd.factorize(trips_df["block_id"].astype("string"))[0].astype(np.int32),
        wheelchair=_codes(trips_df["wheelchair_accessible"]).astype(np.int8),
        timezone=np.where(trip_route >= 0, route_zone, ctx.network_zone).astype(np.int32),
        pattern=patterns_of[1],
        time_ptr=patterns_of[2],
        stop=st["stop"].to_numpy().astype(np.int32),
        arrival_s=st["arr"].to_numpy().astype(np.int32),
        departure_s=st["dep"].to_numpy().astype(np.int32),
    ), patterns_of[0]


def _headsigns(trips: Trips, stop_names: tuple[str, ...]) -> tuple[str, ...]:
    """Return each trip's headsign: where the feed gives none, its last stop's name."""
    signs = list(trips.headsigns)
    ptr = trips.time_ptr
    for t in (i for i, sign in enumerate(signs) if not sign):
        if ptr[t + 1] > ptr[t]:
            signs[t] = stop_names[int(trips.stop[ptr[t + 1] - 1])]
    return tuple(signs)


def build_snapshot(tables: GtfsTables, walking: WalkingConfig | None = None) -> Snapshot:
    """Compile merged tables into an immutable snapshot for the journey planner."""
    walking = walking or WalkingConfig()
    warnings: list[str] = []
    stops, routes = _build_stops(tables.stops), _build_routes(tables.routes)
    trip_ids = pd.Index(tables.trips["trip_id"].astype("string"))
    st = _clean_stop_times(tables, trip_ids, pd.Index(stops.ids), warnings)
    network_tz, zones, route_tz = _trip_timezones(tables)
    service_index = pd.Index(pd.unique(tables.trips["service_id"].astype("string")))
    first_day, active = service_matrix(service_index, tables.calendar, tables.calendar_dates)
    shapes = _build_shapes(tables.shapes)
    ctx = _TripContext(
        pd.Index(routes.ids), route_tz, zones.index(network_tz), service_index, pd.Index(shapes.ids)
    )
    trips, patterns = _build_trips(tables.trips, st, ctx)
    trips = replace(trips, headsigns=_headsigns(trips, stops.names))
    return Snapshot(
        timezone=network_tz,
        timezones=zones,
        stops=stops,
        routes=routes,
        trips=trips,
        patterns=patterns,
        footpaths=build_footpaths(stops.ids, stops.lat, stops.lon, tables.transfers, walking),
        shapes=shapes,
        service_ids=tuple(str(x) for x in service_index),
        first_day=first_day,
        service_active=active,
        walking=walking,
        warnings=tuple(warnings),
        places=build_stop_places(stops.ids, stops.lat, stops.lon, stops.operator_ids),
        stop_timezone=_stop_timezones(tables, stops, zones, network_tz),
    )
