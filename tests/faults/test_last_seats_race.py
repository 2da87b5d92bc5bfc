"""#14: two `maas serve` processes race for the last seats through product and itinerary offers.

One leg's product is limited to PRODUCT_SEATS and its departure to DEPARTURE_SEATS.
Many more itinerary offers (which take both limits) and product offers (which take
the product's) are booked at once, half through each process: exactly the product's
seats are sold, at most the departure's through itineraries, the rest are refused as
sold out, and the database's counts agree.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import bearer
from tests.faults.processes import call, serving
from tests.faults.support import until
from tests.sales.live import Client, a_ride, post_offer, ride_request

PRODUCT_SEATS = 5
DEPARTURE_SEATS = 3
OFFERS_EACH = 12  # itinerary offers, and as many product offers


async def _offer(live: Client, key: str, body: dict[str, Any]) -> str:
    status, made = await post_offer(live, key, body)
    assert status == 201, made
    offer_id: str = made["id"]
    return offer_id


async def _limit(live: Client, admin: dict[str, str], operator_id: str, body: Any) -> int:
    resp = await live.put(f"/v1/operators/{operator_id}/capacities", json=body, headers=admin)
    assert resp.status == 200, await resp.text()
    capacity_id: int = (await resp.json())["id"]
    return capacity_id


async def _timetable_ok(url: str) -> bool:
    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "GET", url + "/ready")
    return status == 200 and body.get("timetable") == "ok"


@pytest.mark.timeout(400)
async def test_two_processes_never_oversell_the_last_seats_through_both_kinds_of_offer(
    live: Client,
    live_url: str,
    live_db: asyncpg.Pool,
    live_key: Any,
    redis_url: str,
    tmp_path: Path,
) -> None:
    leg = await a_ride(live)
    key, admin = await live_key("maas"), bearer(await live_key("admin"))
    one = [{"rider_category": "adult"}]
    ride = {"itinerary": {"legs": [ride_request(leg)]}, "travellers": one}
    product_id = (await post_offer(live, key, ride))[1]["legs"][0]["product_id"]
    alone = {
        "product": {"operator_id": leg["operator_id"], "product_id": product_id},
        "travellers": one,
    }
    product_cap = await _limit(
        live, admin, leg["operator_id"], {"product_id": product_id, "seats_total": PRODUCT_SEATS}
    )
    departure = {"trip_id": leg["trip_id"], "service_date": leg["service_date"]}
    departure_cap = await _limit(
        live, admin, leg["operator_id"], departure | {"seats_total": DEPARTURE_SEATS}
    )
    try:
        rides = [await _offer(live, key, ride) for _ in range(OFFERS_EACH)]
        products = [await _offer(live, key, alone) for _ in range(OFFERS_EACH)]
        env = {"MAAS_DATABASE_URL": live_url, "MAAS_REDIS_URL": redis_url, "MAAS_LOG_JSON": "false"}
        with serving(tmp_path / "gateways", 2, env) as processes:
            urls = [p.url for p in processes]
            for url in urls:
                await until(functools.partial(_timetable_ok, url), f"{url} has its timetable")
            # Interleaved: each process gets both kinds of offer, all booked at once.
            mixed = [o for pair in zip(rides, products, strict=True) for o in pair]
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
                results = await asyncio.gather(
                    *(
                        call(
                            session,
                            "POST",
                            urls[i % 2] + "/v1/bookings",
                            json={"offer_ids": [offer_id]},
                            headers=bearer(key) | {"Idempotency-Key": str(uuid.uuid4())},
                        )
                        for i, offer_id in enumerate(mixed)
                    )
                )
        outcome = dict(zip(mixed, results, strict=True))
        assert {status for status, _ in results} <= {201, 409}, results
        refused = {body.get("code") for status, body in results if status == 409}
        assert refused <= {"sold_out"}
        sold_rides = sum(outcome[o][0] == 201 for o in rides)
        sold_products = sum(outcome[o][0] == 201 for o in products)
        assert sold_rides <= DEPARTURE_SEATS
        assert sold_rides + sold_products == PRODUCT_SEATS
        taken = dict(
            await live_db.fetch(
                "SELECT id, seats_taken FROM capacities WHERE id = ANY($1::bigint[])",
                [product_cap, departure_cap],
            )
        )
        assert taken == {product_cap: PRODUCT_SEATS, departure_cap: sold_rides}
    finally:
        for capacity_id in (product_cap, departure_cap):
            await live_db.execute("DELETE FROM capacity_holds WHERE capacity_id = $1", capacity_id)
            await live_db.execute("DELETE FROM capacities WHERE id = $1", capacity_id)
