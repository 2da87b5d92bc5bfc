"""Scheduled times per trip as flat numpy arrays, built once per timetable snapshot.

TripUpdates are applied against this index: finding the stop a StopTimeUpdate
means (by stop_sequence or stop_id), the scheduled seconds of every stop of a
trip, and the service day an absolute POSIX time belongs to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import KeysView
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.tables import GtfsTables

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NOON_S = 12 * 3600
_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=4096)
def service_day_start_s(day: dt.date, zone: ZoneInfo) -> int:
    """Return the POSIX second GTFS times of `day` count from: local noon minus 12 h."""
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zone)
    return int(noon.timestamp()) - _NOON_S


@lru_cache(maxsize=4096)
def parse_service_date(text: str) -> dt.date | None:
    """Parse a GTFS YYYYMMDD date, or return None when it is malformed."""
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 (a date, no zone)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, eq=False)
class ServiceCalendar:
    """Which services run on a date, from calendar and calendar_dates (cached per date)."""

    service_codes: dict[str, int]
    weekday_flags: npt.NDArray[np.bool_]
    start_dates: Int64Array
    end_dates: Int64Array
    exceptions: dict[int, list[tuple[int, int]]]
    _cache: dict[dt.date, BoolArray] = field(default_factory=dict)

    def active(self, day: dt.date) -> BoolArray:
        """Return a flag per service code: does the service run on `day`."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        day_int = day.year * 10000 + day.month * 100 + day.day
        flags = self.weekday_flags[:, day.weekday()] & (self.start_dates <= day_int)
        flags &= self.end_dates >= day_int
        for code, exception_type in self.exceptions.get(day_int, ()):
            flags[code] = exception_type == 1
        self._cache[day] = flags
        return flags


def build_service_calendar(tables: GtfsTables, service_codes: dict[str, int]) -> ServiceCalendar:
    """Index calendar and calendar_dates by service code."""
    n = len(service_codes)
    weekday_flags = np.zeros((n, 7), dtype=np.bool_)
    start_dates = np.zeros(n, dtype=np.int64)
    end_dates = np.zeros(n, dtype=np.int64)
    calendar = tables.calendar.dropna(subset=["service_id"])
    codes = calendar["service_id"].astype(str).map(service_codes).to_numpy(dtype=np.int64)
    for column, weekday in enumerate(_WEEKDAYS):
        weekday_flags[codes, column] = calendar[weekday].fillna(0).astype(int).to_numpy() == 1
    start_dates[codes] = pd.to_numeric(calendar["start_date"], errors="coerce").fillna(0)
    end_dates[codes] = pd.to_numeric(calendar["end_date"], errors="coerce").fillna(0)
    exceptions: dict[int, list[tuple[int, int]]] = {}
    dates = tables.calendar_dates.dropna(subset=["service_id", "date"])
    for service_id, date, exception_type in dates[
        ["service_id", "date", "exception_type"]
    ].itertuples(index=False):
        exceptions.setdefault(int(date), []).append(
            (service_codes[str(service_id)], int(exception_type))
        )
    return ServiceCalendar(service_codes, weekday_flags, start_dates, end_dates, exceptions)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class TripSchedules:
    """Every trip's stop times as flat arrays sorted by (trip, stop_sequence); rows are indices."""

    trip_ids: tuple[str, ...]
    trip_index: dict[str, int]
    row_start: Int64Array
    row_end: Int64Array
    stop_sequence: Int64Array
    stop_code: Int64Array
    arrival_s: Int64Array
    departure_s: Int64Array
    seq_keys: Int64Array
    seq_span: int
    stop_keys: Int64Array
    stop_key_rows: Int64Array
    stop_codes: dict[str, int]
    trip_service: Int64Array
    trip_zone: Int64Array
    zones: tuple[ZoneInfo, ...]
    calendar: ServiceCalendar

    def __repr__(self) -> str:
        return f"TripSchedules({len(self.trip_ids)} trips, {len(self.arrival_s)} stop times)"

    def known_trip_ids(self) -> KeysView[str]:
        """Return the namespaced ids of every trip in the snapshot (a view: no copy)."""
        return self.trip_index.keys()

    def known_stop_ids(self) -> KeysView[str]:
        """Return the namespaced ids of every stop in the snapshot (a view: no copy)."""
        return self.stop_codes.keys()

    def service_date(self, trip: int, start_date: str, day_start_s: int) -> dt.date | None:
        """Return a trip instance's service date: start_date, or where its times fit, or None.

        `day_start_s` is the start of the service day its absolute times fitted (0: none).
        """
        day = parse_service_date(start_date) if start_date else None
        if day is not None or not day_start_s:
            return day
        zone = self.zones[int(self.trip_zone[trip])]
        return dt.datetime.fromtimestamp(day_start_s + _NOON_S, zone).date()

    def service_day_start_s(self, trip: int, start_date: str, reference_s: int) -> int:
        """Return the service day start of a trip instance: its start_date, or the day that fits."""
        zone = self.zones[int(self.trip_zone[trip])]
        day = parse_service_date(start_date) if start_date else None
        if day is not None:
            return service_day_start_s(day, zone)
        return self._fitting_day_start_s(trip, zone, reference_s)

    def _fitting_day_start_s(self, trip: int, zone: ZoneInfo, reference_s: int) -> int:
        local_day = dt.datetime.fromtimestamp(reference_s, zone).date()
        start, end = int(self.row_start[trip]), int(self.row_end[trip])
        first_s = int(self.departure_s[start]) if end > start else 0
        last_s = int(self.arrival_s[end - 1]) if end > start else 0
        service = int(self.trip_service[trip])
        candidates: list[tuple[bool, int, int]] = []
        for day in (local_day - _DAY, local_day, local_day + _DAY):
            day_start_s = service_day_start_s(day, zone)
            distance_s = max(
                day_start_s + first_s - reference_s, reference_s - day_start_s - last_s
            )
            runs = bool(self.calendar.active(day)[service]) if service >= 0 else True
            candidates.append((not runs, max(distance_s, 0), day_start_s))
        return min(candidates)[2]


