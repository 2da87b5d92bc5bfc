"""Offers: prices computed from the operators' fares and the timetable, stored when the app asks.

A quote (`quote_offer`) reads and never writes: `GET /v1/journeys` shows journeys with
their prices that way. An offer (`create_offer`) is a quote stored for `OFFER_TTL`, the
only thing a booking takes a price from; offers past their validity that nobody booked
are purged (`purge_expired_offers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg

from operators.fares.model import FareFeed
from sales.cache import Cache
from sales.conditions import operator_terms
from sales.errors import MixedCurrencies, ValidFromPast
from sales.itineraries import find_rides, price_rides, sales_close
from sales.products import price_product
from sales.rides import Schedule
from sales.schemas import Offer, OfferCreate, OfferLeg, Quote

OFFER_TTL = timedelta(minutes=15)
#: How far in the past a product's validity may start (clocks differ a little).
VALID_FROM_SKEW = timedelta(minutes=5)
#: Offers are kept this long past their validity (a booking racing the end still finds it).
PURGE_AFTER = timedelta(hours=1)


async def _legs(
    conn: asyncpg.Pool | asyncpg.Connection,
    body: OfferCreate,
    fares: Mapping[str, FareFeed],
    schedule: Schedule | None,
    now: datetime,
    cache: Cache | None,
) -> list[OfferLeg]:
    if body.product is not None:
        valid_from = body.product.valid_from
        if valid_from is not None and valid_from < now - VALID_FROM_SKEW:
            raise ValidFromPast(f"product.valid_from: {valid_from.isoformat()} has passed")
        terms = await operator_terms(conn, {body.product.operator_id}, cache)
        product = body.product
        return [price_product(product, body.travellers, fares, terms[product.operator_id], now)]
    assert body.itinerary is not None  # noqa: S101  (OfferCreate guarantees exactly one)
    if schedule is None:
        raise ValueError("an itinerary is priced against a timetable: pass its schedule")
    rides = find_rides(body.itinerary, schedule, now)
    terms = await operator_terms(conn, {r.operator_id for r in rides}, cache)
    return price_rides(rides, body.travellers, fares, terms, body.itinerary.fare_media_id)


async def quote_offer(
    conn: asyncpg.Pool | asyncpg.Connection,
    body: OfferCreate,
    fares: Mapping[str, FareFeed],
    schedule: Schedule | None,
    now: datetime | None = None,
    cache: Cache | None = None,
) -> Quote:
    """Price a product or an itinerary (its rides as the timetable has them); store nothing."""
    legs = await _legs(conn, body, fares, schedule, now or datetime.now(UTC), cache)
    currencies = {leg.currency for leg in legs}
    if len(currencies) != 1:
        raise MixedCurrencies(f"legs are priced in {sorted(currencies)}")
    return Quote(
        kind="product" if body.product is not None else "itinerary",
        legs=legs,
        travellers=body.travellers,
        total_minor=sum(leg.price_minor for leg in legs),
        currency=currencies.pop(),
    )


async def create_offer(
    pool: asyncpg.Pool,
    tenant_id: str,
    body: OfferCreate,
    fares: Mapping[str, FareFeed],
    schedule: Schedule | None,
    cache: Cache | None = None,
    now: datetime | None = None,
) -> Offer:
    """Price and store an offer for a tenant (never for a departure that has left).

    It can be booked for `OFFER_TTL`, or until its first ride departs if that is sooner.
    """
    now = now or datetime.now(UTC)
    quote = await quote_offer(pool, body, fares, schedule, now, cache)
    legs = [leg.model_dump() for leg in quote.legs]
    offer = Offer(
        id=uuid.uuid4(), valid_until=sales_close(legs, now + OFFER_TTL), **quote.model_dump()
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


async def purge_expired_offers(pool: asyncpg.Pool, limit: int = 1000) -> int:
    """Delete offers past their validity that no booking took; return how many."""
    deleted = await pool.fetch(
        """DELETE FROM offers WHERE id IN (
               SELECT o.id FROM offers o
               WHERE o.valid_until < now() - $1::interval
                 AND NOT EXISTS (SELECT 1 FROM booking_offers b WHERE b.offer_id = o.id)
                 AND NOT EXISTS (SELECT 1 FROM booking_legs l WHERE l.offer_id = o.id)
               LIMIT $2)
           RETURNING id""",
        PURGE_AFTER,
        limit,
    )
    return len(deleted)
