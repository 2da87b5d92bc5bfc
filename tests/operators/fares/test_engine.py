"""The fare engine on cases built from the GTFS reference's Fares v2 rules and examples."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from operators.fares.engine import ItineraryPrice, price_itinerary
from operators.fares.loader import load_fares_files
from operators.fares.matching import Leg
from operators.fares.model import FareError, FareFeed, NoFareError

HELSINKI = ZoneInfo("Europe/Helsinki")
MONDAY = datetime(2026, 1, 5, tzinfo=HELSINKI)

AREAS = "area_id,area_name\nX,Centre\nY,Suburb\nZ,Airport\n"
STOP_AREAS = "area_id,stop_id\nX,x1\nX,x2\nY,y1\nZ,z1\n"
ROUTES = "route_id,route_type,network_id\nbus,3,bus\ntram,0,tram\nrail,2,rail\n"


def feed(operator: str = "op", **files: str) -> FareFeed:
    """Load inline CSV files (keyword = file name without .txt) as one operator's fares."""
    contents = {"areas": AREAS, "stop_areas": STOP_AREAS, "routes": ROUTES, **files}
    data = {f"{name}.txt": text.encode() for name, text in contents.items()}
    return load_fares_files(data, operator, timezone="Europe/Helsinki")


def leg(
    start: str,
    end: str,
    at_min: int,
    ride_min: int = 20,
    route: str = "bus",
    operator: str = "op",
    rider: str | None = None,
) -> Leg:
    departure = MONDAY + timedelta(hours=10, minutes=at_min)
    return Leg(
        operator,
        f"{operator}:{route}",
        f"{operator}:{start}",
        f"{operator}:{end}",
        departure,
        departure + timedelta(minutes=ride_min),
        rider,
    )


def total(fares: FareFeed, *legs: Leg, media: str | None = None) -> int:
    return price_itinerary(legs, {fares.operator_id: fares}, fare_media_id=media).total_minor


PRODUCTS = "fare_product_id,amount,currency\nA,2.00,EUR\nB,2.50,EUR\nC,3.00,EUR\nAB,0.50,EUR\n"
GROUPED_RULES = (
    "leg_group_id,from_area_id,to_area_id,fare_product_id\ngA,X,X,A\ngB,Y,Y,B\ngC,Z,Z,C\n"
)


def transfers(rows: str, products: str = PRODUCTS) -> FareFeed:
    header = "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,"
    return feed(
        fare_products=products,
        fare_leg_rules=GROUPED_RULES,
        fare_transfer_rules=header + "fare_transfer_type,fare_product_id\n" + rows,
    )


def test_legs_without_transfer_rules_pay_each_leg() -> None:
    fares = feed(fare_products=PRODUCTS, fare_leg_rules=GROUPED_RULES)
    assert total(fares, leg("x1", "x2", 0), leg("y1", "y1", 30)) == 200 + 250


@pytest.mark.parametrize(
    ("transfer_type", "expected_minor"),
    [(0, 200 + 50), (1, 200 + 50 + 250), (2, 50)],
    ids=["A+AB", "A+AB+B", "AB"],
)
def test_fare_transfer_type_combines_a_ab_and_b(transfer_type: int, expected_minor: int) -> None:
    fares = transfers(f"gA,gB,,,,{transfer_type},AB\n")
    assert total(fares, leg("x1", "x2", 0), leg("y1", "y1", 30)) == expected_minor


def test_type_two_transfer_moves_the_first_leg_fare_into_the_transfer_product() -> None:
    fares = transfers("gA,gB,,,,2,AB\n")
    price = price_itinerary([leg("x1", "x2", 0), leg("y1", "y1", 30)], {"op": fares})
    assert [p.price_minor for p in price.legs] == [0, 50]
    assert price.legs[1].transfer_from_leg == 0
    assert [c.kind for c in price.legs[1].charges] == ["transfer"]


@pytest.mark.parametrize(
    ("types", "expected_minor"),
    [((0, 0), 200 + 50 + 50), ((1, 1), 200 + 50 + 250 + 50 + 300), ((2, 2), 50 + 50)],
    ids=["A+AB,S+BC", "A+AB+B,S+BC+C", "AB,S+BC"],
)
def test_three_legs_follow_the_reference_table(types: tuple[int, int], expected_minor: int) -> None:
    fares = transfers(f"gA,gB,,,,{types[0]},AB\ngB,gC,,,,{types[1]},AB\n")
    legs = (leg("x1", "x2", 0), leg("y1", "y1", 25), leg("z1", "z1", 50))
    assert total(fares, *legs) == expected_minor


