"""Read a GTFS zip (with gtfs-kit) into `GtfsTables` with ids in the operator's namespace."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import gtfs_kit as gk
import numpy as np
import pandas as pd
from gtfs_kit import cleaners as gk_cleaners
from gtfs_kit import constants as gk_constants

from gtfs.tables import COLUMNS, GtfsTables, seconds_from_gtfs_time

#: Which columns of each table hold ids that must be namespaced.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_id",),
    "stops": ("stop_id", "parent_station", "zone_id"),
    "routes": ("route_id", "agency_id", "network_id"),
    "trips": ("trip_id", "route_id", "service_id", "block_id", "shape_id"),
    "stop_times": ("trip_id", "stop_id"),
    "calendar": ("service_id",),
    "calendar_dates": ("service_id",),
    "transfers": ("from_stop_id", "to_stop_id"),
    "shapes": ("shape_id",),
}


#: How gtfs-kit reads its CSV files (`gtfs_kit.feed.read_feed`), kept so our reading matches.
_CSV_OPTIONS: dict[str, Any] = {
    "na_values": ["", " ", "nan", "NaN", "null"],
    "keep_default_na": True,
    "dtype_backend": "numpy_nullable",
    "encoding": "utf-8-sig",
}


def read_gtfs_kit_feed(path: Path) -> gk.Feed:
    """Read the tables the gateway imports from a GTFS zip or folder, as gtfs-kit does.

    Only those (blocking: call it off the event loop): a file the gateway ignores
    (feed_info.txt, frequencies.txt, ...) is never parsed, so it costs nothing and a broken
    one cannot fail the import; validation warns about it.
    """
    frames: dict[str, pd.DataFrame] = {}

    def read(table: str, source: Any) -> None:
        df = pd.read_csv(source, dtype=gk_constants.DTYPES[table], **_CSV_OPTIONS)
        if not df.empty:
            frames[table] = gk_cleaners.clean_column_names(df)

    if path.is_dir():
        for file in path.iterdir():
            if file.suffix == ".txt" and file.stem in COLUMNS and file.stat().st_size:
                read(file.stem, file)
    else:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                table = PurePosixPath(info.filename).stem
                wanted = info.filename.endswith(".txt") and table in COLUMNS
                if wanted and not info.is_dir() and info.file_size:
                    with zf.open(info) as f:
                        read(table, f)
    return gk.Feed(dist_units="km", **frames)


def _seconds(times: pd.Series) -> pd.Series:
    """Parse GTFS times once per distinct value (a feed has few: ~1,400 for 445,000 rows)."""
    codes, uniques = pd.factorize(times)
    parsed = seconds_from_gtfs_time(pd.Series(uniques)).to_numpy()
    values = pd.array(parsed, dtype="Int32").take(codes, allow_fill=True)
    return pd.Series(values, index=times.index, dtype="Int32")


def _namespaced(ids: pd.Series, operator_id: str) -> pd.Series:
    """Prefix ids with the operator, building each distinct id once.

    stop_times repeats each trip and stop id hundreds of times: one string per distinct
    value (shared by every row) instead of one per row keeps a city feed's import small.
    """
    codes, uniques = pd.factorize(ids.astype("string"), use_na_sentinel=True)
    prefixed = np.array(
        [f"{operator_id}:{u}" if u != "" else None for u in uniques] + [None], dtype=object
    )
    return pd.Series(prefixed[codes], index=ids.index, dtype="string")


def tables_from_feed(feed: gk.Feed, operator_id: str) -> GtfsTables:
    """Convert a gtfs-kit feed into namespaced `GtfsTables` with times in seconds."""
    out: dict[str, pd.DataFrame] = {}
    for name, columns in COLUMNS.items():
        raw = getattr(feed, name, None)
        df = pd.DataFrame() if raw is None else raw.copy(deep=False)  # copy-on-write
        if name == "stop_times" and not df.empty:
            df["arrival_s"] = _seconds(df["arrival_time"])
            df["departure_s"] = _seconds(df["departure_time"])
        if name == "agency" and "agency_id" not in df.columns and not df.empty:
            df["agency_id"] = operator_id
        if name == "routes" and "agency_id" not in df.columns and not df.empty:
            df["agency_id"] = feed.agency["agency_id"].iloc[0] if "agency_id" in feed.agency else ""
        for column in columns:
            if column not in df.columns:
                df[column] = pd.NA
        df = df[list(columns)].reset_index(drop=True)
        for column in ID_COLUMNS.get(name, ()):
            df[column] = _namespaced(df[column], operator_id)
        if "operator_id" in columns:
            df["operator_id"] = operator_id
        out[name] = df
    return GtfsTables(**out)


def read_tables(path: Path, operator_id: str) -> GtfsTables:
    """Read a GTFS zip straight into namespaced tables (no validation: see `gtfs.feed.validate`)."""
    return tables_from_feed(read_gtfs_kit_feed(path), operator_id)
