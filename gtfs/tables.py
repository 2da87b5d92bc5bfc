"""The timetable as tables: the one shape every part of the gateway exchanges.

An imported feed, the stored feeds read back from PostgreSQL and the merged
network are all a `GtfsTables`: pandas DataFrames with GTFS column names, ids
namespaced by operator (`operator:original_id`) and times as seconds since
the service day's noon minus 12 h (GTFS's "HH:MM:SS", which may pass 24:00:00).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

#: Columns each table carries, in order; optional GTFS columns are present and may be NA.
COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": (
        "agency_id",
        "agency_name",
        "agency_url",
        "agency_timezone",
        "agency_lang",
        "agency_phone",
        "operator_id",
    ),
    "stops": (
        "stop_id",
        "stop_code",
        "stop_name",
        "stop_lat",
        "stop_lon",
        "zone_id",
        "location_type",
        "parent_station",
        "wheelchair_boarding",
        "platform_code",
        "stop_timezone",
        "operator_id",
    ),
    "routes": (
        "route_id",
        "agency_id",
        "route_short_name",
        "route_long_name",
        "route_type",
        "route_color",
        "route_text_color",
        "network_id",
        "operator_id",
    ),
    "trips": (
        "trip_id",
        "route_id",
        "service_id",
        "trip_headsign",
        "direction_id",
        "block_id",
        "shape_id",
        "wheelchair_accessible",
        "operator_id",
    ),
    "stop_times": (
        "trip_id",
        "stop_sequence",
        "stop_id",
        "arrival_s",
        "departure_s",
        "stop_headsign",
        "pickup_type",
        "drop_off_type",
        "timepoint",
        "shape_dist_traveled",
    ),
    "calendar": (
        "service_id",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "start_date",
        "end_date",
    ),
    "calendar_dates": ("service_id", "date", "exception_type"),
    "transfers": ("from_stop_id", "to_stop_id", "transfer_type", "min_transfer_time"),
    "shapes": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}


@dataclass(frozen=True, slots=True)
class GtfsTables:
    """A timetable (one operator's feed, or several merged) as DataFrames with namespaced ids."""

    agency: pd.DataFrame
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendar: pd.DataFrame
    calendar_dates: pd.DataFrame
    transfers: pd.DataFrame
    shapes: pd.DataFrame

    @classmethod
    def empty(cls) -> GtfsTables:
        """Return tables with every column and no rows."""
        return cls(**{name: pd.DataFrame(columns=list(cols)) for name, cols in COLUMNS.items()})

    def table_names(self) -> tuple[str, ...]:
        """Return the names of the tables, in dependency order."""
        return tuple(f.name for f in fields(self))


def namespaced(operator_id: str, original_id: str) -> str:
    """Return the gateway-wide id of an operator's own id."""
    return f"{operator_id}:{original_id}"


def original_id(namespaced_id: str) -> str:
    """Return the operator's own id from a gateway-wide id."""
    return namespaced_id.split(":", 1)[1]


def operator_of(namespaced_id: str) -> str:
    """Return the operator id a gateway-wide id belongs to."""
    return namespaced_id.split(":", 1)[0]


def concat(parts: list[GtfsTables]) -> GtfsTables:
    """Merge several operators' tables into one network (ids are already namespaced)."""
    if not parts:
        return GtfsTables.empty()
    merged = {
        name: pd.concat([getattr(p, name) for p in parts], ignore_index=True) for name in COLUMNS
    }
    return GtfsTables(**merged)


def seconds_from_gtfs_time(times: pd.Series) -> pd.Series:
    """Parse GTFS "H:MM:SS" strings (which may pass 24:00:00) into nullable Int32 seconds."""
    parts = times.astype("string").str.strip().str.split(":", expand=True)
    if parts.shape[1] != 3:
        return pd.Series(pd.NA, index=times.index, dtype="Int32")
    h, m, s = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
    return (h * 3600 + m * 60 + s).astype("Int32")


def gtfs_time_from_seconds(seconds: pd.Series) -> pd.Series:
    """Format seconds as GTFS "HH:MM:SS" (hours may exceed 23); NA stays empty."""
    s = seconds.astype("Int64")
    text = (
        (s // 3600).astype("string").str.zfill(2)
        + ":"
        + (s % 3600 // 60).astype("string").str.zfill(2)
        + ":"
        + (s % 60).astype("string").str.zfill(2)
    )
    return text.fillna("")
