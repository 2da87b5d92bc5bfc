"""The rules a GTFS feed must pass: required files and columns, ids, references, values.

Every table arrives as text (blank cells are ""); stop_times' id and time
columns are categories, so per-value checks run once per distinct value.
"""

from __future__ import annotations

import re
import zoneinfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gtfs.feed.validate.issues import Issues

Mask = npt.NDArray[np.bool_]

REQUIRED_FILES = ("agency", "stops", "routes", "trips", "stop_times")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_name", "agency_url", "agency_timezone"),
    "stops": ("stop_id",),
    "routes": ("route_id", "route_type"),
    "trips": ("route_id", "service_id", "trip_id"),
    "stop_times": ("trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time"),
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
    "transfers": ("from_stop_id", "to_stop_id", "transfer_type"),
    "shapes": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}
#: (table, key columns) that must be unique.
UNIQUE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agency", ("agency_id",)),
    ("stops", ("stop_id",)),
    ("routes", ("route_id",)),
    ("trips", ("trip_id",)),
    ("stop_times", ("trip_id", "stop_sequence")),
    ("calendar", ("service_id",)),
    ("calendar_dates", ("service_id", "date")),
    ("shapes", ("shape_id", "shape_pt_sequence")),
)
#: Columns holding small enumerations: (table, column, allowed values; blank is always allowed).
ENUMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("stops", "location_type", ("0", "1", "2", "3", "4")),
    ("stops", "wheelchair_boarding", ("0", "1", "2")),
    ("trips", "direction_id", ("0", "1")),
    ("trips", "wheelchair_accessible", ("0", "1", "2")),
    ("stop_times", "pickup_type", ("0", "1", "2", "3")),
    ("stop_times", "drop_off_type", ("0", "1", "2", "3")),
    ("stop_times", "timepoint", ("0", "1")),
    ("calendar_dates", "exception_type", ("1", "2")),
    ("transfers", "transfer_type", ("0", "1", "2", "3", "4", "5")),
    *(
        ("calendar", day, ("0", "1"))
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    ),
)
#: Required columns whose cells may be empty (times between timepoints).
_MAY_BE_BLANK = {"arrival_time", "departure_time"}
_TIME = re.compile(r"^\d{1,3}:[0-5]\d:[0-5]\d$")
_DATE = re.compile(r"^\d{8}$")
_INT = re.compile(r"^\d+$")


