"""Write `GtfsTables` (one operator's or the merged network's) as a GTFS zip."""

from __future__ import annotations

import io
import zipfile
from typing import IO

import pandas as pd

from gtfs.tables import GtfsTables, gtfs_time_from_seconds

#: Gateway columns that are not GTFS and stay out of the exported files.
_NOT_GTFS = ("operator_id",)


def gtfs_frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return a table with GTFS columns only; stop times as "HH:MM:SS" again."""
    out = df.drop(columns=[c for c in _NOT_GTFS if c in df.columns])
    if name == "stop_times":
        arrival = gtfs_time_from_seconds(out.pop("arrival_s"))
        departure = gtfs_time_from_seconds(out.pop("departure_s"))
        out.insert(1, "arrival_time", arrival)
        out.insert(2, "departure_time", departure)
    return out.dropna(axis="columns", how="all") if len(out) else out


def write_gtfs_zip(tables: GtfsTables, target: IO[bytes]) -> None:
    """Write every non-empty table as `<name>.txt` into a zip."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in tables.table_names():
            df = getattr(tables, name)
            if not len(df):
                continue
            text = gtfs_frame(name, df).to_csv(index=False, lineterminator="\n")
            zf.writestr(f"{name}.txt", text)


def gtfs_zip_bytes(tables: GtfsTables) -> bytes:
    """Return the tables as the bytes of a GTFS zip (blocking: call it off the event loop)."""
    buffer = io.BytesIO()
    write_gtfs_zip(tables, buffer)
    return buffer.getvalue()
