"""Making a booking: its offers read and checked, then the booking in one statement.

The statement makes the row, its offer links, takes the seats of every limit (the
`capacities` CHECK refuses an oversale), the holds, the legs and the event; the
state machine that follows is `sales.bookings` and `sales.settle`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from sales import capacity
from sales.errors import (
    InvalidBooking,
    MixedCurrencies,
    NotFound,
    OfferAlreadyBooked,
    OfferExpired,
)
from sales.idempotency import Read
from sales.itineraries import sales_close
from sales.legs import Sales
from sales.schemas import BookingCreate
from sales.travellers import travellers_of

#: The offers of a booking request ($1 the tenant, $2 the offer ids).
_OFFERS = "SELECT * FROM offers WHERE id = ANY($2) AND tenant_id = $1"
#: The same, in the statement of an Idempotency-Key's claim ($1 the tenant, $5 the ids).
_OFFERS_WITH_CLAIM = "SELECT * FROM offers WHERE id = ANY($5) AND tenant_id = $1"


def offers_read(body: BookingCreate) -> Read:
    """Return the read of a booking's offers, to run with its Idempotency-Key's claim."""
    return Read(_OFFERS_WITH_CLAIM, (body.offer_ids,))


async def read_offers(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, body: BookingCreate, now: datetime
) -> list[asyncpg.Record]:
    """Return the offers of a booking request, checked (`checked_offers`)."""
    return checked_offers(await conn.fetch(_OFFERS, tenant_id, body.offer_ids), body, now)


def checked_offers(
    rows: list[asyncpg.Record], body: BookingCreate, now: datetime
) -> list[asyncpg.Record]:
    """Return the offers in the order asked for; raise if one is missing, expired or twice."""
    found = {r["id"]: r for r in rows if r["id"] is not None}
    for i, offer_id in enumerate(body.offer_ids):
        offer = found.get(offer_id)
        if offer is None:
            raise NotFound(f"body.offer_ids[{i}]: offer {offer_id} does not exist")
        if offer["valid_until"] <= now:
            raise OfferExpired(
                f"body.offer_ids[{i}]: offer {offer_id} expired at "
                f"{offer['valid_until'].isoformat()}",
            )
    if len(set(body.offer_ids)) != len(body.offer_ids):
        raise InvalidBooking("body.offer_ids: an offer is listed twice")
    return [found[i] for i in body.offer_ids]


#: The booking in one statement: its row, its offers, the seats of every limit its legs fall
#: under (locked in id order by the FOR UPDATE subquery, so two bookings taking the same two
#: limits never wait for each other; the `capacities` CHECK refuses an oversale), the holds,
#: the legs (RESERVING, owed their reservation; the lease is taken with the row) and the
#: event. Returns the legs as `drive` reads them.
_BOOK = """
WITH booked AS (
       INSERT INTO bookings (id, tenant_id, status, traveller_ref, travellers, total_minor,
                             currency, expires_at, idempotency_key, settle_after)
       VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $8, now() + $9::interval)
       RETURNING id, tenant_id),
     offered AS (INSERT INTO booking_offers (offer_id, booking_id)
                 SELECT o, $1 FROM booked, unnest($10::uuid[]) AS o),
     wanted AS (
       SELECT * FROM unnest($11::uuid[], $12::int[], $13::uuid[], $14::text[], $15::jsonb[],
                            $16::bigint[], $17::text[], $18::text[], $19::date[], $20::text[])
              AS w(id, position, offer_id, operator_id, detail, price_minor, currency,
                   trip_id, service_date, product_id)),
     limits AS (
       SELECT c.id, w.position FROM capacities c JOIN wanted w
         ON c.operator_id = w.operator_id
        AND ((c.trip_id = w.trip_id AND c.service_date = w.service_date)
             OR c.product_id = w.product_id)),
     taken AS (
       UPDATE capacities c SET seats_taken = c.seats_taken + s.seats
       FROM (SELECT id, count(*) * $21::int AS seats FROM limits GROUP BY id) s,
            (SELECT id FROM capacities WHERE id IN (SELECT id FROM limits)
             ORDER BY id FOR UPDATE) locked
       WHERE c.id = s.id AND c.id = locked.id),
     held AS (INSERT INTO capacity_holds (booking_id, capacity_id, position, seats)
              SELECT b.id, l.id, l.position, $21 FROM booked b, limits l),
     legs AS (
       INSERT INTO booking_legs (id, booking_id, position, offer_id, operator_id, status,
                                 detail, price_minor, currency, capacity_id, seats)
       SELECT w.id, b.id, w.position, w.offer_id, w.operator_id, 'RESERVING', w.detail,
              w.price_minor, w.currency, NULL::bigint, 0
       FROM booked b, wanted w
       RETURNING *),
     logged AS (INSERT INTO booking_events (booking_id, tenant_id, type, payload)
                SELECT id, tenant_id, 'booking.pending', $22::jsonb FROM booked)
SELECT l.*, b.tenant_id AS booking_tenant_id FROM legs l, booked b ORDER BY l.position"""


async def insert_booking(
    pool: asyncpg.Pool,
    sales: Sales,
    tenant_id: str,
    body: BookingCreate,
    offers: list[asyncpg.Record],
    now: datetime,
    idempotency_key: str | None,
) -> tuple[uuid.UUID, list[asyncpg.Record]]:
    """Make the booking in one statement (`_BOOK`); return its id and its legs, owed a reserve."""
    booking_id = uuid.uuid4()
    travellers = travellers_of(offers, body.travellers)
    currencies = {o["currency"] for o in offers}
    if len(currencies) != 1:
        raise MixedCurrencies(f"the offers are priced in {sorted(currencies)}")
    wanted = [(offer["id"], leg) for offer in offers for leg in offer["legs"]]
    try:
        legs: list[asyncpg.Record] = await pool.fetch(
            _BOOK,
            booking_id,
            tenant_id,
            body.traveller_ref,
            travellers,
            sum(o["total_minor"] for o in offers),
            currencies.pop(),
            sales_close((leg for _, leg in wanted), now + sales.hold),
            idempotency_key,
            sales.lease,
            [o["id"] for o in offers],
            [uuid.uuid4() for _ in wanted],
            list(range(len(wanted))),
            [offer_id for offer_id, _ in wanted],
            [leg["operator_id"] for _, leg in wanted],
            [leg for _, leg in wanted],
            [leg["price_minor"] for _, leg in wanted],
            [leg["currency"] for _, leg in wanted],
            [leg.get("trip_id") for _, leg in wanted],
            [capacity.day(leg) for _, leg in wanted],
            [leg.get("product_id") for _, leg in wanted],
            len(travellers),
            {"offer_ids": [str(o["id"]) for o in offers]},
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "booking_offers_pkey":
            raise OfferAlreadyBooked("an offer in body.offer_ids is already booked") from exc
        raise
    except asyncpg.CheckViolationError as exc:
        if exc.table_name != "capacities":
            raise
        raise await capacity.sold_out(pool, [leg for _, leg in wanted], len(travellers)) from exc
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.table_name != "booking_offers":
            raise
        raise NotFound("an offer in body.offer_ids no longer exists") from exc
    return booking_id, legs
