"""`GET /v1/journeys` writes nothing: journeys carry their prices; offers are stored on request."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from sales.offers import PURGE_AFTER, purge_expired_offers
from tests.conftest import bearer
from tests.sales.live import SNELLMANIA, TEATTERIKULMA, Client, next_weekday, post_offer

MakeKey = Callable[..., Awaitable[str]]


async def test_a_journey_search_stores_no_offer_and_its_offer_request_prices_the_same(
    live: Client, live_db: asyncpg.Pool, live_key: MakeKey
) -> None:
    key = await live_key("maas")
    before = await live_db.fetchval("SELECT count(*) FROM offers")
    params = {
        "from": TEATTERIKULMA,
        "to": SNELLMANIA,
        "depart_at": next_weekday(8).isoformat(),
        "limit": "20",
        "rider_category": "adult",
    }
    resp = await live.get("/v1/journeys", params=params, headers=bearer(key))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert await live_db.fetchval("SELECT count(*) FROM offers") == before
    priced = [i for i in items if i.get("price")]
    assert priced, [i.get("price_problem") for i in items]
    journey = priced[0]
    assert "id" not in journey["price"]
    requested = journey["offer_request"]["itinerary"]["legs"]
    transit = [leg for leg in journey["legs"] if leg["mode"] == "transit"]
    assert [(r["trip_id"], r["service_date"]) for r in requested] == [
        (leg["trip_id"], leg["service_date"]) for leg in transit
    ]
    status, offer = await post_offer(live, key, journey["offer_request"])
    assert status == 201, offer
    assert (offer["total_minor"], offer["currency"]) == (
        journey["price"]["total_minor"],
        journey["price"]["currency"],
    )
    assert await live_db.fetchval("SELECT count(*) FROM offers") == before + 1


async def _stored_offer(db: asyncpg.Pool, valid_until: dt.datetime) -> uuid.UUID:
    offer_id = uuid.uuid4()
    created = valid_until - dt.timedelta(minutes=15)
    await db.execute(
        """INSERT INTO offers (id, tenant_id, kind, legs, travellers, total_minor, currency,
                               valid_from, valid_until, created_at)
           VALUES ($1, 'purge-test', 'product', '[]', '[]', 100, 'EUR', $2, $3, $2)""",
        offer_id,
        created,
        valid_until,
    )
    return offer_id


async def test_offers_past_their_validity_that_nobody_booked_are_purged(
    db: asyncpg.Pool,
) -> None:
    now = dt.datetime.now(dt.UTC)
    stale = await _stored_offer(db, now - PURGE_AFTER - dt.timedelta(minutes=5))
    booked = await _stored_offer(db, now - PURGE_AFTER - dt.timedelta(minutes=5))
    fresh = await _stored_offer(db, now + dt.timedelta(minutes=10))
    booking_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO bookings (id, tenant_id, status, travellers, total_minor, currency,
                                 expires_at)
           VALUES ($1, 'purge-test', 'EXPIRED', '[]', 100, 'EUR', now())""",
        booking_id,
    )
    await db.execute(
        "INSERT INTO booking_offers (offer_id, booking_id) VALUES ($1, $2)", booked, booking_id
    )
    assert await purge_expired_offers(db) >= 1
    left = {
        r["id"]
        for r in await db.fetch("SELECT id FROM offers WHERE id = ANY($1)", [stale, booked, fresh])
    }
    assert left == {booked, fresh}
