"""Fare timeframes are local to the feed's agency_timezone, whatever zone the operator was
configured with (issue 18, defect 1), on the real Transcollines feed."""

from __future__ import annotations

from datetime import date

from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares
from tests.operators.fares.transcollines import FEED, OPERATOR, feed_zip, ride

#: The last Sunday of the fares' service period (FARES-GT-2026-1 ends on 2026-08-23).
LAST_SUNDAY = date(2026, 8, 23)
#: 17:50 to 18:35 Montréal: already the next day in Helsinki.
LAST_EVENING_TRIP = "20260420-Weekend-01-924-0-1750"


def test_an_operator_configured_in_helsinki_prices_the_last_evening_trip_in_montreal_time() -> None:
    fares = load_fares(FEED, OPERATOR, timezone="Europe/Helsinki")
    assert fares.timezone == "America/Montreal"
    leg = ride(LAST_EVENING_TRIP, LAST_SUNDAY)
    assert price_itinerary([leg], {OPERATOR: fares}).total_minor == 500


def test_a_configured_zone_that_is_not_the_feeds_is_warned_about() -> None:
    fares = load_fares(FEED, OPERATOR, timezone="Europe/Helsinki")
    [warning] = fares.timetable_warnings
    assert (warning.file, warning.field) == ("agency.txt", "agency_timezone")
    assert "'America/Montreal'" in warning.message
    assert "'Europe/Helsinki'" in warning.message
    assert warning in fares.warnings
    assert load_fares(FEED, OPERATOR, timezone="America/Montreal").warnings == ()


EVENING_FARES = {
    "fare_products.txt": "fare_product_id,amount,currency\nday,5.00,CAD\nevening,3.50,CAD\n",
    "timeframes.txt": (
        "timeframe_group_id,start_time,end_time,service_id\n"
        "evening,18:00:00,24:00:00,FARES-GT-2026-1\n"
    ),
    "fare_leg_rules.txt": (
        "network_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
        "REG,evening,evening,1\nREG,,day,0\n"
    ),
}


def test_an_afternoon_arrival_is_not_priced_as_a_helsinki_evening() -> None:
    fares = load_fares(feed_zip(EVENING_FARES), OPERATOR, timezone="Europe/Helsinki")
    # Arrives 16:25 in Gatineau (22:25 in Helsinki): the day fare, not the evening one.
    afternoon = ride("20260105-Semaine-01-932-1-1530", date(2026, 1, 7))
    evening = ride("20260105-Semaine-01-910-1-1630", date(2026, 1, 7))  # arrives 18:49
    assert price_itinerary([afternoon], {OPERATOR: fares}).total_minor == 500
    assert price_itinerary([evening], {OPERATOR: fares}).total_minor == 350


def test_the_configured_zone_is_used_only_when_the_feed_has_none() -> None:
    no_agency = {**EVENING_FARES}
    zip_without_agency = feed_zip(no_agency, replace={"agency.txt": "agency_id\n"})
    fares = load_fares(zip_without_agency, OPERATOR, timezone="America/Toronto")
    assert fares.timezone == "America/Toronto"
    assert fares.timetable_warnings == ()
