"""A product sold on its own: offered only if the operator's fares and conditions sell it alone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from operators.fares.catalogue import (
    CatalogueProduct,
    ProductPrice,
    find_product,
    get_product_price,
    sells_alone,
)
from operators.fares.model import FareError, FareFeed
from operators.fares.money import format_minor
from sales.conditions import OperatorTerms
from sales.errors import NoFare, NoFares, NotFound, NotSoldAlone
from sales.schemas import OfferLeg, ProductOfferRequest, Traveller


def fares_of(fares: Mapping[str, FareFeed], operator_id: str) -> FareFeed:
    """Return an operator's current fares (`NoFares` when it publishes none)."""
    feed = fares.get(operator_id)
    if feed is None:
        raise NoFares(f"operator {operator_id!r} publishes no fares")
    return feed


def _sold_alone(feed: FareFeed, product_id: str, terms: OperatorTerms) -> CatalogueProduct:
    product = find_product(feed, product_id)
    if product is None:
        raise NotFound.of("product", product_id)
    marked = terms.marked_sold_alone()
    if not sells_alone(product, marked):
        why = (
            "it is priced at zero or less, and a free or negative amount is never sold alone"
            if product.is_leg_product or product.fare_product_id in marked
            else "no fare leg rule prices it and the operator does not sell it alone"
        )
        raise NotSoldAlone(f"product.product_id: {product.fare_product_id!r}: {why}")
    return product


def _price(
    feed: FareFeed, product: CatalogueProduct, traveller: Traveller, media: str | None, i: int
) -> ProductPrice:
    try:
        price = get_product_price(feed, product.fare_product_id, traveller.rider_category, media)
    except FareError as exc:
        raise NoFare(f"travellers[{i}]: {exc}") from exc
    if price.price_minor <= 0:
        amount = format_minor(price.price_minor, price.currency)
        raise NotSoldAlone(
            f"travellers[{i}]: {product.fare_product_id!r} costs {amount} {price.currency} "
            "for this rider; a free or negative amount is never sold on its own"
        )
    return price


def price_product(
    request: ProductOfferRequest,
    travellers: list[Traveller],
    fares: Mapping[str, FareFeed],
    terms: OperatorTerms,
    now: datetime,
) -> OfferLeg:
    """Price a product sold alone for every traveller; validity and conditions as the operator's."""
    feed = fares_of(fares, request.operator_id)
    product = _sold_alone(feed, request.product_id, terms)
    prices = [_price(feed, product, t, request.fare_media_id, i) for i, t in enumerate(travellers)]
    valid_from = request.valid_from or now
    own = terms.for_product(product.fare_product_id)
    return OfferLeg(
        position=0,
        operator_id=request.operator_id,
        product_id=product.fare_product_id,
        product_name=product.fare_product_name,
        rider_categories=[p.rider_category_id for p in prices],
        price_minor=sum(p.price_minor for p in prices),
        currency=prices[0].currency,
        valid_from=valid_from,
        valid_until=valid_from + own.validity,
        conditions=own.conditions(valid_from),
    )
