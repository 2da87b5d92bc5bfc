"""An itinerary is one traveller's sequence in time (issue 18, defect 6), on real trips."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares
from operators.fares.model import FareFeed, ImpossibleItinerary
from tests.operators.fares.transcollines import FEED, OPERATOR, ride

WEDNESDAY = date(2026, 1, 7)
#: 05:17 to 07:31 from Pontiac into Gatineau, and 07:20 to 07:45 Collines -> Gatineau.
LONG = ride("20260105-Semaine-01-910-0-0517", WEDNESDAY, 0, 60)
LATER = ride("20260105-Semaine-01-931-0-0720", WEDNESDAY)


@pytest.fixture(scope="module")
def fares() -> FareFeed:
    return load_fares(FEED, OPERATOR)


def test_the_same_leg_twice_is_refused_naming_the_second(fares: FareFeed) -> None:
    with pytest.raises(ImpossibleItinerary) as caught:
        price_itinerary([LONG, LATER, LONG], {OPERATOR: fares})
    assert caught.value.leg_index == 2
    assert caught.value.reason == "the same leg as leg 0"


def test_a_leg_leaving_before_the_previous_arrives_is_refused(fares: FareFeed) -> None:
    whole = ride("20260105-Semaine-01-910-0-0517", WEDNESDAY)  # arrives 07:31
    with pytest.raises(ImpossibleItinerary) as caught:
        price_itinerary([whole, LATER], {OPERATOR: fares})
    assert caught.value.leg_index == 1
    assert "before leg 0 arrives" in caught.value.reason
    assert str(caught.value).startswith("leg 1: leaves at 2026-01-07T07:20:00-05:00")


def test_legs_in_the_wrong_order_are_refused(fares: FareFeed) -> None:
    with pytest.raises(ImpossibleItinerary) as caught:
        price_itinerary([LATER, LONG], {OPERATOR: fares})
    assert caught.value.leg_index == 1


def test_a_leg_boarding_as_the_previous_arrives_is_a_sequence(fares: FareFeed) -> None:
    onward = replace(LATER, departure=LONG.arrival, arrival=LONG.arrival + timedelta(minutes=25))
    price = price_itinerary([LONG, onward], {OPERATOR: fares})
    assert [leg.price_minor for leg in price.legs] == [500, 500]
