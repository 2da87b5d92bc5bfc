"""An operator's back-end commits, denies or cancels its leg: TOMP events sent to the gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
ServerFactory = Callable[..., Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> Client:
    quick = settings.model_copy(update={"operator_timeout_s": 0.5, "operator_attempts": 2})
    return await aiohttp_client(create_app(quick))


async def _booking(
    client: Client, db: asyncpg.Pool, key: str, aiohttp_server: ServerFactory, conditional: bool
) -> tuple[FakeTomp, str, str, dict[str, Any]]:
    """A confirmed (or conditionally confirmed) booking of a hosted and a TOMP operator."""
    fake = FakeTomp(conditional=conditional)
    url = str((await aiohttp_server(fake.app())).make_url(""))
    hosted = await operator_with_demo_fares(db)
    remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
    offers = [await offer(client, key, day_ticket_offer(op)) for op in (hosted, remote)]
    _, booking = await book(client, key, [o["id"] for o in offers])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed: dict[str, Any] = await resp.json()
    return fake, hosted, remote, confirmed


async def _send(
    client: Client, key: str, operator: str, leg: str, operation: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        f"/v1/operators/{operator}/bookings/{leg}/events",
        json={"operation": operation},
        headers=bearer(key),
    )
    return resp.status, await resp.json(content_type=None)


async def test_commit_of_a_conditional_booking_confirms_it_with_tickets(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    key = await make_key("maas")
    _, _, remote, booking = await _booking(client, db, key, aiohttp_server, conditional=True)
    assert booking["status"] == "CONDITIONAL_CONFIRMED"
    operator_key = await make_key("operator", operator_id=remote)
    status, after = await _send(client, operator_key, remote, "tomp-1", "COMMIT")
    assert status == 200, after
    assert after["status"] == "CONFIRMED"
    assert all(leg["ticket"] for leg in after["legs"])
    again = await _send(client, operator_key, remote, "tomp-1", "COMMIT")
    assert again == (200, after)  # a repeated event changes nothing


async def test_deny_rejects_the_booking_and_compensates_the_other_legs(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    key = await make_key("maas")
    *_, remote, _ = await _booking(client, db, key, aiohttp_server, conditional=True)
    operator_key = await make_key("operator", operator_id=remote)
    status, after = await _send(client, operator_key, remote, "tomp-1", "DENY")
    assert status == 200, after
    assert after["status"] == "REJECTED"
    hosted_leg, tomp_leg = after["legs"]
    assert hosted_leg["status"] == "CANCELLED"  # it had committed: compensated
    assert tomp_leg["status"] == "RELEASED"
    assert all("ticket" not in leg for leg in after["legs"])


async def test_a_cancel_by_the_operator_refunds_the_app_in_full_and_tells_it(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    key = await make_key("maas")
    fake, _, remote, booking = await _booking(client, db, key, aiohttp_server, conditional=False)
    assert booking["status"] == "CONFIRMED"
    operator_key = await make_key("operator", operator_id=remote)
    status, after = await _send(client, operator_key, remote, "tomp-1", "CANCEL")
    assert status == 200, after
    assert after["status"] == "CANCELLED"
    assert after["refund"]["amount_minor"] == after["total_minor"] > 0, after
    assert [leg["ticket"]["status"] for leg in after["legs"]] == ["CANCELLED", "CANCELLED"]
    assert after["reason"] == f"cancelled by operator {remote}"
    told = await db.fetch(
        "SELECT type, payload FROM booking_events WHERE booking_id = $1::uuid ORDER BY id",
        after["id"],
    )
    last = told[-1]
    assert last["type"] == "booking.cancelled"
    assert last["payload"]["refund_minor"] == after["total_minor"]
    assert "CANCEL" not in fake.operations()  # the operator cancelled it itself


async def test_events_need_the_operators_own_key_and_a_state_that_allows_them(
    client: Client, db: asyncpg.Pool, make_key: MakeKey, aiohttp_server: ServerFactory
) -> None:
    key = await make_key("maas")
    _, hosted, remote, _ = await _booking(client, db, key, aiohttp_server, conditional=False)
    other = await make_key("operator", operator_id=hosted)
    assert (await _send(client, other, remote, "tomp-1", "CANCEL"))[0] == 403
    assert (await _send(client, key, remote, "tomp-1", "CANCEL"))[0] == 403
    operator_key = await make_key("operator", operator_id=remote)
    status, body = await _send(client, operator_key, remote, "tomp-1", "DENY")
    assert (status, body["code"]) == (409, "operator_event_refused")  # it is confirmed
    status, body = await _send(client, operator_key, remote, "no-such-booking", "COMMIT")
    assert (status, body["code"]) == (404, "not_found")
    status, body = await _send(client, operator_key, remote, "tomp-1", "EXPLODE")
    assert (status, body["code"]) == (422, "validation_failed")