def text(df: pd.DataFrame, column: str) -> pd.Series:
    """Return a column stripped of surrounding spaces, or blanks when the column is missing."""
    if column not in df:
        return pd.Series("", index=df.index, dtype=object)
    series = df[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.rename_categories([str(c) for c in series.cat.categories])
    return series.str.strip()


def blank(series: pd.Series) -> Mask:
    """Return where a text column is empty."""
    return np.asarray(series == "", dtype=bool)


def matches(series: pd.Series, pattern: re.Pattern[str]) -> Mask:
    """Return where a text column matches a regex (once per category for categoricals)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        per_category = np.asarray(
            [bool(pattern.match(str(c))) for c in series.cat.categories], dtype=bool
        )
        return (
            per_category[series.cat.codes.to_numpy()]
            if len(per_category)
            else np.zeros(len(series), dtype=bool)
        )
    return np.asarray(series.str.match(pattern.pattern), dtype=bool)


def check_tables(raw: dict[str, pd.DataFrame], issues: Issues) -> bool:
    """Run the rules of every table but stop_times; return whether stop_times can be checked."""
    if not _check_presence(raw, issues):
        return False
    for table, key in UNIQUE_KEYS:
        _check_unique(raw, table, key, issues)
    for table, column, allowed in ENUMS:
        _check_enum(raw, table, column, allowed, issues)
    _check_agency(raw, issues)
    _check_stops(raw, issues)
    _check_routes(raw, issues)
    _check_trips(raw, issues)
    _check_calendar(raw, issues)
    _check_shapes(raw, issues)
    _check_transfers(raw, issues)
    return True


def _check_presence(raw: dict[str, pd.DataFrame], issues: Issues) -> bool:
    """Check required files and columns; return whether the rest of the rules can run."""
    for table in REQUIRED_FILES:
        if table not in raw:
            issues.error(f"{table}.txt", None, None, "required file is missing")
    if "calendar" not in raw and "calendar_dates" not in raw:
        issues.error("calendar.txt", None, None, "calendar.txt or calendar_dates.txt is required")
    for table, df in raw.items():
        for column in REQUIRED_COLUMNS.get(table, ()):
            if column not in df.columns:
                issues.error(f"{table}.txt", None, column, "required column is missing")
            elif column not in _MAY_BE_BLANK:
                issues.rows(
                    f"{table}.txt", df, blank(text(df, column)), column, "required value is empty"
                )
    if "routes" in raw and "agency" in raw and len(raw["agency"]) > 1:
        for table in ("agency", "routes"):
            if "agency_id" not in raw[table]:
                issues.error(f"{table}.txt", None, "agency_id", "required with several agencies")
    return issues.error_total == 0


def _check_unique(
    raw: dict[str, pd.DataFrame], table: str, key: tuple[str, ...], issues: Issues
) -> None:
    """Record every row whose key repeats an earlier row's."""
    df = raw.get(table)
    if df is None or any(k not in df for k in key):
        return
    dup = df.duplicated(subset=list(key), keep="first").to_numpy()
    label = " + ".join(key)
    issues.rows(f"{table}.txt", df, dup, key[0], f"duplicate {label} {{value}}")


def _check_enum(
    raw: dict[str, pd.DataFrame], table: str, column: str, allowed: tuple[str, ...], issues: Issues
) -> None:
    """Record values of an enumeration column that GTFS does not define."""
    df = raw.get(table)
    if df is None or column not in df:
        return
    values = text(df, column)
    bad = ~np.asarray(values.isin(allowed), dtype=bool) & ~blank(values)
    issues.rows(f"{table}.txt", df, bad, column, f"{{value!r}} is not one of {', '.join(allowed)}")


def check_reference(
    raw: dict[str, pd.DataFrame],
    child: tuple[str, str],
    parent: tuple[str, str],
    issues: Issues,
    *,
    warn: bool = False,
) -> None:
    """Record non-blank values of child table.column that are not ids of parent table.column."""
    (ctable, ccol), (ptable, pcol) = child, parent
    df = raw.get(ctable)
    if df is None or ccol not in df:
        return
    known = set(text(raw[ptable], pcol).tolist()) if ptable in raw else set()
    values = text(df, ccol)
    bad = ~np.asarray(values.isin(known), dtype=bool) & ~blank(values)
    issues.rows(
        f"{ctable}.txt", df, bad, ccol, f"{{value!r}} is not a {pcol} of {ptable}.txt", warn=warn
    )


def _numbers(
    df: pd.DataFrame, table: str, column: str, low: float, high: float, issues: Issues
) -> pd.Series:
    """Parse a numeric column, recording values that are not numbers or out of [low, high]."""
    values = text(df, column)
    parsed = pd.to_numeric(values.where(values != "", None), errors="coerce")
    issues.rows(
        f"{table}.txt", df, parsed.isna() & (values != ""), column, "{value!r} is not a number"
    )
    out = (parsed < low) | (parsed > high)
    issues.rows(
        f"{table}.txt", df, out.fillna(False), column, f"{{value}} is outside [{low}, {high}]"
    )
    return parsed


def _check_agency(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Agency time zones must be IANA names."""
    df = raw["agency"]
    zones = text(df, "agency_timezone")
    known = zoneinfo.available_timezones()
    issues.rows(
        "agency.txt",
        df,
        ~zones.isin(known),
        "agency_timezone",
        "{value!r} is not an IANA time zone",
    )


def _check_stops(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Check coordinates are in range and parent stations exist (and are stations)."""
    df = raw["stops"]
    kind = text(df, "location_type")
    needs_position = np.asarray(kind.isin(["", "0", "1", "2"]), dtype=bool)
    for column, limit in (("stop_lat", 90.0), ("stop_lon", 180.0)):
        values = text(df, column)
        issues.rows(
            "stops.txt",
            df,
            needs_position & blank(values),
            column,
            "required for stops, stations and entrances",
        )
        _numbers(df, "stops", column, -limit, limit, issues)
    lat = pd.to_numeric(text(df, "stop_lat"), errors="coerce")
    lon = pd.to_numeric(text(df, "stop_lon"), errors="coerce")
    issues.rows("stops.txt", df, (lat == 0) & (lon == 0), "stop_lat", "stop at 0,0", warn=True)
    check_reference(raw, ("stops", "parent_station"), ("stops", "stop_id"), issues)
    parent = text(df, "parent_station")
    station_ids = set(text(df, "stop_id")[kind == "1"].tolist())
    not_station = ~blank(parent) & ~np.asarray(parent.isin(station_ids), dtype=bool)
    issues.rows(
        "stops.txt",
        df,
        not_station,
        "parent_station",
        "{value!r} is not a station (location_type 1)",
        warn=True,
    )


def _check_routes(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Routes name an agency that exists, a route type, and a short or long name."""
    df = raw["routes"]
    if "agency_id" in raw["agency"]:
        check_reference(raw, ("routes", "agency_id"), ("agency", "agency_id"), issues)
    kind = text(df, "route_type")
    issues.rows(
        "routes.txt",
        df,
        ~blank(kind) & ~matches(kind, _INT),
        "route_type",
        "{value!r} is not a route type",
    )
    nameless = blank(text(df, "route_short_name")) & blank(text(df, "route_long_name"))
    issues.rows(
        "routes.txt",
        df,
        nameless,
        "route_short_name",
        "route_short_name or route_long_name is required",
    )
    used = set(text(raw["trips"], "route_id").tolist())
    issues.rows(
        "routes.txt",
        df,
        ~text(df, "route_id").isin(used),
        "route_id",
        "route {value!r} has no trips",
        warn=True,
    )


def _check_trips(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Trips reference routes, services (calendar or calendar_dates) and shapes."""
    df = raw["trips"]
    check_reference(raw, ("trips", "route_id"), ("routes", "route_id"), issues)
    services: set[str] = set()
    for table in ("calendar", "calendar_dates"):
        if table in raw:
            services |= set(text(raw[table], "service_id").tolist())
    service = text(df, "service_id")
    issues.rows(
        "trips.txt",
        df,
        ~service.isin(services),
        "service_id",
        "{value!r} is in neither calendar.txt nor calendar_dates.txt",
    )
    check_reference(
        raw, ("trips", "shape_id"), ("shapes", "shape_id"), issues, warn="shapes" not in raw
    )


def _check_calendar(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Dates are valid YYYYMMDD; a calendar ends on or after its start."""
    for table, columns in (("calendar", ("start_date", "end_date")), ("calendar_dates", ("date",))):
        df = raw.get(table)
        if df is None:
            continue
        for column in columns:
            values = text(df, column)
            parsed = pd.to_datetime(values, format="%Y%m%d", errors="coerce")
            bad = (~matches(values, _DATE) | parsed.isna().to_numpy()) & ~blank(values)
            issues.rows(f"{table}.txt", df, bad, column, "{value!r} is not a date YYYYMMDD")
        if table == "calendar":
            start, end = text(df, "start_date"), text(df, "end_date")
            issues.rows(table + ".txt", df, end < start, "end_date", "{value} is before start_date")


def _check_shapes(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Shape points have coordinates in range and integer sequence numbers."""
    df = raw.get("shapes")
    if df is None:
        return
    _numbers(df, "shapes", "shape_pt_lat", -90.0, 90.0, issues)
    _numbers(df, "shapes", "shape_pt_lon", -180.0, 180.0, issues)
    seq = text(df, "shape_pt_sequence")
    issues.rows(
        "shapes.txt",
        df,
        ~matches(seq, _INT),
        "shape_pt_sequence",
        "{value!r} is not a non-negative integer",
    )


def _check_transfers(raw: dict[str, pd.DataFrame], issues: Issues) -> None:
    """Transfers link stops that exist."""
    for column in ("from_stop_id", "to_stop_id"):
        check_reference(raw, ("transfers", column), ("stops", "stop_id"), issues)
