"""Invariants of the fare engine over generated fares and itineraries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares_files
from operators.fares.matching import Leg
from operators.fares.model import FareFeed

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GROUPS = ("g1", "g2", "g3")
AREA_FILES = {
    "areas.txt": "area_id\nX\nY\nZ\n",
    "stop_areas.txt": "area_id,stop_id\nX,x\nY,y\nZ,z\n",
    "routes.txt": "route_id,network_id\nbus,bus\ntram,tram\n",
}

leg_rule = st.tuples(
    st.sampled_from(GROUPS),
    st.none() | st.sampled_from(("bus", "tram")),
    st.none() | st.sampled_from("XYZ"),
    st.none() | st.sampled_from("XYZ"),
    st.sampled_from(("p0", "p1", "p2")),
    st.integers(0, 2),
)
transfer_rule = st.tuples(
    st.none() | st.sampled_from(GROUPS),
    st.none() | st.sampled_from(GROUPS),
    st.sampled_from((-1, 1, 2)),
    st.none() | st.sampled_from((1800, 3600)),
    st.integers(0, 3),
    st.integers(0, 2),
    st.none() | st.sampled_from(("t0", "t1")),
)


def csv_value(value: object) -> str:
    return "" if value is None else str(value)


def fares_text(
    amounts: list[int],
    leg_rules: list[tuple[object, ...]],
    transfer_rules: list[tuple[object, ...]],
    allowed_types: tuple[int, ...],
) -> dict[str, bytes]:
    products = "fare_product_id,amount,currency\n" + "".join(
        f"{pid},{amount / 100:.2f},EUR\n"
        for pid, amount in zip(("p0", "p1", "p2", "t0", "t1"), amounts, strict=True)
    )
    fallbacks = [(group, None, None, None, f"p{i}", 0) for i, group in enumerate(GROUPS)]
    legs = {r[1:5]: r for r in [*leg_rules, *fallbacks]}
    leg_text = "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
    leg_text += "".join(",".join(map(csv_value, r)) + "\n" for r in legs.values())
    transfers: dict[tuple[object, ...], tuple[object, ...]] = {}
    for a, b, count, limit, limit_type, kind, product in transfer_rules:
        if kind in allowed_types:
            row = (a, b, count if a == b else None, limit, limit_type if limit else None)
            transfers[(a, b, product, row[2], limit)] = (*row, kind, product)
    header = "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,"
    transfer_text = header + "fare_transfer_type,fare_product_id\n"
    transfer_text += "".join(",".join(map(csv_value, r)) + "\n" for r in transfers.values())
    files = {
        **AREA_FILES,
        "fare_products.txt": products,
        "fare_leg_rules.txt": leg_text,
        "fare_transfer_rules.txt": transfer_text,
    }
    return {name: text.encode() for name, text in files.items()}


def feeds(min_amount: int, allowed_types: tuple[int, ...]) -> st.SearchStrategy[FareFeed]:
    return st.builds(
        lambda amounts, legs, transfers: load_fares_files(
            fares_text(amounts, legs, transfers, allowed_types), "op"
        ),
        st.lists(st.integers(min_amount, 1000), min_size=5, max_size=5),
        st.lists(leg_rule, max_size=6),
        st.lists(transfer_rule, max_size=5),
    )


leg_specs = st.lists(
    st.tuples(
        st.sampled_from("xyz"),
        st.sampled_from("xyz"),
        st.sampled_from(("bus", "tram")),
        st.integers(0, 40),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=5,
)


def make_legs(specs: list[tuple[str, str, str, int, int]]) -> list[Leg]:
    legs: list[Leg] = []
    clock = START
    for start, end, route, wait_min, ride_min in specs:
        departure = clock + timedelta(minutes=wait_min)
        clock = departure + timedelta(minutes=ride_min)
        legs.append(Leg("op", f"op:{route}", f"op:{start}", f"op:{end}", departure, clock))
    return legs


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(feeds(-1000, (0, 1, 2)), leg_specs)
def test_a_fare_is_never_negative_and_the_total_is_the_sum(
    fares: FareFeed, specs: list[tuple[str, str, str, int, int]]
) -> None:
    price = price_itinerary(make_legs(specs), {"op": fares})
    assert all(leg.price_minor >= 0 for leg in price.legs)
    assert price.total_minor == sum(leg.price_minor for leg in price.legs)


@SETTINGS
@given(feeds(0, (0, 1)), leg_specs)
def test_adding_a_leg_never_lowers_the_total_with_non_negative_products(
    fares: FareFeed, specs: list[tuple[str, str, str, int, int]]
) -> None:
    # Holds when every product is >= 0 and no transfer (type 2, AB) replaces an earlier fare.
    legs = make_legs(specs)
    shorter = price_itinerary(legs[:-1], {"op": fares}).total_minor if len(legs) > 1 else 0
    assert price_itinerary(legs, {"op": fares}).total_minor >= shorter


@SETTINGS
@given(feeds(-1000, (0, 1, 2)), leg_specs)
def test_the_price_does_not_depend_on_the_time_zone_of_the_input(
    fares: FareFeed, specs: list[tuple[str, str, str, int, int]]
) -> None:
    legs = make_legs(specs)
    helsinki = ZoneInfo("Europe/Helsinki")
    local = [
        Leg(
            leg.operator_id,
            leg.route_id,
            leg.from_stop_id,
            leg.to_stop_id,
            leg.departure.astimezone(helsinki),
            leg.arrival.astimezone(helsinki),
        )
        for leg in legs
    ]
    assert price_itinerary(local, {"op": fares}) == price_itinerary(legs, {"op": fares})
