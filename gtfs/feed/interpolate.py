"""Fill blank arrival/departure times between timepoints.

Each blank stop gets the time at its share of the way between the timepoints
around it: by `shape_dist_traveled` when the trip has it (and it never
decreases), else by straight-line distance between the stops, else evenly.
Interpolated rows get `timepoint = 0` when the feed left it blank.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.snapshot.footpaths import haversine_m
from gtfs.tables import GtfsTables

F64 = npt.NDArray[np.float64]


def interpolate_tables(tables: GtfsTables) -> tuple[GtfsTables, int]:
    """Return the tables with blank stop times filled, and how many rows were filled."""
    filled, count = interpolate_stop_times(tables.stop_times, tables.stops)
    return replace(tables, stop_times=filled), count


def interpolate_stop_times(
    stop_times: pd.DataFrame, stops: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """Return stop_times with every time set (sorted by trip and sequence if any was blank)."""
    if stop_times["arrival_s"].notna().all() and stop_times["departure_s"].notna().all():
        return stop_times, 0  # nothing to fill: no sorted copy of a large table
    df = stop_times.sort_values(["trip_id", "stop_sequence"], kind="stable").reset_index(drop=True)
    arrival = pd.to_numeric(df["arrival_s"]).astype("float64").to_numpy()
    departure = pd.to_numeric(df["departure_s"]).astype("float64").to_numpy()
    arrival = np.where(np.isnan(arrival), departure, arrival)
    departure = np.where(np.isnan(departure), arrival, departure)
    blank = np.isnan(arrival)
    if not blank.any():
        return df, 0
    trip = pd.factorize(df["trip_id"])[0]
    position = _position(df, stops, trip)
    prev_i, next_i = _neighbours(~blank, trip)
    ok = blank & (prev_i >= 0) & (next_i >= 0)
    p, n = np.maximum(prev_i, 0), np.maximum(next_i, 0)
    span = position[n] - position[p]
    by_count = (np.arange(len(df)) - p) / np.maximum(n - p, 1)
    share = np.where(span > 0, (position - position[p]) / np.where(span > 0, span, 1), by_count)
    estimate = departure[p] + np.clip(share, 0, 1) * (arrival[n] - departure[p])
    times = np.where(ok, np.floor(estimate), arrival)
    df["arrival_s"] = pd.array(np.where(blank, times, arrival), dtype="Float64").astype("Int32")
    df["departure_s"] = pd.array(np.where(blank, times, departure), dtype="Float64").astype("Int32")
    timepoint = pd.to_numeric(df["timepoint"]).astype("Int32")
    df["timepoint"] = timepoint.mask(pd.Series(ok) & timepoint.isna(), 0)
    return df, int(ok.sum())


def _neighbours(
    timed: npt.NDArray[np.bool_], trip: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return, per row, the index of the previous and next timed row of the same trip (-1: none)."""
    index = pd.Series(np.where(timed, np.arange(len(timed)), np.nan))
    groups = pd.Series(trip)
    prev_i = index.groupby(groups).ffill().fillna(-1).to_numpy().astype(np.int64)
    next_i = index.groupby(groups).bfill().fillna(-1).to_numpy().astype(np.int64)
    return prev_i, next_i


def _position(df: pd.DataFrame, stops: pd.DataFrame, trip: npt.NDArray[np.int64]) -> F64:
    """Return each row's distance along its trip: shape_dist_traveled where usable, else metres."""
    metres = _straight_line_m(df, stops, trip)
    sdt = pd.to_numeric(df["shape_dist_traveled"]).astype("float64").to_numpy()
    first = np.r_[True, trip[1:] != trip[:-1]]
    step = np.where(first, 0.0, np.diff(sdt, prepend=np.nan))
    bad = pd.Series(np.isnan(sdt) | (step < 0)).groupby(trip).transform("any").to_numpy()
    return np.where(bad, metres, sdt)


def _straight_line_m(df: pd.DataFrame, stops: pd.DataFrame, trip: npt.NDArray[np.int64]) -> F64:
    """Return the cumulative straight-line distance from each trip's first stop (NaN: unknown)."""
    where = pd.Index(stops["stop_id"].astype("string")).get_indexer(
        pd.Index(df["stop_id"].astype("string"))
    )
    # A NaN sentinel at the end: index -1 (a stop not in stops) reads it.
    lat = np.append(pd.to_numeric(stops["stop_lat"]).astype("float64").to_numpy(), np.nan)
    lon = np.append(pd.to_numeric(stops["stop_lon"]).astype("float64").to_numpy(), np.nan)
    row_lat, row_lon = lat[where], lon[where]
    first = np.r_[True, trip[1:] != trip[:-1]]
    prev_lat, prev_lon = np.r_[np.nan, row_lat[:-1]], np.r_[np.nan, row_lon[:-1]]
    step = np.where(first, 0.0, haversine_m(prev_lat, prev_lon, row_lat, row_lon))
    # An unknown coordinate makes the whole trip fall back to even spacing (all zeros).
    unknown = pd.Series(np.isnan(step)).groupby(trip).transform("any").to_numpy()
    return np.asarray(
        pd.Series(np.where(unknown, 0.0, step)).groupby(trip).cumsum(), dtype=np.float64
    )
