"""Each operator's conditions of sale, set through the API and the CLI, shape offers and refunds."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from gateway.cli import main as cli
from tests.conftest import bearer
from tests.sales.live import Client, a_ride, post_offer, ride_request
from tests.sales.support import book, day_ticket_offer, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]


async def _put(
    client: TestClient,  # type: ignore[type-arg]
    key: dict[str, str],
    operator_id: str,
    body: dict[str, Any],
) -> tuple[int, Any]:
    resp = await client.put(f"/v1/operators/{operator_id}/conditions", json=body, headers=key)
    return resp.status, await resp.json(content_type=None)


def _day_from(days: int) -> dict[str, Any]:
    return {"valid_from": (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()}


async def _bought(
    client: TestClient,  # type: ignore[type-arg]
    key: str,
    operator_id: str,
    valid_in_days: int = 0,
) -> dict[str, Any]:
    body = day_ticket_offer(operator_id)
    if valid_in_days:
        body["product"] |= _day_from(valid_in_days)
    created = await offer(client, key, body)
    _, booking = await book(client, key, [created["id"]])
    resp = await client.post(f"/v1/bookings/{booking['id']}/confirm", headers=bearer(key))
    confirmed: dict[str, Any] = await resp.json()
    assert confirmed["status"] == "CONFIRMED", confirmed
    return confirmed


async def test_a_refund_follows_the_deadline_and_fee_and_says_why(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    admin, key = bearer(await make_key("admin")), await make_key("maas")
    conditions = {
        "all_products": {"refundable_before_min": 60, "refund_fee_minor": 100},
        "products": {"day": {"sold_alone": True, "validity_min": 1440}},
    }
    status, stored = await _put(client, admin, operator_id, conditions)
    assert status == 200, stored
    assert stored["products"] == {f"{operator_id}:day": {"sold_alone": True, "validity_min": 1440}}
    booking = await _bought(client, key, operator_id, valid_in_days=1)
    valid_from = dt.datetime.fromisoformat(booking["legs"][0]["valid_from"])
    resp = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=bearer(key))
    cancelled = await resp.json()
    assert cancelled["status"] == "CANCELLED"
    until = (valid_from - dt.timedelta(minutes=60)).isoformat(timespec="minutes")
    assert cancelled["refund"] == {
        "amount_minor": 800,
        "currency": "EUR",
        "reason": f"refundable until {until}, less the 1.00 EUR fee",
    }
    assert cancelled["refund_minor"] == 800


async def test_no_refund_after_the_deadline_and_no_cancel_when_not_cancellable(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    admin, key = bearer(await make_key("admin")), await make_key("maas")
    day = {"sold_alone": True, "validity_min": 1440, "refundable_before_min": 30}
    await _put(client, admin, operator_id, {"products": {"day": day}})
    late = await _bought(client, key, operator_id)  # valid from now: the deadline has passed
    resp = await client.post(f"/v1/bookings/{late['id']}/cancel", headers=bearer(key))
    refund = (await resp.json())["refund"]
    assert refund["amount_minor"] == 0
    assert refund["reason"].startswith("refundable only until ")
    await _put(client, admin, operator_id, {"products": {"day": day | {"cancellable": False}}})
    fixed = await _bought(client, key, operator_id, valid_in_days=2)
    assert fixed["legs"][0]["status"] == "CONFIRMED"
    resp = await client.post(f"/v1/bookings/{fixed['id']}/cancel", headers=bearer(key))
    assert resp.status == 409
    assert (await resp.json())["code"] == "not_cancellable"


async def test_a_product_sold_alone_lasts_what_the_operator_says(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    admin, key = bearer(await make_key("admin")), await make_key("maas")
    await _put(client, admin, operator_id, {"products": {"day": {"sold_alone": True}}})
    created = await offer(client, key, day_ticket_offer(operator_id))
    (leg,) = created["legs"]
    lasts = dt.datetime.fromisoformat(leg["valid_until"]) - dt.datetime.fromisoformat(
        leg["valid_from"]
    )
    assert lasts == dt.timedelta(minutes=90)  # the operator's ticket validity, not 24 h
    await _put(
        client, admin, operator_id, {"products": {"day": {"sold_alone": True, "validity_min": 720}}}
    )
    (leg,) = (await offer(client, key, day_ticket_offer(operator_id)))["legs"]
    lasts = dt.datetime.fromisoformat(leg["valid_until"]) - dt.datetime.fromisoformat(
        leg["valid_from"]
    )
    assert lasts == dt.timedelta(hours=12)
    resp = await client.get("/v1/products", params={"operator": operator_id})
    day = next(p for p in (await resp.json())["items"] if p["product_id"] == f"{operator_id}:day")
    assert day["validity_min"] == 720


async def test_an_operator_key_sets_only_its_own_conditions(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    mine, theirs = await operator_with_demo_fares(db), await operator_with_demo_fares(db)
    key = bearer(await make_key("operator", operator_id=mine))
    body = {"all_products": {"refund_fee_minor": 50}}
    assert (await _put(client, key, theirs, body))[0] == 403
    assert (await _put(client, key, mine, body))[0] == 200
    maas = bearer(await make_key("maas"))
    assert (await _put(client, maas, mine, body))[0] == 403
    status, problem = await _put(client, key, mine, {"all_products": {"refund_fee_minor": -1}})
    assert status == 422
    assert problem["errors"][0]["field"] == "body.all_products.refund_fee_minor"
    resp = await client.get(f"/v1/operators/{mine}/conditions")
    assert (await resp.json())["all_products"] == {"refund_fee_minor": 50}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MAAS_DATABASE_URL", database_url)
    monkeypatch.setenv("MAAS_LOG_JSON", "false")


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_changes_one_condition_and_keeps_the_others(
    db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_id = await operator_with_demo_fares(db)
    args = ["conditions", "set", "--operator", operator_id, "--product", "day"]
    assert await asyncio.to_thread(cli.main, [*args, "--refund-fee-minor", "150"]) == 0
    assert await asyncio.to_thread(cli.main, [*args, "--cancellable", "no"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["conditions", "show", "--operator", operator_id]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["products"][f"{operator_id}:day"] == {
        "cancellable": False,
        "refund_fee_minor": 150,
        "sold_alone": True,
        "validity_min": 1440,
    }
    assert await asyncio.to_thread(cli.main, ["conditions", "show", "--operator", "nobody"]) == 2


async def test_an_itinerary_leg_is_refundable_until_its_departure_less_the_margin_set(
    live: Client, live_db: asyncpg.Pool, live_key: MakeKey
) -> None:
    leg = await a_ride(live)
    admin, key = bearer(await live_key("admin")), await live_key("maas")
    operator_id = leg["operator_id"]
    before = (await live.get(f"/v1/operators/{operator_id}/conditions")).json()
    conditions = {"all_products": {"refundable_before_min": 120, "refund_fee_minor": 25}}
    conditions["products"] = (await before)["products"]
    try:
        assert (await _put(live, admin, operator_id, conditions))[0] == 200
        body = {"itinerary": {"legs": [ride_request(leg)]}, "travellers": [{}]}
        status, created = await post_offer(live, key, body)
        assert status == 201, created
        terms = created["legs"][0]["conditions"]
        departure = dt.datetime.fromisoformat(leg["departure"])
        assert dt.datetime.fromisoformat(terms["refundable_until"]) == departure - dt.timedelta(
            hours=2
        )
        assert (terms["cancellable"], terms["refund_fee_minor"]) == (True, 25)
    finally:
        await live_db.execute(
            "DELETE FROM operator_conditions WHERE operator_id = $1 AND product_id = ''",
            operator_id,
        )