def test_a_transfer_rule_does_not_apply_in_the_reverse_direction() -> None:
    fares = transfers("gA,gB,,,,2,AB\n")
    assert total(fares, leg("y1", "y1", 0), leg("x1", "x2", 30)) == 250 + 200


@pytest.mark.parametrize(
    ("transfer_count", "legs_count", "expected_minor"),
    [(1, 3, 200 + 0 + 200), (2, 3, 200), (2, 4, 200 + 200), (-1, 5, 200)],
)
def test_transfer_count_limits_consecutive_transfers(
    transfer_count: int, legs_count: int, expected_minor: int
) -> None:
    fares = transfers(f"gA,gA,{transfer_count},,,0,\n")
    legs = [leg("x1", "x2", 10 * i, ride_min=5) for i in range(legs_count)]
    assert total(fares, *legs) == expected_minor


def test_rule_with_smallest_sufficient_transfer_count_is_selected() -> None:
    fares = transfers("gA,gA,1,,,0,\ngA,gA,-1,,,0,AB\n")
    legs = [leg("x1", "x2", 10 * i, ride_min=5) for i in range(3)]
    assert total(fares, *legs) == 200 + 0 + 50


@pytest.mark.parametrize(
    ("limit_type", "applies"),
    [(0, False), (1, True), (2, True), (3, True)],
    ids=["departure-arrival", "departure-departure", "arrival-departure", "arrival-arrival"],
)
def test_duration_limit_type_chooses_the_measured_events(limit_type: int, applies: bool) -> None:
    # first leg 10:00-10:20, second 10:50-11:20: 80, 50, 30 and 60 minutes; limit 60 minutes.
    fares = transfers(f"gA,gA,-1,3600,{limit_type},0,\n")
    legs = (leg("x1", "x2", 0, ride_min=20), leg("x2", "x1", 50, ride_min=30))
    assert total(fares, *legs) == (200 if applies else 400)


def test_duration_limit_counts_from_the_first_leg_of_the_transfer_chain() -> None:
    fares = transfers("gA,gA,-1,3600,1,0,\n")
    legs = (leg("x1", "x2", 0, 5), leg("x2", "x1", 30, 5), leg("x1", "x2", 70, 5))
    assert total(fares, *legs) == 200 + 200


def test_empty_transfer_groups_match_groups_not_listed_elsewhere() -> None:
    fares = transfers("gA,,,,,0,AB\ngA,gC,,,,0,\n")
    assert total(fares, leg("x1", "x2", 0), leg("y1", "y1", 30)) == 200 + 50
    assert total(fares, leg("x1", "x2", 0), leg("z1", "z1", 30)) == 200


NETWORK_RULES = "network_id,from_area_id,to_area_id,fare_product_id\nbus,,,A\n,,,AB\n"


def test_without_rule_priority_an_empty_network_means_every_other_network() -> None:
    fares = feed(fare_products=PRODUCTS, fare_leg_rules=NETWORK_RULES)
    assert total(fares, leg("x1", "y1", 0, route="bus")) == 200
    assert total(fares, leg("x1", "y1", 0, route="tram")) == 50


def test_without_rule_priority_an_empty_area_means_every_area_not_listed() -> None:
    rules = "from_area_id,to_area_id,fare_product_id\nX,,A\n,,C\n"
    fares = feed(fare_products=PRODUCTS, fare_leg_rules=rules)
    assert total(fares, leg("x1", "z1", 0)) == 200
    assert total(fares, leg("y1", "z1", 0)) == 300


def test_with_rule_priority_the_highest_matching_priority_wins() -> None:
    rules = (
        "network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
        ",,,C,0\nbus,X,,A,2\nbus,,,B,1\n"
    )
    fares = feed(fare_products=PRODUCTS, fare_leg_rules=rules)
    assert total(fares, leg("x1", "y1", 0, route="bus")) == 200
    assert total(fares, leg("y1", "x1", 0, route="bus")) == 250
    assert total(fares, leg("y1", "x1", 0, route="tram")) == 300


def test_with_rule_priority_empty_fields_match_anything() -> None:
    rules = "network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n,,,B,\n"
    fares = feed(fare_products=PRODUCTS, fare_leg_rules=rules)
    assert total(fares, leg("x1", "z1", 0, route="rail")) == 250


