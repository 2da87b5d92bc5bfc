"""Rules of stop_times.txt: references, sequence numbers, time syntax and time order.

Times past 24:00:00 are valid (a trip that runs after midnight of its service day).
Blank times are allowed between timepoints (they are interpolated later), but
the first and last stop of every trip must have them.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.feed.validate.issues import Issues
from gtfs.feed.validate.rules import blank, check_reference, matches, text

_TIME = re.compile(r"^\d{1,3}:[0-5]\d:[0-5]\d$")
_INT = re.compile(r"^\d+$")
F64 = npt.NDArray[np.float64]


def seconds_of(series: pd.Series) -> F64:
    """Parse a categorical GTFS time column into seconds (NaN where blank or malformed)."""
    categories = [str(c) for c in series.cat.categories]
    per_category = np.full(len(categories), np.nan)
    for i, value in enumerate(categories):
        value = value.strip()
        if _TIME.match(value):
            h, m, s = value.split(":")
            per_category[i] = int(h) * 3600 + int(m) * 60 + int(s)
    codes = series.cat.codes.to_numpy()
    out = per_category[np.maximum(codes, 0)] if len(categories) else np.full(len(series), np.nan)
    return np.where(codes >= 0, out, np.nan)


def numbers_of(series: pd.Series) -> F64:
    """Parse a categorical column of numbers once per category (NaN where not a number)."""
    categories = pd.to_numeric(pd.Series([str(c) for c in series.cat.categories]), errors="coerce")
    per_category = np.append(categories.to_numpy(dtype=np.float64), np.nan)
    return np.asarray(per_category[series.cat.codes.to_numpy()], dtype=np.float64)


def check_stop_times(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Check stop_times and the trips and stops they serve."""
    df = raw["stop_times"]
    check_reference(raw, ("stop_times", "trip_id"), ("trips", "trip_id"), issues)
    check_reference(raw, ("stop_times", "stop_id"), ("stops", "stop_id"), issues)
    seq = text(df, "stop_sequence")
    issues.rows(
        "stop_times.txt",
        df,
        ~matches(seq, _INT),
        "stop_sequence",
        "{value!r} is not a non-negative integer",
    )
    for column in ("arrival_time", "departure_time"):
        values = text(df, column)
        bad = ~matches(values, _TIME) & ~blank(values)
        issues.rows("stop_times.txt", df, bad, column, "{value!r} is not a time H:MM:SS")
    if issues.error_total:
        return
    _check_order(df, issues)
    _check_usage(raw, issues)


def _check_order(df: pd.DataFrame, issues: Issues) -> None:
    """First and last stops have times; times never go backwards along a trip."""
    arrival = seconds_of(df["arrival_time"])
    departure = seconds_of(df["departure_time"])
    issues.rows(
        "stop_times.txt",
        df,
        arrival > departure,
        "departure_time",
        "{value} is before arrival_time",
    )
    trip = df["trip_id"].cat.codes.to_numpy()
    order = np.lexsort((numbers_of(df["stop_sequence"]), trip))
    t, arr, dep = trip[order], arrival[order], departure[order]
    starts = np.r_[True, t[1:] != t[:-1]]
    ends = np.r_[t[1:] != t[:-1], True]
    missing = (starts | ends) & (np.isnan(arr) | np.isnan(dep))
    timed = ~np.isnan(np.where(np.isnan(dep), arr, dep))
    last = pd.Series(np.where(timed, np.arange(len(t)), np.nan)).ffill().shift(1).to_numpy()
    prev = np.nan_to_num(last, nan=-1).astype(np.int64)
    same_trip = (prev >= 0) & (t[np.maximum(prev, 0)] == t)
    prev_dep = np.where(same_trip, np.fmax(dep, arr)[np.maximum(prev, 0)], np.nan)
    here = np.where(np.isnan(arr), dep, arr)
    backwards = same_trip & (here < prev_dep)
    for mask, column, message in (
        (missing, "arrival_time", "the first and last stop of a trip need times"),
        (backwards, "arrival_time", "{value} is before the previous stop's departure"),
    ):
        scattered = np.zeros(len(df), dtype=bool)
        scattered[order] = mask
        issues.rows("stop_times.txt", df, scattered, column, message)


def _check_usage(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Warn about trips with fewer than two stops and stops no trip serves."""
    st = raw["stop_times"]
    counts = st["trip_id"].value_counts()
    trips = raw["trips"]
    n_stops = text(trips, "trip_id").map(counts).fillna(0).to_numpy()
    issues.rows(
        "trips.txt",
        trips,
        n_stops < 2,
        "trip_id",
        "trip {value!r} has fewer than two stop_times",
        warn=True,
    )
    stops = raw["stops"]
    served = set(st["stop_id"].cat.categories[np.unique(st["stop_id"].cat.codes)].astype(str))
    parents = set(text(stops, "parent_station").tolist())
    idle = ~text(stops, "stop_id").isin(served | parents) & text(stops, "location_type").isin(
        ["", "0"]
    )
    issues.rows(
        "stops.txt", stops, idle, "stop_id", "stop {value!r} is served by no trip", warn=True
    )
