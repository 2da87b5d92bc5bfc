"""An operator reads its own sales: its booking legs (no traveller data) and a daily summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]


async def _sell(client: Client, maas: str, operator_id: str, travellers: int = 1) -> dict[str, Any]:
    created = await offer(client, maas, day_ticket_offer(operator_id, travellers))
    status, booking = await book(client, maas, [created["id"]], travellers=travellers)
    assert status == 201, booking
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(maas))
    assert resp.status == 200, await resp.text()
    confirmed: dict[str, Any] = await resp.json()
    return confirmed


async def _shop(client: Client, db: asyncpg.Pool, make_key: MakeKey) -> tuple[str, str, list[Any]]:
    """Sell three bookings of a new operator (one cancelled, one left pending)."""
    operator_id = await operator_with_demo_fares(db)
    maas = await make_key("maas", tenant_id=f"app-{operator_id}")
    sold = [await _sell(client, maas, operator_id), await _sell(client, maas, operator_id, 2)]
    cancel = await client.post(f"/v1/bookings/{sold[0]['id']}/cancel", headers=bearer(maas))
    assert cancel.status == 200
    created = await offer(client, maas, day_ticket_offer(operator_id))
    _, pending = await book(client, maas, [created["id"]])
    return operator_id, await make_key("operator", operator_id=operator_id), [*sold, pending]


async def test_an_operator_lists_its_legs_without_traveller_data(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id, key, bookings = await _shop(client, db, make_key)
    resp = await client.get(f"/v1/operators/{operator_id}/bookings", headers=bearer(key))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [i["booking_id"] for i in items] == [b["id"] for b in reversed(bookings)]
    assert [i["status"] for i in items] == ["PENDING", "CONFIRMED", "CANCELLED"]
    assert [i["booking_status"] for i in items] == ["PENDING", "CONFIRMED", "CANCELLED"]
    assert [i["price_minor"] for i in items] == [b["total_minor"] for b in reversed(bookings)]
    assert items[1]["rider_categories"] == [f"{operator_id}:adult"] * 2
    products = [b["legs"][0]["product_id"] for b in reversed(bookings)]
    assert [i["product_id"] for i in items] == products
    assert products[0].endswith("day")
    assert {i["currency"] for i in items} == {"EUR"}
    assert "sold_at" not in items[0]
    assert "sold_at" in items[1]
    for item in items:
        assert not {"travellers", "traveller_ref"} & set(item)


async def test_the_legs_come_a_page_at_a_time_and_by_status(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id, key, bookings = await _shop(client, db, make_key)
    url = f"/v1/operators/{operator_id}/bookings"
    seen: list[str] = []
    params = {"limit": "2"}
    while True:
        body = await (await client.get(url, params=params, headers=bearer(key))).json()
        assert len(body["items"]) <= 2
        seen += [i["id"] for i in body["items"]]
        if "next_cursor" not in body:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seen) == len(set(seen)) == 3
    confirmed = await client.get(url, params={"status": "CONFIRMED"}, headers=bearer(key))
    assert [i["booking_id"] for i in (await confirmed.json())["items"]] == [bookings[1]["id"]]


async def test_only_the_operator_itself_or_an_admin_reads_its_sales(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id, _, _ = await _shop(client, db, make_key)
    other = await make_key("operator", operator_id=await operator_with_demo_fares(db))
    for path in (
        f"/v1/operators/{operator_id}/bookings",
        f"/v1/operators/{operator_id}/sales/daily",
    ):
        assert (await client.get(path)).status == 401
        assert (await client.get(path, headers=bearer(other))).status == 403
        maas = await make_key("maas", tenant_id="some-other-app")
        assert (await client.get(path, headers=bearer(maas))).status == 403
        assert (await client.get(path, headers=bearer(await make_key("admin")))).status == 200
    missing = await client.get(
        "/v1/operators/no-such-op/bookings", headers=bearer(await make_key("admin"))
    )
    assert missing.status == 404


async def test_the_daily_summary_counts_sold_and_cancelled_legs(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id, key, bookings = await _shop(client, db, make_key)
    resp = await client.get(f"/v1/operators/{operator_id}/sales/daily", headers=bearer(key))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    today = dt.datetime.now(ZoneInfo(body["timezone"])).date()
    assert body["last_day"] == today.isoformat()
    assert body["first_day"] == (today - dt.timedelta(days=29)).isoformat()
    (day,) = body["items"]  # the pending booking is not sold
    cancelled, confirmed = bookings[0]["total_minor"], bookings[1]["total_minor"]
    assert day == {
        "day": today.isoformat(),
        "currency": "EUR",
        "legs_sold": 2,
        "legs_cancelled": 1,
        "sold_minor": cancelled + confirmed,
        "cancelled_minor": cancelled,
        "net_minor": confirmed,
    }
    earlier = await client.get(
        f"/v1/operators/{operator_id}/sales/daily",
        params={"from": "2020-01-01", "to": "2020-01-31"},
        headers=bearer(key),
    )
    assert (await earlier.json())["items"] == []


async def test_a_summary_period_must_be_ordered_and_at_most_a_year(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("operator", operator_id=operator_id)
    url = f"/v1/operators/{operator_id}/sales/daily"
    backwards = await client.get(
        url, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=bearer(key)
    )
    assert backwards.status == 422
    long = await client.get(
        url, params={"from": "2024-01-01", "to": "2026-01-01"}, headers=bearer(key)
    )
    assert long.status == 422
    assert (await long.json())["code"] == "invalid_report_period"
