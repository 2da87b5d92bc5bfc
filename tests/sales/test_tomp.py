import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def tomp(aiohttp_server: ServerFactory) -> tuple[FakeTomp, str]:
    fake = FakeTomp(hang_s=2.0)
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url(""))


async def _two_operator_booking(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    key: str,
    tomp_url: str,
) -> tuple[int, dict[str, Any]]:
    hosted = await operator_with_demo_fares(db)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=tomp_url)
    offers = [await offer(client, key, day_ticket_offer(op)) for op in (hosted, remote)]
    return await book(client, key, [o["id"] for o in offers])


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> TestClient:  # type: ignore[type-arg]
    quick = settings.model_copy(update={"operator_timeout_s": 0.5, "operator_attempts": 2})
    return await aiohttp_client(create_app(quick))


async def test_booking_across_hosted_and_tomp_operators_confirms_both(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    key = await make_key("maas")
    status, booking = await _two_operator_booking(client, db, key, url)
    assert status == 201, booking
    assert booking["status"] == "PENDING"
    assert fake.bookings == {"tomp-1": "PENDING"}
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed = await resp.json()
    assert confirmed["status"] == "CONFIRMED"
    assert [leg["status"] for leg in confirmed["legs"]] == ["CONFIRMED", "CONFIRMED"]
    assert all(leg["ticket"] for leg in confirmed["legs"])
    assert fake.bookings == {"tomp-1": "CONFIRMED"}
    reserve = fake.calls[0]
    assert reserve[2]["extraInfo"]["productId"] == "day"
    assert reserve[3] is not None  # every money-moving call carries an idempotency key


async def test_operator_timing_out_on_confirm_rejects_and_compensates(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    fake.hang_on = {"COMMIT"}
    key = await make_key("maas")
    _, booking = await _two_operator_booking(client, db, key, url)
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 200
    rejected = await resp.json()
    assert rejected["status"] == "REJECTED"
    assert "confirmation failed" in rejected["reason"]
    hosted_leg, tomp_leg = rejected["legs"]
    assert hosted_leg["status"] == "CANCELLED"  # it had committed: compensated
    # Whether the operator committed is unknown: its leg is cancelled, never merely released.
    assert tomp_leg["status"] == "CANCELLED"
    assert all("ticket" not in leg for leg in rejected["legs"])
    assert "CANCEL" in fake.operations()
    assert "DENY" not in fake.operations()
    events = await db.fetch(
        "SELECT type FROM booking_events WHERE booking_id = $1::uuid AND type LIKE 'booking.%' "
        "ORDER BY id",
        booking["id"],
    )
    assert [e["type"] for e in events] == [
        "booking.pending",
        "booking.confirming",
        "booking.rejected",
    ]


async def test_operator_refusing_the_reservation_rejects_the_booking(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    fake.refuse_reserve = True
    key = await make_key("maas")
    status, booking = await _two_operator_booking(client, db, key, url)
    assert status == 201
    assert booking["status"] == "REJECTED"
    assert "reservation failed" in booking["reason"]
    assert [leg["status"] for leg in booking["legs"]] == ["RELEASED", "RESERVE_FAILED"]


async def test_unreachable_operator_rejects_quickly(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    key = await make_key("maas")
    status, booking = await _two_operator_booking(client, db, key, "http://127.0.0.1:9")
    assert status == 201
    assert booking["status"] == "REJECTED"


async def test_confirming_too_late_releases_the_operators_reservation(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    key = await make_key("maas")
    status, booking = await _two_operator_booking(client, db, key, url)
    assert status == 201, booking
    await db.execute(
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        booking["id"],
    )
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    assert resp.status == 409
    assert (await resp.json(content_type=None))["code"] == "booking_expired"
    assert "DENY" in fake.operations()  # the seat held at the operator is given back
    shown = await (await client.get(f"/v1/bookings/{booking['id']}", headers=bearer(key))).json()
    assert shown["status"] == "EXPIRED"
    assert [leg["status"] for leg in shown["legs"]] == ["RELEASED", "RELEASED"]


async def test_a_cancel_one_operator_refuses_keeps_what_the_others_cancelled(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    tomp: tuple[FakeTomp, str],
) -> None:
    fake, url = tomp
    key = await make_key("maas")
    _, booking = await _two_operator_booking(client, db, key, url)
    path = f"/v1/bookings/{booking['id']}"
    assert (await client.post(f"{path}/confirm", headers=bearer(key))).status == 200
    fake.hang_on = {"CANCEL"}
    resp = await client.post(f"{path}/cancel", headers=bearer(key))
    assert resp.status == 502
    shown = await (await client.get(path, headers=bearer(key))).json()
    hosted_leg, tomp_leg = shown["legs"]
    # The hosted operator did cancel: its leg and ticket say so (inspectors refuse it).
    assert (hosted_leg["status"], hosted_leg["ticket"]["status"]) == ("CANCELLED", "CANCELLED")
    # The other has not answered: its cancel is still owed, and its ticket stands meanwhile.
    assert (tomp_leg["status"], tomp_leg["ticket"]["status"]) == ("CANCELLING", "VALID")
    assert shown["status"] == "CANCELLING"
    fake.hang_on = set()
    # The recovery task takes the owed cancel over at once: while it calls, a cancel is
    # 409 booking_busy, and the client does as the answer says (retries in a moment).
    async with asyncio.timeout(60):
        while (resp := await client.post(f"{path}/cancel", headers=bearer(key))).status == 409:
            problem = await resp.json(content_type="application/problem+json")
            assert problem["code"] == "booking_busy"
            await asyncio.sleep(0.1)
    assert resp.status == 200
    cancelled = await resp.json()
    assert cancelled["status"] == "CANCELLED"
    assert fake.bookings == {"tomp-1": "CANCELLED"}
    events = await db.fetch(
        "SELECT type FROM booking_events WHERE booking_id = $1::uuid ORDER BY id", booking["id"]
    )
    assert [e["type"] for e in events][-2:] == ["leg.cancelled", "booking.cancelled"]
    assert fake.operations().count("CANCEL") >= 2  # asked again, with the same key
    cancel_keys = {c[3] for c in fake.calls if c[2].get("operation") == "CANCEL"}
    assert len(cancel_keys) == 1
