"""A booking takes its travellers from its offers; sending them again is optional and must match."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.sales.support import day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
Http = TestClient[web.Request, web.Application]


async def _book(client: Http, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = bearer(key) | {"Idempotency-Key": str(uuid.uuid4())}
    resp = await client.post("/v1/bookings", json=body, headers=headers)
    return resp.status, await resp.json(content_type=None)


def _for(operator_id: str, *categories: str) -> dict[str, Any]:
    body = day_ticket_offer(operator_id)
    body["travellers"] = [{"rider_category": c, "ref": f"t{i}"} for i, c in enumerate(categories)]
    return body


async def test_a_booking_without_travellers_takes_the_offers_travellers(
    client: Http, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("maas")
    created = await offer(client, key, _for(operator_id, "adult", "child"))
    status, booking = await _book(client, key, {"offer_ids": [created["id"]]})
    assert status == 201, booking
    assert booking["travellers"] == [
        {"rider_category": "adult", "ref": "t0"},
        {"rider_category": "child", "ref": "t1"},
    ]
    assert booking["total_minor"] == 900 + 450


async def test_travellers_sent_again_must_match_the_offers(
    client: Http, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("maas")
    created = await offer(client, key, _for(operator_id, "adult", "child"))
    same = [{"rider_category": "adult", "ref": "t0"}, {"rider_category": "child", "ref": "t1"}]
    more = [*same, {"rider_category": "adult", "ref": "t2"}]
    status, problem = await _book(client, key, {"offer_ids": [created["id"]], "travellers": more})
    assert (status, problem["code"]) == (422, "travellers_mismatch")
    status, booking = await _book(client, key, {"offer_ids": [created["id"]], "travellers": same})
    assert status == 201, booking


async def test_offers_for_different_travellers_are_not_booked_together(
    client: Http, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("maas")
    one = await offer(client, key, _for(operator_id, "adult"))
    two = await offer(client, key, _for(operator_id, "adult", "adult"))
    status, problem = await _book(client, key, {"offer_ids": [one["id"], two["id"]]})
    assert (status, problem["code"]) == (422, "travellers_mismatch")
