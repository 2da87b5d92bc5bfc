"""Service days of the compiled timetable: calendar + calendar_dates as a (service x day) matrix."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def index_of(index: pd.Index, values: pd.Series) -> npt.NDArray[np.int64]:
    """Return the position of each value in `index` (-1 where absent), comparing as strings."""
    return np.asarray(index.get_indexer(pd.Index(values.astype("string"))), dtype=np.int64)


def _ordinals(dates: pd.Series) -> npt.NDArray[np.int64]:
    """Parse GTFS "YYYYMMDD" dates into proleptic Gregorian ordinals (-1 where unparsable)."""
    parsed = pd.to_datetime(dates.astype("string"), format="%Y%m%d", errors="coerce")
    # 719163 is date(1970, 1, 1).toordinal(): days since the epoch -> ordinals.
    days = (parsed - pd.Timestamp("1970-01-01")).dt.days
    return np.asarray(days.fillna(-719164).astype("int64"), dtype=np.int64) + 719163


def service_matrix(
    service_index: pd.Index, calendar: pd.DataFrame, calendar_dates: pd.DataFrame
) -> tuple[int, npt.NDArray[np.bool_]]:
    """Return (first day ordinal, active[service, day]) from calendar and calendar_dates."""
    cal_svc = index_of(service_index, calendar["service_id"].astype("string"))
    start, end = _ordinals(calendar["start_date"]), _ordinals(calendar["end_date"])
    ex_svc = index_of(service_index, calendar_dates["service_id"].astype("string"))
    ex_day = _ordinals(calendar_dates["date"])
    known = np.concatenate([start[start > 0], end[end > 0], ex_day[ex_day > 0]])
    if len(known) == 0:
        return 0, np.zeros((len(service_index), 0), dtype=np.bool_)
    first, last = int(known.min()), int(known.max())
    active = np.zeros((len(service_index), last - first + 1), dtype=np.bool_)
    days = np.arange(first, last + 1, dtype=np.int64)
    weekday = (days - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
    flags = (
        np.stack(
            [
                pd.to_numeric(calendar[w], errors="coerce").fillna(0).to_numpy() == 1
                for w in WEEKDAYS
            ],
            axis=1,
        )
        if len(calendar)
        else np.zeros((0, 7), dtype=np.bool_)
    )
    for row in np.flatnonzero((cal_svc >= 0) & (start > 0) & (end > 0)):
        in_range = (days >= start[row]) & (days <= end[row])
        active[cal_svc[row]] |= in_range & flags[row][weekday]
    kind = pd.to_numeric(calendar_dates["exception_type"], errors="coerce").fillna(0).to_numpy()
    ok = (ex_svc >= 0) & (ex_day > 0)
    active[ex_svc[ok & (kind == 1)], ex_day[ok & (kind == 1)] - first] = True
    active[ex_svc[ok & (kind == 2)], ex_day[ok & (kind == 2)] - first] = False
    return first, active


@functools.lru_cache(maxsize=4096)
def service_day_start(day: dt.date, timezone: str) -> int:
    """Return the epoch second at which GTFS times of service day `day` count from (noon - 12 h)."""
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(timezone))
    return int(noon.timestamp()) - 12 * 3600
