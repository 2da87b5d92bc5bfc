"""Price an itinerary with its operators' Fares v2 rules: legs, transfers, rider categories.

Each operator's legs are priced with that operator's fares; transfer rules link an operator's
consecutive legs in the itinerary with other operators' legs left out (a ticket held while
riding someone else's bus). Among all the ways the rules allow, the cheapest is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from operators.fares.matching import FareLeg, Leg, effective_legs, list_leg_options
from operators.fares.model import (
    FareError,
    FareFeed,
    FareProduct,
    ImpossibleItinerary,
    NoFareError,
)
from operators.fares.transfers import Step, cheapest_steps


@dataclass(frozen=True, slots=True)
class FareCharge:
    """A product paid on a leg: its own fare (`leg`) or a transfer product (`transfer`)."""

    kind: Literal["leg", "transfer"]
    fare_product_id: str
    fare_product_name: str | None
    rider_category_id: str | None
    fare_media_id: str | None
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class LegPrice:
    """What one itinerary leg costs; legs joined into one fare leg carry it on their first leg."""

    leg_index: int
    operator_id: str
    price_minor: int
    currency: str
    charges: tuple[FareCharge, ...]
    leg_group_id: str | None
    joined_to_leg: int | None = None
    transfer_from_leg: int | None = None


@dataclass(frozen=True, slots=True)
class ItineraryPrice:
    """The price of an itinerary: one entry per leg, in order, and the total."""

    legs: tuple[LegPrice, ...]
    total_minor: int
    currency: str


def price_itinerary(
    legs: Sequence[Leg], fares: Mapping[str, FareFeed], *, fare_media_id: str | None = None
) -> ItineraryPrice:
    """Price legs with their operators' fares (raises `NoFareError` for a leg with no fare)."""
    if not legs:
        raise FareError("an itinerary needs at least one leg")
    check_sequence(legs)
    priced: dict[int, LegPrice] = {}
    for operator_id in dict.fromkeys(leg.operator_id for leg in legs):
        own = [(i, leg) for i, leg in enumerate(legs) if leg.operator_id == operator_id]
        feed = fares.get(operator_id)
        if feed is None:
            raise NoFareError(own[0][0], operator_id, "the operator publishes no fares")
        media = feed.own_id(fare_media_id)
        for price in _price_operator_legs(feed, own, media):
            priced[price.leg_index] = price
    ordered = tuple(priced[i] for i in range(len(legs)))
    currencies = {p.currency for p in ordered}
    if len(currencies) > 1:
        raise FareError(f"legs are priced in several currencies: {sorted(currencies)}")
    return ItineraryPrice(ordered, sum(p.price_minor for p in ordered), currencies.pop())


def check_sequence(legs: Sequence[Leg]) -> None:
    """Refuse legs that are not one traveller's sequence in time (`ImpossibleItinerary`)."""
    for index, leg in enumerate(legs):
        if leg in legs[:index]:
            raise ImpossibleItinerary(index, f"the same leg as leg {legs.index(leg)}")
        if index and leg.departure < legs[index - 1].arrival:
            before = legs[index - 1].arrival.isoformat()
            reason = (
                f"leaves at {leg.departure.isoformat()}, before leg {index - 1} arrives at {before}"
            )
            raise ImpossibleItinerary(index, reason)


def _price_operator_legs(
    feed: FareFeed, legs: list[tuple[int, Leg]], fare_media_id: str | None
) -> list[LegPrice]:
    fare_legs = effective_legs(feed, legs)
    options = [list_leg_options(feed, fl, fl.leg_indices[0], fare_media_id) for fl in fare_legs]
    steps = cheapest_steps(feed, fare_legs, options, fare_media_id)
    out: list[LegPrice] = []
    for position, (fare_leg, step) in enumerate(zip(fare_legs, steps, strict=True)):
        removed = position + 1 < len(steps) and steps[position + 1].removes_previous_leg_fare
        previous = fare_legs[position - 1].leg_indices[-1] if step.transfer else None
        out.extend(_leg_prices(feed, fare_leg, step, removed, previous))
    return _settle_discounts(out)


def _settle_discounts(prices: list[LegPrice]) -> list[LegPrice]:
    """Move a leg's negative amount (a discount larger than its fare) onto earlier legs.

    The operator's total stays what the rules give, unless that is negative: then it is 0.
    """
    settled = list(prices)
    for index, price in enumerate(prices):
        deficit = -price.price_minor
        if deficit <= 0:
            continue
        settled[index] = replace(settled[index], price_minor=0)
        for earlier in range(index - 1, -1, -1):
            taken = min(deficit, settled[earlier].price_minor)
            settled[earlier] = replace(
                settled[earlier], price_minor=settled[earlier].price_minor - taken
            )
            deficit -= taken
    return settled


def _leg_prices(
    feed: FareFeed, fare_leg: FareLeg, step: Step, removed: bool, transfer_from: int | None
) -> list[LegPrice]:
    charges: list[FareCharge] = []
    if step.charges_leg_fare and not removed:
        charges.append(_charge("leg", step.option.product))
    if step.transfer_product is not None:
        charges.append(_charge("transfer", step.transfer_product))
    currency = step.option.product.currency
    first = LegPrice(
        leg_index=fare_leg.leg_indices[0],
        operator_id=feed.operator_id,
        price_minor=sum(c.amount_minor for c in charges),
        currency=currency,
        charges=tuple(charges),
        leg_group_id=step.option.rule.leg_group_id,
        transfer_from_leg=transfer_from,
    )
    joined = [
        replace(
            first,
            leg_index=i,
            price_minor=0,
            charges=(),
            joined_to_leg=first.leg_index,
            transfer_from_leg=None,
        )
        for i in fare_leg.leg_indices[1:]
    ]
    return [first, *joined]


def _charge(kind: Literal["leg", "transfer"], product: FareProduct) -> FareCharge:
    return FareCharge(
        kind,
        product.fare_product_id,
        product.fare_product_name,
        product.rider_category_id,
        product.fare_media_id,
        product.amount_minor,
        product.currency,
    )
