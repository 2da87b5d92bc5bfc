"""Kuopio demo fares: they load, match the feed's stops and routes, and price a journey."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.demo.kuopio import get_demo_fares, list_demo_operator_ids, read_demo_fare_files
from operators.fares.catalogue import get_product_price, list_catalogue
from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares_files
from operators.fares.matching import Leg

KUOPIO = Path("/work/shared/data/gtfs/kuopio.zip")
HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.fixture(scope="module")
def timetable_files() -> dict[str, bytes]:
    with zipfile.ZipFile(KUOPIO) as archive:
        return {name: archive.read(name) for name in ("stops.txt", "routes.txt", "agency.txt")}


@pytest.mark.parametrize("operator_id", list_demo_operator_ids())
def test_demo_fares_reference_only_stops_and_routes_of_the_feed(
    operator_id: str, timetable_files: dict[str, bytes]
) -> None:
    files = {**read_demo_fare_files(operator_id), **timetable_files}
    fares = load_fares_files(files, operator_id)
    assert fares.timezone == "Europe/Helsinki"
    assert fares.warnings == ()
    assert set(fares.areas) == {f"{operator_id}:{zone}" for zone in "ABCD"}


def test_unknown_demo_operator_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_demo_fares("nobody")


def kuopio_leg(operator: str, route: str, start: str, end: str, at_min: int, rider: str) -> Leg:
    departure = datetime(2017, 3, 6, 8, 0, tzinfo=HELSINKI) + timedelta(minutes=at_min)
    return Leg(
        operator,
        f"{operator}:{route}",
        f"{operator}:{start}",
        f"{operator}:{end}",
        departure,
        departure + timedelta(minutes=15),
        rider,
    )


@pytest.mark.parametrize(
    ("rider", "expected_minor"),
    [("adult", [330, 460, 620 - 150]), ("child", [165, 230, 310 - 75])],
)
def test_multi_operator_journey_with_a_transfer_discount(
    rider: str, expected_minor: list[int]
) -> None:
    fares = {o: get_demo_fares(o) for o in ("kuopion-liikenne", "pohjolan-liikenne")}
    legs = [
        kuopio_leg("kuopion-liikenne", "6X", "201827", "303119", 0, rider),  # A -> A
        kuopio_leg("pohjolan-liikenne", "35", "176953", "173271", 20, rider),  # A -> B
        kuopio_leg("kuopion-liikenne", "6X", "201827", "176720", 40, rider),  # A -> C
    ]
    price = price_itinerary(legs, fares, fare_media_id="app")
    assert [leg.price_minor for leg in price.legs] == expected_minor
    assert price.total_minor == sum(expected_minor)
    assert price.currency == "EUR"
    assert price.legs[2].transfer_from_leg == 0


def test_no_discount_after_sixty_minutes_and_paper_costs_more() -> None:
    fares = {"kuopion-liikenne": get_demo_fares("kuopion-liikenne")}
    legs = [
        kuopio_leg("kuopion-liikenne", "6X", "201827", "303119", 0, "adult"),
        kuopio_leg("kuopion-liikenne", "6X", "303119", "201827", 61, "adult"),
    ]
    assert price_itinerary(legs, fares, fare_media_id="paper").total_minor == 380 + 380


def test_catalogue_lists_the_day_ticket_without_origin_or_destination() -> None:
    catalogue = {p.fare_product_id: p for p in list_catalogue(get_demo_fares("e-ahonen"))}
    day = catalogue["e-ahonen:day"]
    assert not day.has_origin_destination
    assert not day.is_leg_product
    assert {(p.rider_category_id, p.price_minor) for p in day.prices} == {
        ("e-ahonen:adult", 900),
        ("e-ahonen:child", 450),
        ("e-ahonen:senior", 630),
    }
    single = catalogue["e-ahonen:single-2"]
    assert single.has_origin_destination
    assert single.is_leg_product
    assert {p.fare_media_type for p in single.prices} == {1, 4}
    assert catalogue["e-ahonen:transfer-60"].is_transfer_product


def test_product_price_uses_the_default_rider_category() -> None:
    fares = get_demo_fares("linja-karjala")
    default = get_product_price(fares, "day")
    assert (default.rider_category_id, default.price_minor) == ("linja-karjala:adult", 900)
    assert default.is_default_rider_category
    assert get_product_price(fares, "single-1", "senior", "paper").price_minor == 280
