"""Fares read against the operator's timetable: stations, stop time zones, stored tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from gtfs.tables import GtfsTables
from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares_files
from operators.fares.matching import Leg
from operators.fares.model import FareFeed, FaresValidationError

CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "all,1,1,1,1,1,1,1,20260101,20261231\n"
)
FARES = {
    "fare_products.txt": "fare_product_id,amount,currency\nday,3.00,EUR\nnight,5.00,EUR\n",
    "areas.txt": "area_id\ncentre\n",
    "stop_areas.txt": "area_id,stop_id\ncentre,station\n",
    "timeframes.txt": (
        "timeframe_group_id,start_time,end_time,service_id\nnight,00:00:00,05:00:00,all\n"
    ),
    "fare_leg_rules.txt": (
        "from_area_id,from_timeframe_group_id,fare_product_id,rule_priority\n"
        "centre,night,night,1\ncentre,,day,0\n"
    ),
}
STOPS = (
    "stop_id,stop_name,location_type,parent_station,stop_timezone\n"
    "station,Central,1,,\nplatform,Central 1,0,station,\nlapland,Far north,0,,Europe/Moscow\n"
    "other,Elsewhere,0,,\n"
)


def load(
    extra: dict[str, str], timetable: GtfsTables | None = None, timezone: str | None = None
) -> FareFeed:
    files = {name: text.encode() for name, text in {**FARES, **extra}.items()}
    return load_fares_files(files, "op", timetable=timetable, timezone=timezone)


def trip(start: str, when: datetime) -> Leg:
    return Leg("op", "op:r", f"op:{start}", "op:other", when, when + timedelta(minutes=10))


FULL_ZIP = {
    "stops.txt": STOPS,
    "calendar.txt": CALENDAR,
    "agency.txt": "agency_name,agency_timezone\nBus,Europe/Helsinki\n",
}


def test_a_platform_takes_the_area_of_its_station() -> None:
    fares = load(FULL_ZIP)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    assert price_itinerary([trip("platform", noon)], {"op": fares}).total_minor == 300


def test_timeframes_use_the_stop_time_zone_before_the_agency_one() -> None:
    fares = load(
        {**FULL_ZIP, "stop_areas.txt": "area_id,stop_id\ncentre,station\ncentre,lapland\n"}
    )
    at = datetime(2026, 3, 2, 2, 30, tzinfo=ZoneInfo("UTC"))  # 04:30 Helsinki, 05:30 Moscow
    assert price_itinerary([trip("platform", at)], {"op": fares}).total_minor == 500
    assert price_itinerary([trip("lapland", at)], {"op": fares}).total_minor == 300


def stored_tables() -> GtfsTables:
    empty = GtfsTables.empty()
    stops = pd.DataFrame(
        {"stop_id": ["op:station", "op:platform"], "parent_station": [None, "op:station"]}
    )
    calendar = pd.DataFrame(
        [["op:all", 1, 1, 1, 1, 1, 1, 1, "20260101", "20261231"]],
        columns=list(empty.calendar.columns),
    )
    agency = pd.DataFrame({"agency_id": ["op:a"], "agency_timezone": ["Europe/Helsinki"]})
    routes = pd.DataFrame({"route_id": ["op:r"]})
    return GtfsTables(
        agency=agency,
        stops=stops.reindex(columns=empty.stops.columns),
        routes=routes.reindex(columns=empty.routes.columns),
        trips=empty.trips,
        stop_times=empty.stop_times,
        calendar=calendar,
        calendar_dates=empty.calendar_dates,
        transfers=empty.transfers,
        shapes=empty.shapes,
    )


def test_fares_alone_are_checked_against_the_stored_timetable() -> None:
    fares = load({}, timetable=stored_tables())
    assert fares.timezone == "Europe/Helsinki"
    assert fares.warnings == ()
    night = datetime(2026, 3, 2, 1, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    assert price_itinerary([trip("platform", night)], {"op": fares}).total_minor == 500


def test_a_stop_missing_from_the_stored_timetable_is_an_error() -> None:
    extra = {"stop_areas.txt": "area_id,stop_id\ncentre,station\ncentre,ghost\n"}
    with pytest.raises(FaresValidationError) as caught:
        load(extra, timetable=stored_tables())
    assert [(e.file, e.row, e.field) for e in caught.value.errors] == [
        ("stop_areas.txt", 3, "stop_id")
    ]


def test_fares_without_a_calendar_apply_timeframes_every_day_with_a_warning() -> None:
    fares = load({}, timezone="Europe/Helsinki")
    assert fares.service_dates is None
    assert [(w.file, w.message) for w in fares.warnings if w.file == "timeframes.txt"] == [
        (
            "timeframes.txt",
            "calendar.txt or calendar_dates.txt not given: references to it are not checked",
        )
    ]
    night = datetime(2031, 7, 6, 1, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    assert price_itinerary([trip("station", night)], {"op": fares}).total_minor == 500


def test_a_zip_without_fares_gives_an_empty_feed_with_a_warning() -> None:
    fares = load_fares_files({"stops.txt": STOPS.encode()}, "op")
    assert fares.leg_rules == ()
    assert [w.message for w in fares.warnings] == ["no GTFS Fares v2 files found"]