TIMEFRAMES = (
    "timeframe_group_id,start_time,end_time,service_id\n"
    "peak,07:00:00,09:00:00,weekdays\npeak,15:00:00,17:00:00,weekdays\n"
)
CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "weekdays,1,1,1,1,1,0,0,20260101,20261231\n"
)
TIMED_RULES = (
    "from_timeframe_group_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
    "peak,,C,1\n,,A,0\n"
)


def timed(rules: str = TIMED_RULES) -> FareFeed:
    return feed(
        fare_products=PRODUCTS, fare_leg_rules=rules, timeframes=TIMEFRAMES, calendar=CALENDAR
    )


@pytest.mark.parametrize(
    ("when", "expected_minor"),
    [
        (datetime(2026, 1, 5, 8, 0, tzinfo=HELSINKI), 300),
        (datetime(2026, 1, 5, 9, 0, tzinfo=HELSINKI), 200),
        (datetime(2026, 1, 5, 6, 59, 59, tzinfo=HELSINKI), 200),
        (datetime(2026, 1, 5, 15, 30, tzinfo=HELSINKI), 300),
        (datetime(2026, 1, 5, 13, 30, tzinfo=ZoneInfo("UTC")), 300),
        (datetime(2026, 1, 10, 8, 0, tzinfo=HELSINKI), 200),
    ],
    ids=["peak", "end-excluded", "before", "afternoon", "utc-input", "saturday"],
)
def test_from_timeframe_matches_local_time_and_service_day(
    when: datetime, expected_minor: int
) -> None:
    trip = Leg("op", "op:bus", "op:x1", "op:x2", when, when + timedelta(minutes=10))
    assert total(timed(), trip) == expected_minor


def test_to_timeframe_matches_the_arrival() -> None:
    rules = "to_timeframe_group_id,fare_product_id,rule_priority\npeak,C,1\n,A,0\n"
    start = datetime(2026, 1, 5, 6, 50, tzinfo=HELSINKI)
    trip = Leg("op", "op:bus", "op:x1", "op:x2", start, start + timedelta(minutes=20))
    assert total(timed(rules), trip) == 300


CATEGORIES = (
    "rider_category_id,rider_category_name,is_default_fare_category\n"
    "adult,Adult,1\nchild,Child,0\nsenior,Senior,\n"
)
CATEGORY_PRODUCTS = (
    "fare_product_id,rider_category_id,amount,currency\n"
    "single,adult,3.00,EUR\nsingle,child,1.50,EUR\nany,,9.00,EUR\n"
)


def test_rider_category_prices_and_default_category() -> None:
    rules = "network_id,fare_product_id\nbus,single\ntram,any\n"
    fares = feed(rider_categories=CATEGORIES, fare_products=CATEGORY_PRODUCTS, fare_leg_rules=rules)
    assert total(fares, leg("x1", "y1", 0)) == 300
    assert total(fares, leg("x1", "y1", 0, rider="child")) == 150
    assert total(fares, leg("x1", "y1", 0, rider="op:child")) == 150
    assert total(fares, leg("x1", "y1", 0, route="tram", rider="senior")) == 900
    with pytest.raises(NoFareError, match="sold to this rider"):
        total(fares, leg("x1", "y1", 0, rider="senior"))
    with pytest.raises(NoFareError, match="unknown rider category"):
        total(fares, leg("x1", "y1", 0, rider="student"))


def test_fare_media_cheapest_unless_one_is_asked_for() -> None:
    media = "fare_media_id,fare_media_name,fare_media_type\npaper,Paper,1\napp,Vilkku,4\n"
    products = (
        "fare_product_id,fare_media_id,amount,currency\n"
        "single,paper,3.00,EUR\nsingle,app,2.50,EUR\n"
    )
    rules = "fare_product_id\nsingle\n"
    fares = feed(fare_media=media, fare_products=products, fare_leg_rules=rules)
    assert total(fares, leg("x1", "y1", 0)) == 250
    assert total(fares, leg("x1", "y1", 0), media="paper") == 300
    charge = price_itinerary([leg("x1", "y1", 0)], {"op": fares}).legs[0].charges[0]
    assert charge.fare_media_id == "op:app"


JOIN_RULES = "from_network_id,to_network_id,from_stop_id,to_stop_id\nrail,rail,,\n"
JOIN_LEG_RULES = (
    "network_id,from_area_id,to_area_id,fare_product_id\nrail,X,Z,C\nrail,X,Y,A\nrail,Y,Z,B\n"
)


