"""A type 1 transfer followed by a type 2 one, and the reverse, on real Transcollines trips
(issue 18, defect 5). The reference's processing: A > B is A + AB + B (type 1) or AB
(type 2); B > C is S + BC + C (type 1) or S + BC (type 2), S being what was processed."""

from __future__ import annotations

from datetime import date

from operators.fares.engine import price_itinerary
from operators.fares.loader import load_fares
from operators.fares.model import FareFeed
from tests.operators.fares.transcollines import OPERATOR, feed_zip, ride

WEDNESDAY = date(2026, 1, 7)
#: Collines -> Gatineau, Gatineau -> Collines, Collines -> Gatineau: three trips in sequence.
LEGS = [
    ride("20260105-Semaine-01-921-0-0523", WEDNESDAY),
    ride("20260105-Semaine-01-921-1-0700", WEDNESDAY),
    ride("20260105-Semaine-01-925-0-1100", WEDNESDAY),
]
PRODUCTS = (
    "fare_product_id,amount,currency\n"
    "single,5.00,CAD\ncorrespondance,1.50,CAD\npass-retour,21.00,CAD\n"
)
RULES = (
    "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id\n"
    "to-gatineau,REG,COL,GAT,single\nfrom-gatineau,REG,GAT,COL,single\n"
)


def fares(first: tuple[int, str], second: tuple[int, str]) -> FareFeed:
    """Fares whose transfer into Gatineau's return is `first`, and back out is `second`."""
    transfers = (
        "from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\n"
        f"to-gatineau,from-gatineau,{first[0]},{first[1]}\n"
        f"from-gatineau,to-gatineau,{second[0]},{second[1]}\n"
    )
    files = {
        "fare_products.txt": PRODUCTS,
        "fare_leg_rules.txt": RULES,
        "fare_transfer_rules.txt": transfers,
    }
    return load_fares(feed_zip(files), OPERATOR)


def test_type_1_then_type_2_keeps_the_middle_legs_fare() -> None:
    feed = fares((1, "correspondance"), (2, "pass-retour"))
    price = price_itinerary(LEGS, {OPERATOR: feed})
    # A + AB + B = S, then S + BC: 5.00 + 1.50 + 5.00 + 21.00.
    assert price.total_minor == 3250
    assert [leg.price_minor for leg in price.legs] == [500, 650, 2100]
    assert [c.fare_product_id for c in price.legs[1].charges] == [
        f"{OPERATOR}:single",
        f"{OPERATOR}:correspondance",
    ]


def test_type_2_then_type_1_replaces_only_the_first_legs_fare() -> None:
    feed = fares((2, "pass-retour"), (1, "correspondance"))
    price = price_itinerary(LEGS, {OPERATOR: feed})
    # AB, then S + BC + C: 21.00 + 1.50 + 5.00.
    assert price.total_minor == 2750
    assert [leg.price_minor for leg in price.legs] == [0, 2100, 650]


def test_type_2_twice_charges_both_transfer_products_and_no_leg_after_the_first() -> None:
    feed = fares((2, "pass-retour"), (2, "correspondance"))
    # AB, then S + BC: 21.00 + 1.50.
    assert price_itinerary(LEGS, {OPERATOR: feed}).total_minor == 2250
