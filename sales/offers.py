"""Offers: prices computed from the operators' published fares, stored so nobody sets their own."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg

from operators.fares.catalogue import CatalogueProduct, find_product, get_product_price
from operators.fares.engine import price_itinerary
from operators.fares.matching import Leg, areas_of
from operators.fares.model import FareError, FareFeed, ImpossibleItinerary
from sales.errors import (
    Departed,
    MixedCurrencies,
    NoFare,
    NoFares,
    NotASequence,
    NotFound,
    ValidFromPast,
)
from sales.schemas import (
    Conditions,
    ItineraryOfferRequest,
    Offer,
    OfferCreate,
    OfferLeg,
    ProductOfferRequest,
    Traveller,
)

OFFER_TTL = timedelta(minutes=15)
DAY_TICKET = timedelta(hours=24)
#: An itinerary leg's ticket is valid from a little before departure to a little after arrival.
BOARDING_MARGIN = timedelta(minutes=15)


class OperatorTerms:
    """An operator's published conditions: ticket validity, refund fee, time zone."""

    def __init__(self, row: asyncpg.Record) -> None:
        self.operator_id: str = row["id"]
        self.validity = timedelta(minutes=row["ticket_validity_min"])
        self.refund_fee_minor: int = row["refund_fee_minor"]
        self.timezone = ZoneInfo(row["timezone"])

    def conditions(self, valid_from: datetime) -> Conditions:
        """Refundable, less the fee, until the ticket starts being valid."""
        return Conditions(
            cancellable=True, refundable_until=valid_from, refund_fee_minor=self.refund_fee_minor
        )


async def operator_terms(
    conn: asyncpg.Pool | asyncpg.Connection, operator_ids: set[str]
) -> dict[str, OperatorTerms]:
    """Return the terms of each operator (`NotFound` naming an unknown one)."""
    rows = await conn.fetch("SELECT * FROM operators WHERE id = ANY($1)", list(operator_ids))
    terms = {r["id"]: OperatorTerms(r) for r in rows}
    for operator_id in sorted(operator_ids - terms.keys()):
        raise NotFound.of("operator", operator_id)
    return terms


def product_validity(product: CatalogueProduct, terms: OperatorTerms) -> timedelta:
    """Return how long a product's ticket lasts: a day when sold on its own (no leg rules)."""
    sold_alone = not product.is_leg_product and not product.is_transfer_product
    return DAY_TICKET if sold_alone else terms.validity


def _feed(fares: Mapping[str, FareFeed], operator_id: str) -> FareFeed:
    feed = fares.get(operator_id)
    if feed is None:
        raise NoFares(f"operator {operator_id!r} publishes no fares")
    return feed


def _product(feed: FareFeed, product_id: str) -> CatalogueProduct:
    product = find_product(feed, product_id)
    if product is None:
        raise NotFound.of("product", product_id)
    return product


def price_product(
    request: ProductOfferRequest,
    travellers: list[Traveller],
    fares: Mapping[str, FareFeed],
    terms: OperatorTerms,
    now: datetime,
) -> OfferLeg:
    """Price a product for every traveller."""
    feed = _feed(fares, request.operator_id)
    product = _product(feed, request.product_id)
    prices = []
    for i, traveller in enumerate(travellers):
        try:
            prices.append(
                get_product_price(
                    feed, product.fare_product_id, traveller.rider_category, request.fare_media_id
                )
            )
        except FareError as exc:
            raise _unpriceable(f"travellers[{i}]", str(exc)) from exc
    valid_from = request.valid_from or now
    return OfferLeg(
        position=0,
        operator_id=request.operator_id,
        product_id=product.fare_product_id,
        product_name=product.fare_product_name,
        rider_categories=[p.rider_category_id for p in prices],
        price_minor=sum(p.price_minor for p in prices),
        currency=prices[0].currency,
        valid_from=valid_from,
        valid_until=valid_from + product_validity(product, terms),
        conditions=terms.conditions(valid_from),
    )


