"""Seat limits hold for every leg they cover: a departure's and a product's, whatever the offer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from tests.conftest import bearer
from tests.sales.live import Client, a_ride, post_offer, ride_request

MakeKey = Callable[..., Awaitable[str]]


@asynccontextmanager
async def _limit(
    live: Client, db: asyncpg.Pool, admin: dict[str, str], operator_id: str, body: dict[str, Any]
) -> AsyncIterator[None]:
    """Limit seats for one test; the live demo's database is shared, so the limit goes after."""
    resp = await live.put(f"/v1/operators/{operator_id}/capacities", json=body, headers=admin)
    assert resp.status == 200, await resp.text()
    capacity_id = (await resp.json())["id"]
    try:
        yield
    finally:
        await db.execute("DELETE FROM capacity_holds WHERE capacity_id = $1", capacity_id)
        await db.execute("DELETE FROM capacities WHERE id = $1", capacity_id)


async def _book(live: Client, key: str, offer_id: str) -> tuple[int, dict[str, Any]]:
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    resp = await live.post("/v1/bookings", json={"offer_ids": [offer_id]}, headers=headers)
    return resp.status, await resp.json(content_type=None)


async def _offer(live: Client, key: str, body: dict[str, Any]) -> dict[str, Any]:
    status, offer = await post_offer(live, key, body)
    assert status == 201, offer
    return offer


async def test_a_product_limit_holds_for_itinerary_and_product_offers_alike(
    live: Client, live_db: asyncpg.Pool, live_key: MakeKey
) -> None:
    leg = await a_ride(live)
    key, admin = await live_key("maas"), bearer(await live_key("admin"))
    ride = {"itinerary": {"legs": [ride_request(leg)]}, "travellers": [{"rider_category": "adult"}]}
    product_id = (await _offer(live, key, ride))["legs"][0]["product_id"]
    alone = {
        "product": {"operator_id": leg["operator_id"], "product_id": product_id},
        "travellers": [{"rider_category": "adult"}],
    }
    limit = {"product_id": product_id, "seats_total": 3}
    async with _limit(live, live_db, admin, leg["operator_id"], limit):
        offers = [await _offer(live, key, ride), await _offer(live, key, alone)]
        offers += [await _offer(live, key, ride) for _ in range(18)]
        results = [await _book(live, key, o["id"]) for o in offers]
        statuses = [status for status, _ in results]
        assert statuses[:3] == [201, 201, 201]
        assert set(statuses[3:]) == {409}
        assert {body["code"] for _, body in results[3:]} == {"sold_out"}
        status, problem = await _book(live, key, (await _offer(live, key, alone))["id"])
        assert (status, problem["code"]) == (409, "sold_out")
        # A cancel gives the seat back to both kinds of offer.
        cancelled = await live.post(
            f"/v1/bookings/{results[0][1]['id']}/cancel", headers=bearer(key)
        )
        assert cancelled.status == 200, await cancelled.text()
        assert (await _book(live, key, (await _offer(live, key, alone))["id"]))[0] == 201


async def test_a_departure_limit_and_a_product_limit_both_hold_on_one_leg(
    live: Client, live_db: asyncpg.Pool, live_key: MakeKey
) -> None:
    leg = await a_ride(live)
    key, admin = await live_key("maas"), bearer(await live_key("admin"))
    two = {
        "itinerary": {"legs": [ride_request(leg)]},
        "travellers": [{"rider_category": "adult"}] * 2,
    }
    product_id = (await _offer(live, key, two))["legs"][0]["product_id"]
    departure = {"trip_id": leg["trip_id"], "service_date": leg["service_date"], "seats_total": 3}
    product = {"product_id": product_id, "seats_total": 10}
    async with (
        _limit(live, live_db, admin, leg["operator_id"], departure),
        _limit(live, live_db, admin, leg["operator_id"], product),
    ):
        assert (await _book(live, key, (await _offer(live, key, two))["id"]))[0] == 201
        status, problem = await _book(live, key, (await _offer(live, key, two))["id"])
        assert (status, problem["code"]) == (409, "sold_out")
        assert "2 traveller(s)" in problem["detail"]
        taken = await live_db.fetch(
            "SELECT seats_taken FROM capacities WHERE operator_id = $1 AND seats_taken > 0 "
            "AND (trip_id = $2 OR product_id = $3)",
            leg["operator_id"],
            leg["trip_id"],
            product_id,
        )
        # The refused booking rolled back both: each limit holds the first booking's two seats.
        assert sorted(r["seats_taken"] for r in taken) == [2, 2]
