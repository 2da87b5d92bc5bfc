"""Timetable test data: real feeds from ../shared/data/gtfs, the Kuopio demo imported once per run,
and broken variants of a real feed built in a temporary folder."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import asyncpg
import pytest

from gateway.dbcodecs import init_connection
from gateway.demo.run import import_demo


def gtfs_path(shared_data: Path, name: str) -> Path:
    """Return a real feed of ../shared/data/gtfs."""
    return shared_data / "gtfs" / name


def rewrite_zip(
    source: Path, target: Path, changes: Mapping[str, Callable[[str], str] | str | None]
) -> Path:
    """Copy a GTFS zip, replacing (str), editing (callable) or dropping (None) some files."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            change = changes.get(info.filename, "keep")
            text = src.read(info).decode("utf-8-sig")
            if change is None:
                continue
            if callable(change):
                text = change(text)
            elif change != "keep":
                text = change
            # The source's entry (its timestamp too): the same changes give the same bytes,
            # so the same feed hashes the same, whatever second it is written in.
            out.writestr(info, text)
        for name, change in changes.items():
            if name not in src.namelist() and isinstance(change, str):
                out.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), change)
    return target


async def _import_kuopio(database_url: str, feed: Path) -> None:
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=2, init=init_connection
    ) as pool:
        await import_demo(pool, feed)


@pytest.fixture(scope="session")
def kuopio_zip(shared_data: Path) -> Path:
    """Return the Kuopio feed (five agencies)."""
    return gtfs_path(shared_data, "kuopio.zip")


@pytest.fixture(scope="session")
def kuopio_demo(database_url: str, kuopio_zip: Path) -> str:
    """Import the five Kuopio operators into this run's database once; return its URL."""
    asyncio.run(_import_kuopio(database_url, kuopio_zip))
    return database_url


def synthetic_feed(target: Path, trips: int, stops_per_trip: int = 50) -> Path:
    """Write a valid GTFS zip of `trips` trips calling at `stops_per_trip` stops each.

    One route along a line of stops 300 m apart, one trip every minute from 05:00 (stop
    times one minute apart, every time set): stop_times has trips x stops_per_trip rows.
    """
    stops = "".join(f"s{i},Stop {i},{60.1 + i * 0.0027:.5f},24.9\n" for i in range(stops_per_trip))
    trip_rows = "".join(f"t{t},r1,wk\n" for t in range(trips))

    def stop_times() -> Iterator[bytes]:
        yield b"trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        for t in range(trips):
            start = 5 * 3600 + (t % 1080) * 60
            rows = []
            for i in range(stops_per_trip):
                s = start + i * 60
                hms = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
                rows.append(f"t{t},{hms},{hms},s{i},{i + 1}\n")
            yield "".join(rows).encode()

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(
            "agency.txt",
            "agency_id,agency_name,agency_url,agency_timezone\n"
            "a,Synthetic,https://example.com,Europe/Helsinki\n",
        )
        out.writestr("stops.txt", "stop_id,stop_name,stop_lat,stop_lon\n" + stops)
        out.writestr("routes.txt", "route_id,agency_id,route_short_name,route_type\nr1,a,1,3\n")
        out.writestr("trips.txt", "trip_id,route_id,service_id\n" + trip_rows)
        out.writestr(
            "calendar.txt",
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
            "start_date,end_date\nwk,1,1,1,1,1,1,1,20260101,20271231\n",
        )
        with out.open("stop_times.txt", "w") as f:
            for chunk in stop_times():
                f.write(chunk)
    return target
