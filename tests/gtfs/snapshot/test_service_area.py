"""Where the network runs in the coming days; headsigns where the feed has none."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gtfs.snapshot.build import build_snapshot
from gtfs.snapshot.service_area import service_area
from gtfs.tables import GtfsTables
from tests.journeys.synthetic import STOPS, Trip, network

MONDAY = dt.date(2024, 3, 4).toordinal()


def _tables(trips: list[Trip], calendar: dict[str, tuple[str, str]]) -> GtfsTables:
    """The synthetic network with each service's (start_date, end_date) replaced."""
    tables = network(trips)
    cal = tables.calendar.copy()
    cal["service_id"] = cal["service_id"].astype("string")
    rows = [
        cal.iloc[0].to_dict() | {"service_id": f"t:{s}", "start_date": a, "end_date": b}
        for s, (a, b) in calendar.items()
    ]
    fields = {n: getattr(tables, n) for n in tables.table_names()}
    return type(tables)(**{**fields, "calendar": pd.DataFrame(rows).astype(cal.dtypes.to_dict())})


@pytest.fixture(scope="module")
def tables() -> GtfsTables:
    return _tables(
        [
            Trip("west", (("A", "08:00"), ("B", "08:05")), service_id="march"),
            Trip("east", (("D", "08:00"), ("E", "08:05")), service_id="june"),
        ],
        {"march": ("20240301", "20240331"), "june": ("20240601", "20240630")},
    )


def test_the_area_is_that_of_the_stops_served_in_the_coming_days(tables: GtfsTables) -> None:
    snap = build_snapshot(tables)
    south, west, north, east = service_area(snap, MONDAY, 7) or (0, 0, 0, 0)
    assert (west, east) == (STOPS["A"][1], STOPS["B"][1])
    assert south == north == STOPS["A"][0]


def test_with_no_service_in_the_coming_days_the_area_is_that_of_the_next_days_with_some(
    tables: GtfsTables,
) -> None:
    snap = build_snapshot(tables)
    box = service_area(snap, dt.date(2024, 4, 8).toordinal(), 7)
    assert box is not None
    assert (box[1], box[3]) == (STOPS["D"][1], STOPS["E"][1])  # June's trips


def test_once_every_calendar_has_ended_the_area_is_that_of_the_last_days_of_service(
    tables: GtfsTables,
) -> None:
    snap = build_snapshot(tables)
    box = service_area(snap, dt.date(2025, 1, 6).toordinal(), 7)
    assert box is not None
    assert (box[1], box[3]) == (STOPS["D"][1], STOPS["E"][1])


def test_an_operator_with_no_trips_has_no_area(tables: GtfsTables) -> None:
    snap = build_snapshot(tables)
    assert service_area(snap, MONDAY, 7, operator_id="t") is not None
    assert service_area(snap, MONDAY, 7, operator_id="nobody") is None


def test_a_trip_without_headsign_is_headed_for_its_last_stop() -> None:
    tables = network(
        [Trip("x", (("A", "08:00"), ("C", "08:10"))), Trip("y", (("B", "09:00"), ("E", "09:10")))]
    )
    trips = tables.trips.copy()
    trips["trip_headsign"] = trips["trip_headsign"].astype("string")
    trips.loc[trips["trip_id"] == "t:x", "trip_headsign"] = pd.NA
    trips.loc[trips["trip_id"] == "t:y", "trip_headsign"] = "Downtown"
    fields = {n: getattr(tables, n) for n in tables.table_names()}
    snap = build_snapshot(type(tables)(**{**fields, "trips": trips}))
    assert snap.trips.headsigns[snap.trips.index["t:x"]] == "C"
    assert snap.trips.headsigns[snap.trips.index["t:y"]] == "Downtown"
