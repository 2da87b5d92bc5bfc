"""The products an operator sells, as a catalogue: prices per rider category and fare media."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from operators.fares.matching import list_product_rows
from operators.fares.model import FareError, FareFeed, FareProduct


@dataclass(frozen=True, slots=True)
class ProductPrice:
    """The price of a product for one rider category (None: any rider) and fare media."""

    rider_category_id: str | None
    rider_category_name: str | None
    is_default_rider_category: bool
    fare_media_id: str | None
    fare_media_name: str | None
    fare_media_type: int | None
    price_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class CatalogueProduct:
    """A fare product and how it is used.

    `has_origin_destination` is False for products valid without an origin or destination
    (a day ticket, or a flat fare); `is_leg_product`/`is_transfer_product` say whether leg or
    transfer rules sell it (a product sold on its own has neither).
    """

    operator_id: str
    fare_product_id: str
    fare_product_name: str | None
    prices: tuple[ProductPrice, ...]
    has_origin_destination: bool
    is_leg_product: bool
    is_transfer_product: bool
    area_pairs: tuple[tuple[str | None, str | None], ...]
    network_ids: tuple[str, ...]


def _price(feed: FareFeed, row: FareProduct) -> ProductPrice:
    category = feed.rider_categories.get(row.rider_category_id or "")
    media = feed.fare_media.get(row.fare_media_id or "")
    return ProductPrice(
        rider_category_id=row.rider_category_id,
        rider_category_name=None if category is None else category.rider_category_name,
        is_default_rider_category=category is not None and category.is_default,
        fare_media_id=row.fare_media_id,
        fare_media_name=None if media is None else media.fare_media_name,
        fare_media_type=None if media is None else media.fare_media_type,
        price_minor=row.amount_minor,
        currency=row.currency,
    )


def _product(feed: FareFeed, fare_product_id: str) -> CatalogueProduct:
    rows = feed.list_product_rows(fare_product_id)
    rules = [r for r in feed.leg_rules if r.fare_product_id == fare_product_id]
    pairs = tuple(dict.fromkeys((r.from_area_id, r.to_area_id) for r in rules))
    return CatalogueProduct(
        operator_id=feed.operator_id,
        fare_product_id=fare_product_id,
        fare_product_name=next((r.fare_product_name for r in rows if r.fare_product_name), None),
        prices=tuple(_price(feed, r) for r in rows),
        has_origin_destination=any(a is not None or b is not None for a, b in pairs),
        is_leg_product=bool(rules),
        is_transfer_product=any(t.fare_product_id == fare_product_id for t in feed.transfer_rules),
        area_pairs=pairs,
        network_ids=tuple(dict.fromkeys(r.network_id for r in rules if r.network_id)),
    )


def list_catalogue(feed: FareFeed) -> list[CatalogueProduct]:
    """Return every product of an operator in file order, transfer-only products included."""
    ids = dict.fromkeys(p.fare_product_id for p in feed.products)
    return [_product(feed, product_id) for product_id in ids]


def sells_alone(product: CatalogueProduct, marked: Collection[str]) -> bool:
    """Return whether a product may be sold on its own: the one rule of what is for sale alone.

    A product a fare leg rule prices, or one its operator marks as sold alone (a day
    ticket no rule uses); never one that is only a transfer discount, and never at zero
    or less (a free or negative amount is part of a journey's price, not a ticket).
    """
    priced = product.is_leg_product or product.fare_product_id in marked
    return priced and any(p.price_minor > 0 for p in product.prices)


def list_sold_alone(feed: FareFeed, marked: Collection[str]) -> list[CatalogueProduct]:
    """Return the products for sale on their own, with only their prices above zero."""
    return [
        replace(p, prices=tuple(price for price in p.prices if price.price_minor > 0))
        for p in list_catalogue(feed)
        if sells_alone(p, marked)
    ]


def find_product(feed: FareFeed, fare_product_id: str) -> CatalogueProduct | None:
    """Return one product (its own or namespaced id) without building the whole catalogue."""
    wanted = feed.own_id(fare_product_id) or fare_product_id
    if not any(p.fare_product_id == wanted for p in feed.products):
        return None
    return _product(feed, wanted)


def get_product_price(
    feed: FareFeed,
    fare_product_id: str,
    rider_category_id: str | None = None,
    fare_media_id: str | None = None,
) -> ProductPrice:
    """Return the cheapest price of a product for a rider (default category when None)."""
    product_id = feed.own_id(fare_product_id) or fare_product_id
    category, media = feed.own_id(rider_category_id), feed.own_id(fare_media_id)
    rows = list_product_rows(feed, product_id, category, media)
    if not rows:
        raise FareError(f"{fare_product_id!r} is not sold to this rider category and media")
    return _price(feed, rows[0])
