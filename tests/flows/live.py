"""Bookings made and confirmed on the live demo through the sales API, for the flows tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.sales.live import a_ride, next_weekday, ride_request
from tests.sales.support import offer

Client = TestClient[Any, Any]


async def a_live_ride(live: Client) -> tuple[dict[str, Any], datetime, datetime]:
    """Return a real ride of the live demo, a weekday morning, with its departure and arrival."""
    ride = await a_ride(live, next_weekday(8))
    return ride, datetime.fromisoformat(ride["departure"]), datetime.fromisoformat(ride["arrival"])


def itinerary_body(ride: dict[str, Any]) -> dict[str, Any]:
    """Return the offer request for that one ride, for one traveller."""
    return {"itinerary": {"legs": [ride_request(ride)]}, "travellers": [{}]}


async def tenant_of(client: Client, key: str) -> str:
    """Return the tenant of a maas key."""
    tenant: str = (await (await client.get("/v1/me", headers=bearer(key))).json())["tenant_id"]
    return tenant


async def confirmed_booking(client: Client, key: str, body: dict[str, Any], ref: str) -> str:
    """Offer, book (for `ref`) and confirm; return the booking's id."""
    created = await offer(client, key, body)
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    booking = {
        "offer_ids": [created["id"]],
        "travellers": created["travellers"],
        "traveller_ref": ref,
    }
    resp = await client.post("/v1/bookings", json=booking, headers=headers)
    assert resp.status == 201, await resp.text()
    booking_id = (await resp.json())["id"]
    resp = await client.post(f"/v1/bookings/{booking_id}/confirm", headers=bearer(key))
    assert (await resp.json())["status"] == "CONFIRMED"
    return str(booking_id)