def price_itinerary_legs(
    request: ItineraryOfferRequest,
    travellers: list[Traveller],
    fares: Mapping[str, FareFeed],
    terms: Mapping[str, OperatorTerms],
) -> list[OfferLeg]:
    """Price every leg of an itinerary for every traveller with the operators' fare rules."""
    per_traveller = []
    for i, traveller in enumerate(travellers):
        legs = [
            Leg(
                leg.operator_id,
                leg.route_id,
                leg.from_stop_id,
                leg.to_stop_id,
                leg.departure,
                leg.arrival,
                traveller.rider_category,
            )
            for leg in request.legs
        ]
        try:
            per_traveller.append(price_itinerary(legs, fares, fare_media_id=request.fare_media_id))
        except ImpossibleItinerary as exc:
            raise NotASequence(f"itinerary.legs[{exc.leg_index}]: {exc.reason}") from exc
        except FareError as exc:
            raise _unpriceable(f"travellers[{i}]", str(exc)) from exc
    offer_legs = []
    for position, leg in enumerate(request.legs):
        prices = [p.legs[position] for p in per_traveller]
        feed = _feed(fares, leg.operator_id)
        valid_from = leg.departure - BOARDING_MARGIN
        first = next((p.charges[0] for p in prices if p.charges), None)
        categories = [
            p.charges[0].rider_category_id if p.charges else t.rider_category
            for p, t in zip(prices, travellers, strict=True)
        ]
        offer_legs.append(
            OfferLeg(
                position=position,
                operator_id=leg.operator_id,
                product_id=first.fare_product_id if first else None,
                product_name=first.fare_product_name if first else None,
                rider_categories=categories,
                price_minor=sum(p.price_minor for p in prices),
                currency=prices[0].currency,
                valid_from=valid_from,
                valid_until=leg.arrival + BOARDING_MARGIN,
                conditions=terms[leg.operator_id].conditions(valid_from),
                trip_id=leg.trip_id,
                service_date=leg.service_date or _local_date(leg.departure, terms[leg.operator_id]),
                route_id=leg.route_id,
                from_stop_id=leg.from_stop_id,
                to_stop_id=leg.to_stop_id,
                zones=sorted(areas_of(feed, leg.from_stop_id) | areas_of(feed, leg.to_stop_id)),
            )
        )
    return offer_legs


def _local_date(moment: datetime, terms: OperatorTerms) -> date:
    return moment.astimezone(terms.timezone).date()


def _unpriceable(where: str, detail: str) -> NoFare:
    return NoFare(f"{where}: {detail}")


#: How far in the past a product's validity may start (clocks differ a little).
VALID_FROM_SKEW = timedelta(minutes=5)


def _refuse_the_past(body: OfferCreate, now: datetime) -> None:
    """Refuse an itinerary with a leg that has departed, or a product valid from the past."""
    if body.itinerary is not None:
        for i, leg in enumerate(body.itinerary.legs):
            if leg.departure < now:
                raise Departed(f"itinerary.legs[{i}]: departed at {leg.departure.isoformat()}")
    valid_from = body.product.valid_from if body.product is not None else None
    if valid_from is not None and valid_from < now - VALID_FROM_SKEW:
        raise ValidFromPast(f"product.valid_from: {valid_from.isoformat()} has passed")


async def create_offer(
    pool: asyncpg.Pool, tenant_id: str, body: OfferCreate, fares: Mapping[str, FareFeed]
) -> Offer:
    """Price and store an offer for a tenant (never for a departure that has left)."""
    now = datetime.now(UTC)
    _refuse_the_past(body, now)
    if body.itinerary is None:
        assert body.product is not None  # noqa: S101  (OfferCreate guarantees exactly one)
        terms = await operator_terms(pool, {body.product.operator_id})
        legs = [
            price_product(
                body.product, body.travellers, fares, terms[body.product.operator_id], now
            )
        ]
        kind: Literal["product", "itinerary"] = "product"
    else:
        terms = await operator_terms(pool, {leg.operator_id for leg in body.itinerary.legs})
        legs = price_itinerary_legs(body.itinerary, body.travellers, fares, terms)
        kind = "itinerary"
    currencies = {leg.currency for leg in legs}
    if len(currencies) != 1:
        raise MixedCurrencies(f"legs are priced in {sorted(currencies)}")
    offer = Offer(
        id=uuid.uuid4(),
        kind=kind,
        legs=legs,
        travellers=body.travellers,
        total_minor=sum(leg.price_minor for leg in legs),
        currency=currencies.pop(),
        valid_until=now + OFFER_TTL,
    )
    await pool.execute(
        """INSERT INTO offers (id, tenant_id, kind, legs, travellers, total_minor, currency,
                               valid_from, valid_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        offer.id,
        tenant_id,
        offer.kind,
        [leg.model_dump(mode="json") for leg in offer.legs],
        [t.model_dump(mode="json") for t in offer.travellers],
        offer.total_minor,
        offer.currency,
        now,
        offer.valid_until,
    )
    return offer