def test_join_rule_prices_consecutive_legs_as_one_effective_leg() -> None:
    legs = (leg("x1", "y1", 0, route="rail"), leg("y1", "z1", 30, route="rail"))
    joined = feed(
        fare_products=PRODUCTS, fare_leg_rules=JOIN_LEG_RULES, fare_leg_join_rules=JOIN_RULES
    )
    price = price_itinerary(legs, {"op": joined})
    assert price.total_minor == 300
    assert price.legs[1].joined_to_leg == 0
    separate = feed(fare_products=PRODUCTS, fare_leg_rules=JOIN_LEG_RULES)
    assert total(separate, *legs) == 200 + 250


def test_join_rule_needs_the_same_station_unless_stops_are_named() -> None:
    legs = (leg("x1", "y1", 0, route="rail"), leg("x2", "z1", 30, route="rail"))
    unnamed = feed(
        fare_products=PRODUCTS, fare_leg_rules=JOIN_LEG_RULES, fare_leg_join_rules=JOIN_RULES
    )
    assert total(unnamed, *legs) == 200 + 300
    named_rules = "from_network_id,to_network_id,from_stop_id,to_stop_id\nrail,rail,y1,x2\n"
    named = feed(
        fare_products=PRODUCTS, fare_leg_rules=JOIN_LEG_RULES, fare_leg_join_rules=named_rules
    )
    assert total(named, *legs) == 300


def test_each_operator_prices_its_legs_and_transfers_stay_within_an_operator() -> None:
    rules = "leg_group_id,fare_product_id\nany,A\n"
    discount = (
        "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,"
        "fare_transfer_type,fare_product_id\nany,any,-1,3600,1,0,\n"
    )
    one = feed("one", fare_products=PRODUCTS, fare_leg_rules=rules, fare_transfer_rules=discount)
    other = feed("two", fare_products=PRODUCTS, fare_leg_rules="fare_product_id\nB\n")
    legs = [
        leg("x1", "y1", 0, operator="one"),
        leg("y1", "z1", 20, operator="two"),
        leg("z1", "x1", 40, operator="one"),
    ]
    price = price_itinerary(legs, {"one": one, "two": other})
    assert [p.price_minor for p in price.legs] == [200, 250, 0]
    assert price.legs[2].transfer_from_leg == 0
    assert price.total_minor == 450


def test_an_operator_without_fares_or_a_leg_without_rule_raises_no_fare() -> None:
    fares = feed(fare_products=PRODUCTS, fare_leg_rules="from_area_id,fare_product_id\nX,A\n")
    with pytest.raises(NoFareError) as caught:
        price_itinerary([leg("x1", "y1", 0), leg("y1", "x1", 30)], {"op": fares})
    assert caught.value.leg_index == 1
    with pytest.raises(NoFareError, match="publishes no fares"):
        price_itinerary([leg("x1", "y1", 0, operator="nobody")], {"op": fares})


def test_legs_in_different_currencies_cannot_be_added() -> None:
    euro = feed("one", fare_products=PRODUCTS, fare_leg_rules="fare_product_id\nA\n")
    krona = feed(
        "two",
        fare_products="fare_product_id,amount,currency\nk,25.00,SEK\n",
        fare_leg_rules="fare_product_id\nk\n",
    )
    legs = [leg("x1", "y1", 0, operator="one"), leg("y1", "z1", 30, operator="two")]
    with pytest.raises(FareError, match="currencies"):
        price_itinerary(legs, {"one": euro, "two": krona})


@pytest.mark.parametrize(("discount", "expected_minor"), [("-3.00", [150, 0]), ("-5.00", [0, 0])])
def test_a_discount_larger_than_its_leg_is_taken_from_earlier_legs_down_to_zero(
    discount: str, expected_minor: list[int]
) -> None:
    # A + AB + B = 2.00 + discount + 2.50
    fares = transfers("gA,gB,,,,1,big\n", PRODUCTS + f"big,{discount},EUR\n")
    price: ItineraryPrice = price_itinerary(
        [leg("x1", "x2", 0), leg("y1", "y1", 30)], {"op": fares}
    )
    assert [p.price_minor for p in price.legs] == expected_minor
    assert price.total_minor == sum(expected_minor)


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 1, 5, 10, 0)  # noqa: DTZ001 - the case under test
    with pytest.raises(ValueError, match="timezone-aware"):
        Leg("op", "op:bus", "op:x1", "op:x2", naive, naive)
