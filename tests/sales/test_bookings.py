import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.appkeys import sales_key
from gateway.settings import Settings
from sales.bookings import expire_due
from sales.tokens import TicketInvalid, verify_ticket
from tests.conftest import ClientFactory, bearer
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


async def _pending(client: Client, db: asyncpg.Pool, key: str) -> dict[str, Any]:
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    status, booking = await book(client, key, [created["id"]])
    assert status == 201, booking
    assert booking["status"] == "PENDING"
    return booking


async def test_booking_is_pending_then_confirmed_with_verifiable_tickets(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    booking = await _pending(client, db, key)
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 200
    confirmed = await resp.json()
    assert confirmed["status"] == "CONFIRMED"
    (leg,) = confirmed["legs"]
    ticket = leg["ticket"]
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    claims = verify_ticket(ticket["token"], jwks, datetime.now(UTC))
    assert claims.ticket_id == ticket["id"]
    assert claims.booking_ref == booking["id"]
    png = await client.get(ticket["qr_png_url"], headers=bearer(key))
    assert png.status == 200
    assert (await png.read()).startswith(b"\x89PNG")
    tampered = ticket["token"][:-8] + (
        "A" * 8 if not ticket["token"].endswith("A" * 8) else "B" * 8
    )
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(tampered, jwks, datetime.now(UTC))
    assert err.value.reason == "bad_signature"


async def test_confirm_twice_returns_same_tickets(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    booking = await _pending(client, db, key)
    first = await (
        await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    ).json()
    second = await (
        await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    ).json()
    assert first["legs"][0]["ticket"]["token"] == second["legs"][0]["ticket"]["token"]
    assert (
        await db.fetchval("SELECT count(*) FROM tickets WHERE booking_id = $1::uuid", booking["id"])
        == 1
    )


async def test_same_idempotency_key_replays_the_first_booking(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    idem = str(uuid.uuid4())
    first = await book(client, key, [created["id"]], idem)
    again = await book(client, key, [created["id"]], idem)
    assert first == again
    assert first[0] == 201
    other = await offer(client, key, day_ticket_offer(operator_id))
    status, problem = await book(client, key, [other["id"]], idem)
    assert status == 422
    assert problem["code"] == "idempotency_key_reused"


async def test_a_key_whose_booking_was_made_resumes_it_after_its_offer_expired(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    created = await offer(client, key, day_ticket_offer(await operator_with_demo_fares(db)))
    idem = str(uuid.uuid4())
    status, first = await book(client, key, [created["id"]], idem)
    assert status == 201, first
    # Its answer and the key's record lost (a failure let the key go), its offer expired since:
    await db.execute("DELETE FROM idempotency_keys WHERE key = $1", idem)
    await db.execute(
        "UPDATE offers SET created_at = now() - interval '2 minutes', "
        "valid_until = now() - interval '1 minute' WHERE id = $1::uuid",
        created["id"],
    )
    status, again = await book(client, key, [created["id"]], idem)
    assert status == 201, again
    assert again["id"] == first["id"]
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE idempotency_key = $1", idem) == 1


async def test_a_booking_is_named_in_location(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    created = await offer(client, key, day_ticket_offer(await operator_with_demo_fares(db)))
    body = {"offer_ids": [created["id"]], "travellers": [{"rider_category": "adult"}]}
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    resp = await client.post("/v1/bookings", json=body, headers=headers)
    assert resp.status == 201
    booking = await resp.json()
    assert resp.headers["Location"] == f"/v1/bookings/{booking['id']}"
    assert (await client.get(resp.headers["Location"], headers=bearer(key))).status == 200


async def test_concurrent_requests_with_one_key_make_one_booking(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    idem = str(uuid.uuid4())
    results = await asyncio.gather(*(book(client, key, [created["id"]], idem) for _ in range(8)))
    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    ids = {body["id"] for status, body in results if status == 201}
    assert len(ids) == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM booking_offers WHERE offer_id = $1::uuid", created["id"]
        )
        == 1
    )


async def test_an_offer_is_booked_only_once(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    assert (await book(client, key, [created["id"]]))[0] == 201
    status, problem = await book(client, key, [created["id"]])
    assert status == 409
    assert problem["code"] == "offer_already_booked"


async def test_booking_needs_an_idempotency_key(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db)
    created = await offer(client, key, day_ticket_offer(operator_id))
    body = {"offer_ids": [created["id"]], "travellers": [{"rider_category": "adult"}]}
    resp = await client.post("/v1/bookings", json=body, headers=bearer(key))
    assert resp.status == 400
    assert (await resp.json(content_type=None))["code"] == "idempotency_key_required"


async def test_tenants_never_see_each_others_bookings(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    alice, bob = await make_key("maas"), await make_key("maas")
    booking = await _pending(client, db, alice)
    for method, path in (
        ("GET", f"/v1/bookings/{booking['id']}"),
        ("POST", f"/v1/bookings/{booking['id']}/confirm"),
        ("POST", f"/v1/bookings/{booking['id']}/cancel"),
    ):
        resp = await client.request(method, path, headers=bearer(bob))
        assert resp.status == 404, (method, path)
    listed = await (await client.get("/v1/bookings", headers=bearer(bob))).json()
    assert listed["items"] == []
    status, problem = await book(client, bob, booking["offer_ids"])
    assert status == 404
    assert "offer_ids[0]" in problem["detail"]


async def test_cancel_refunds_per_conditions_and_twice_replays_the_outcome(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    operator_id = await operator_with_demo_fares(db, refund_fee_minor=100)
    body = day_ticket_offer(operator_id)
    body["product"]["valid_from"] = "2030-01-01T00:00:00+02:00"
    created = await offer(client, key, body)
    _, booking = await book(client, key, [created["id"]])
    await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    resp = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(key))
    cancelled = await resp.json()
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["refund_minor"] == 900 - 100
    assert cancelled["legs"][0]["ticket"]["status"] == "CANCELLED"
    again = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(key))
    assert (again.status, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert await again.json() == cancelled
    refunded = await db.fetchval(
        "SELECT sum(amount_minor) FROM settlement_entries "
        "WHERE booking_id = $1::uuid AND kind = 'refund'",
        booking["id"],
    )
    assert refunded == 900 - 100  # once


async def test_pending_booking_expires_and_cannot_be_confirmed(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    app = create_app(settings.model_copy(update={"booking_hold_s": 10, "expiry_interval_s": 3600}))
    client = await aiohttp_client(app)
    key = await make_key("maas")
    booking = await _pending(client, db, key)
    await db.execute(
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        booking["id"],
    )
    assert await expire_due(app[sales_key]) >= 1
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 409
    assert (await resp.json(content_type=None))["code"] == "booking_not_pending"
    shown = await (await client.get(f"/v1/bookings/{booking['id']}", headers=bearer(key))).json()
    assert shown["status"] == "EXPIRED"


async def test_bookings_list_paginates_by_cursor(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    key = await make_key("maas")
    made = [(await _pending(client, db, key))["id"] for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", "status": "PENDING"} | ({"cursor": cursor} if cursor else {})
        page = await (await client.get("/v1/bookings", params=params, headers=bearer(key))).json()
        seen += [b["id"] for b in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == list(reversed(made))


async def test_expiry_runs_in_the_background_and_gives_seats_back(
    aiohttp_client: ClientFactory, settings: Settings, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    app = create_app(settings.model_copy(update={"booking_hold_s": 10, "expiry_interval_s": 0.2}))
    client = await aiohttp_client(app)
    operator_id = await operator_with_demo_fares(db)
    admin = bearer(await make_key("admin"))
    limit = {"product_id": f"{operator_id}:day", "seats_total": 1}
    await client.put(f"/v1/operators/{operator_id}/capacities", json=limit, headers=admin)
    key = await make_key("maas")
    created = await offer(client, key, day_ticket_offer(operator_id))
    _, booking = await book(client, key, [created["id"]])
    await db.execute("UPDATE bookings SET expires_at = now() WHERE id = $1::uuid", booking["id"])
    for _ in range(100):  # the job runs every 0.2 s
        shown = await (
            await client.get(f"/v1/bookings/{booking['id']}", headers=bearer(key))
        ).json()
        # Seats go back leg by leg, once the operator has released the leg.
        if shown["status"] == "EXPIRED" and shown["legs"][0]["status"] == "RELEASED":
            break
        await asyncio.sleep(0.1)
    assert shown["status"] == "EXPIRED"
    assert shown["legs"][0]["status"] == "RELEASED"
    taken = await db.fetchval(
        "SELECT seats_taken FROM capacities WHERE operator_id = $1", operator_id
    )
    assert taken == 0
