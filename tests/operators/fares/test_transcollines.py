"""The real Transcollines Fares v2 feed loads and prices real trips."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from operators.fares.catalogue import list_catalogue
from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares
from operators.fares.matching import Leg
from operators.fares.model import FareFeed, NoFareError

FEED = Path("/work/shared/data/gtfs/transcollines-fares-v2.zip")
MONTREAL = ZoneInfo("America/Montreal")
OPERATOR = "transcollines"


@pytest.fixture(scope="module")
def fares() -> FareFeed:
    return load_fares(FEED, OPERATOR)


@pytest.fixture(scope="module")
def stop_times() -> dict[str, list[dict[str, str]]]:
    wanted = ("20260105-Semaine-01-910-0-0517", "20260105-Semaine-01-931-0-0720")
    with zipfile.ZipFile(FEED) as archive:
        text = io.TextIOWrapper(archive.open("stop_times.txt"), "utf-8-sig")
        rows = [r for r in csv.DictReader(text) if r["trip_id"] in wanted]
    return {trip: [r for r in rows if r["trip_id"] == trip] for trip in wanted}


def ride(
    stop_times: dict[str, list[dict[str, str]]], trip: str, board: int, alight: int, day: date
) -> Leg:
    """A leg on a real trip between two stop_sequence values, on a service day."""
    route = trip.split("-")[3]
    times = {int(r["stop_sequence"]): r for r in stop_times[trip]}
    midnight = datetime(day.year, day.month, day.day, tzinfo=MONTREAL)

    def at(text: str) -> datetime:
        h, m, s = (int(part) for part in text.split(":"))
        return midnight + timedelta(hours=h, minutes=m, seconds=s)

    return Leg(
        OPERATOR,
        f"{OPERATOR}:{route}",
        f"{OPERATOR}:{times[board]['stop_id']}",
        f"{OPERATOR}:{times[alight]['stop_id']}",
        at(times[board]["departure_time"]),
        at(times[alight]["arrival_time"]),
    )


WEDNESDAY = date(2026, 1, 7)


def test_feed_loads_with_its_areas_network_and_timeframe(fares: FareFeed) -> None:
    assert fares.timezone == "America/Montreal"
    assert set(fares.areas) == {"transcollines:GAT", "transcollines:COL", "transcollines:PNT"}
    assert fares.route_networks["transcollines:910"] == "transcollines:REG"
    assert len(fares.leg_rules) == 8
    assert fares.warnings == ()


@pytest.mark.parametrize(
    ("trip", "board", "alight", "expected_minor"),
    [
        ("20260105-Semaine-01-910-0-0517", 0, 81, 2000),  # Pontiac -> Gatineau
        ("20260105-Semaine-01-910-0-0517", 0, 49, 500),  # within Pontiac
        ("20260105-Semaine-01-910-0-0517", 10, 60, 500),  # Pontiac -> Collines
        ("20260105-Semaine-01-931-0-0720", 0, 20, 500),  # Collines -> Gatineau
    ],
)
def test_real_trips_are_priced_by_area_pair(
    fares: FareFeed,
    stop_times: dict[str, list[dict[str, str]]],
    trip: str,
    board: int,
    alight: int,
    expected_minor: int,
) -> None:
    price = price_itinerary([ride(stop_times, trip, board, alight, WEDNESDAY)], {OPERATOR: fares})
    assert price.total_minor == expected_minor
    assert price.currency == "CAD"


def test_two_trips_without_transfer_rules_pay_twice(
    fares: FareFeed, stop_times: dict[str, list[dict[str, str]]]
) -> None:
    legs = [
        ride(stop_times, "20260105-Semaine-01-910-0-0517", 0, 60, WEDNESDAY),
        ride(stop_times, "20260105-Semaine-01-931-0-0720", 0, 20, WEDNESDAY),
    ]
    price = price_itinerary(legs, {OPERATOR: fares})
    assert [leg.price_minor for leg in price.legs] == [500, 500]


def test_travel_within_gatineau_is_not_a_transcollines_fare(
    fares: FareFeed, stop_times: dict[str, list[dict[str, str]]]
) -> None:
    leg = ride(stop_times, "20260105-Semaine-01-910-0-0517", 72, 81, WEDNESDAY)
    with pytest.raises(NoFareError, match="no fare leg rule"):
        price_itinerary([leg], {OPERATOR: fares})


def test_no_fare_outside_the_fare_timeframe_service_dates(
    fares: FareFeed, stop_times: dict[str, list[dict[str, str]]]
) -> None:
    leg = ride(stop_times, "20260105-Semaine-01-910-0-0517", 0, 81, date(2026, 9, 2))
    with pytest.raises(NoFareError):
        price_itinerary([leg], {OPERATOR: fares})


def test_catalogue_lists_every_product(fares: FareFeed) -> None:
    catalogue = {p.fare_product_id: p for p in list_catalogue(fares)}
    assert set(catalogue) == {f"{OPERATOR}:PS-500", f"{OPERATOR}:PS-2000", f"{OPERATOR}:PS-0"}
    assert catalogue[f"{OPERATOR}:PS-2000"].has_origin_destination
    assert [p.price_minor for p in catalogue[f"{OPERATOR}:PS-2000"].prices] == [2000]
    assert not catalogue[f"{OPERATOR}:PS-0"].is_leg_product
