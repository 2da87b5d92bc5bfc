"""The real Transcollines feed for fare tests: legs on its real trips, and copies of its zip
with other fares or another calendar (the issue's cases, on real stops, areas and trips)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from operators.fares.csvfiles import FARE_FILES
from operators.fares.matching import Leg

FEED = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "gtfs"
    / ("transcollines-fares-v2.zip")
)
OPERATOR = "transcollines"
MONTREAL = ZoneInfo("America/Montreal")
#: The feed's own fare files that say where and what (kept when the fares are swapped).
AREA_FILES = ("areas.txt", "stop_areas.txt")


@cache
def _stop_times() -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(FEED) as archive:
        rows = csv.DictReader(io.TextIOWrapper(archive.open("stop_times.txt"), "utf-8-sig"))
        trips: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            trips.setdefault(row["trip_id"], []).append(row)
    return {t: sorted(r, key=lambda x: int(x["stop_sequence"])) for t, r in trips.items()}


def ride(
    trip: str,
    day: date,
    board: int | None = None,
    alight: int | None = None,
    operator: str = OPERATOR,
) -> Leg:
    """A leg on a real trip on a service day, from stop_sequence `board` to `alight`
    (default: the whole trip), with its times in the feed's time zone."""
    stops = _stop_times()[trip]
    first = (
        stops[0] if board is None else next(s for s in stops if s["stop_sequence"] == str(board))
    )
    last = (
        stops[-1] if alight is None else next(s for s in stops if s["stop_sequence"] == str(alight))
    )
    midnight = datetime(day.year, day.month, day.day, 12, tzinfo=MONTREAL) - timedelta(hours=12)

    def at(text: str) -> datetime:
        h, m, s = (int(part) for part in text.split(":"))
        return midnight + timedelta(hours=h, minutes=m, seconds=s)

    return Leg(
        operator,
        f"{operator}:{trip.split('-')[3]}",
        f"{operator}:{first['stop_id']}",
        f"{operator}:{last['stop_id']}",
        at(first["departure_time"]),
        at(last["arrival_time"]),
    )


def feed_zip(
    fares: Mapping[str, str] | None = None,
    replace: Mapping[str, str] | None = None,
    keep_fares: bool = False,
) -> bytes:
    """The real zip with its fare files swapped for `fares` (the area files stay unless
    given), or with none when `fares` is None and not `keep_fares`; `replace` swaps others."""
    out = io.BytesIO()
    with zipfile.ZipFile(FEED) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name = info.filename
            if name in (replace or {}) or (fares is not None and name in fares):
                continue
            drop = fares is None and not keep_fares
            if name in FARE_FILES and (drop or (fares is not None and name not in AREA_FILES)):
                continue
            dst.writestr(name, src.read(info))
        for name, text in {**(fares or {}), **(replace or {})}.items():
            dst.writestr(name, text)
    return out.getvalue()


def fares_only_zip(fares: Mapping[str, str] | None = None) -> bytes:
    """Only fare files: the feed's own (default), or `fares` with the feed's area files."""
    out = io.BytesIO()
    with zipfile.ZipFile(FEED) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name = info.filename
            own = fares is None or (name in AREA_FILES and name not in fares)
            if name in FARE_FILES and own:
                dst.writestr(name, src.read(info))
        for name, text in (fares or {}).items():
            dst.writestr(name, text)
    return out.getvalue()


def read_member(name: str) -> str:
    """Return one file of the real zip as text."""
    with zipfile.ZipFile(FEED) as archive:
        return archive.read(name).decode("utf-8-sig")