def _trip_zones(tables: GtfsTables, trip_ids: pd.Index) -> tuple[Int64Array, tuple[ZoneInfo, ...]]:
    agency = tables.agency.dropna(subset=["agency_timezone"])
    names = list(dict.fromkeys(agency["agency_timezone"].astype(str))) or ["UTC"]
    zones = tuple(ZoneInfo(name) for name in names)
    zone_of_agency = dict(
        zip(agency["agency_id"].astype(str), agency["agency_timezone"].astype(str), strict=True)
    )
    zone_of_route = {
        str(route): names.index(zone_of_agency.get(str(agency_id), names[0]))
        for route, agency_id in tables.routes[["route_id", "agency_id"]].itertuples(index=False)
    }
    route_of_trip = tables.trips.drop_duplicates("trip_id").set_index("trip_id")["route_id"]
    routes = route_of_trip.reindex(trip_ids).astype(str)
    codes = np.asarray(routes.map(zone_of_route).fillna(0), dtype=np.int64)
    return codes, zones


def _sorted_stop_times(tables: GtfsTables) -> pd.DataFrame:
    st = tables.stop_times[["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"]]
    st = st.dropna(subset=["trip_id", "stop_sequence"])
    arrival = st["arrival_s"].astype("Int64")
    departure = st["departure_s"].astype("Int64")
    st = st.assign(
        arrival_s=arrival.fillna(departure), departure_s=departure.fillna(arrival)
    ).dropna(subset=["arrival_s"])
    return st.sort_values(["trip_id", "stop_sequence"], kind="stable").reset_index(drop=True)


def _unique_ids(*columns: pd.Series) -> pd.Index:
    """Every distinct id of the columns, in order of first appearance."""
    ids: pd.Index = pd.Index(pd.concat([c.dropna() for c in columns]).astype(str).unique())
    return ids


def _trip_services(tables: GtfsTables, trip_ids: pd.Index) -> tuple[dict[str, int], Int64Array]:
    """Return the service codes and each trip's service code (-1: none)."""
    service_ids = _unique_ids(tables.calendar["service_id"], tables.calendar_dates["service_id"])
    codes = {service: i for i, service in enumerate(service_ids)}
    trips = tables.trips.drop_duplicates("trip_id").set_index("trip_id")
    services = trips["service_id"].astype(str).reindex(trip_ids)
    return codes, np.asarray(services.map(codes).fillna(-1), dtype=np.int64)


def build_trip_schedules(tables: GtfsTables) -> TripSchedules:
    """Index a snapshot's stop times for TripUpdates (once per snapshot, not per message)."""
    st = _sorted_stop_times(tables)
    # Sorted stop times first, so trip codes rise with the rows; trips without times follow.
    trip_ids = _unique_ids(st["trip_id"], tables.trips["trip_id"])
    trip_of_row = trip_ids.get_indexer(pd.Index(st["trip_id"].astype(str))).astype(np.int64)
    counts = np.bincount(trip_of_row, minlength=len(trip_ids))
    row_end = np.cumsum(counts).astype(np.int64)
    stop_ids = _unique_ids(tables.stops["stop_id"], st["stop_id"])
    stop_code = stop_ids.get_indexer(pd.Index(st["stop_id"].astype(str))).astype(np.int64)
    stop_sequence = st["stop_sequence"].to_numpy(dtype=np.int64)
    seq_span = int(stop_sequence.max()) + 1 if len(st) else 1
    stop_keys = trip_of_row * (len(stop_ids) + 1) + stop_code
    order = np.lexsort((np.arange(len(st)), stop_keys))
    service_codes, trip_service = _trip_services(tables, trip_ids)
    zone_codes, zones = _trip_zones(tables, trip_ids)
    return TripSchedules(
        trip_ids=tuple(trip_ids),
        trip_index={t: i for i, t in enumerate(trip_ids)},
        row_start=row_end - counts,
        row_end=row_end,
        stop_sequence=stop_sequence,
        stop_code=stop_code,
        arrival_s=st["arrival_s"].to_numpy(dtype=np.int64),
        departure_s=st["departure_s"].to_numpy(dtype=np.int64),
        seq_keys=trip_of_row * seq_span + stop_sequence,
        seq_span=seq_span,
        stop_keys=stop_keys[order],
        stop_key_rows=order.astype(np.int64),
        stop_codes={s: i for i, s in enumerate(stop_ids)},
        trip_service=trip_service,
        trip_zone=zone_codes,
        zones=zones,
        calendar=build_service_calendar(tables, service_codes),
    )
