"""A one-leg booking's plain answers are recorded and settled in one statement (sales.plain).

What it leaves must be what recording the answer and then settling leaves: the same
states, lease, ticket, ledger line and events in the same order; and where it does
not apply it writes nothing, so the usual path can record the answer after it.
"""

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import sales_key
from sales.plain import one_leg_settled
from tests.conftest import bearer
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def _events(db: asyncpg.Pool, booking_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT type FROM events WHERE object_type = 'booking' AND object_id = $1 ORDER BY seq",
        booking_id,
    )
    return [r["type"] for r in rows]


async def test_a_one_leg_purchase_leaves_what_record_then_settle_leaves(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    status, booking = await book(client, key, [created["id"]])
    assert status == 201, booking
    assert booking["status"] == "PENDING"
    booking_id = uuid.UUID(booking["id"])
    row = await db.fetchrow(
        "SELECT b.settle_after, l.status, l.operator_ref FROM bookings b "
        "JOIN booking_legs l ON l.booking_id = b.id WHERE b.id = $1",
        booking_id,
    )
    assert (row["settle_after"], row["status"]) == (None, "PENDING")
    assert row["operator_ref"]
    resp = await client.post(f"/v1/bookings/{booking_id}/confirm", headers=bearer(key))
    assert resp.status == 200
    confirmed = await resp.json()
    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["legs"][0]["status"] == "CONFIRMED"
    assert confirmed["legs"][0]["ticket"]["token"]
    assert await db.fetchval("SELECT settle_after FROM bookings WHERE id = $1", booking_id) is None
    sales = await db.fetchval(
        "SELECT count(*) FROM settlement_entries WHERE booking_id = $1 AND kind = 'sale'",
        booking_id,
    )
    assert sales == 1
    assert await _events(db, booking["id"]) == [
        "booking.pending",
        "leg.pending",
        "booking.confirming",
        "leg.confirmed",
        "booking.confirmed",
    ]


async def test_an_answer_for_a_leg_that_moved_on_writes_nothing(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    _, booking = await book(client, key, [created["id"]])
    booking_id = uuid.UUID(booking["id"])
    leg = await db.fetchrow(
        "SELECT l.*, b.tenant_id AS booking_tenant_id FROM booking_legs l "
        "JOIN bookings b ON b.id = l.booking_id WHERE l.booking_id = $1",
        booking_id,
    )
    before = await _events(db, booking["id"])
    # The leg was RESERVING when called; it is PENDING now: a late answer changes nothing.
    stale = {**dict(leg), "status": "RESERVING"}
    sales = client.app[sales_key]
    assert not await one_leg_settled(sales, booking_id, stale, "another-ref")
    ref = await db.fetchval("SELECT operator_ref FROM booking_legs WHERE id = $1", leg["id"])
    assert ref == leg["operator_ref"]
    assert await _events(db, booking["id"]) == before
    # Not CONFIRMING: a commit's answer settles nothing and stores no ticket.
    stale["status"], stale["status_idx"] = "CONFIRMING", 0
    assert not await one_leg_settled(sales, booking_id, stale, "another-ref")
    assert await db.fetchval("SELECT count(*) FROM tickets WHERE booking_id = $1", booking_id) == 0
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id) == "PENDING"
    assert await _events(db, booking["id"]) == before
