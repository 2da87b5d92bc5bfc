"""Only products a fare leg rule prices, or that the operator sells alone, are sold on their own."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from gateway.demo.kuopio import read_demo_fare_files
from sales.fares import store_fares, zip_files
from tests.conftest import bearer
from tests.sales.support import operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]
#: A free product no rule uses, added to the real Kuopio demo fares.
FREE = "free,Maksuton,adult,app,0.00,EUR\n"


async def _operator_with_a_free_product(db: asyncpg.Pool) -> str:
    operator_id = await operator_with_demo_fares(db, f"op-{uuid.uuid4().hex[:8]}")
    files = read_demo_fare_files("kuopion-liikenne")
    files["fare_products.txt"] = files["fare_products.txt"].rstrip(b"\n") + b"\n" + FREE.encode()
    await store_fares(db, operator_id, zip_files(files), "Europe/Helsinki")
    return operator_id


async def _product_offer(
    client: TestClient,  # type: ignore[type-arg]
    key: str,
    operator_id: str,
    product_id: str,
) -> tuple[int, dict[str, str]]:
    body = {
        "product": {"operator_id": operator_id, "product_id": product_id},
        "travellers": [{"rider_category": "adult"}],
    }
    resp = await client.post("/v1/offers", json=body, headers=bearer(key))
    return resp.status, await resp.json(content_type=None)


async def test_a_transfer_discount_is_not_sold_on_its_own(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    status, problem = await _product_offer(
        client, await make_key("maas"), operator_id, "transfer-60"
    )
    assert (status, problem["code"]) == (422, "not_sold_alone")  # was a 500 (a negative price)
    assert "transfer-60" in problem["detail"]


async def test_a_free_product_no_rule_uses_is_not_sold_even_when_marked(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await _operator_with_a_free_product(db)
    key = await make_key("maas")
    status, problem = await _product_offer(client, key, operator_id, "free")
    assert (status, problem["code"]) == (422, "not_sold_alone")
    admin = bearer(await make_key("admin"))
    marked = {"products": {"free": {"sold_alone": True}, "day": {"sold_alone": True}}}
    resp = await client.put(f"/v1/operators/{operator_id}/conditions", json=marked, headers=admin)
    assert resp.status == 200
    status, problem = await _product_offer(client, key, operator_id, "free")
    assert (status, problem["code"]) == (422, "not_sold_alone")
    assert "zero or less" in problem["detail"]


async def test_a_product_no_rule_prices_is_sold_only_when_the_operator_says_so(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    admin, key = bearer(await make_key("admin")), await make_key("maas")
    unmarked = {"products": {"day": {"sold_alone": False}}}
    resp = await client.put(f"/v1/operators/{operator_id}/conditions", json=unmarked, headers=admin)
    assert resp.status == 200
    status, problem = await _product_offer(client, key, operator_id, "day")
    assert (status, problem["code"]) == (422, "not_sold_alone")
    resp = await client.get("/v1/products", params={"operator": operator_id})
    listed = {p["product_id"] for p in (await resp.json())["items"]}
    assert f"{operator_id}:day" not in listed
    single = await _product_offer(client, key, operator_id, "single-1")
    assert single[0] == 201  # a fare leg rule prices it


async def test_the_catalogue_lists_only_what_is_sold_alone_at_a_price(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
) -> None:
    operator_id = await _operator_with_a_free_product(db)
    resp = await client.get("/v1/products", params={"operator": operator_id})
    items = (await resp.json())["items"]
    listed = {p["product_id"] for p in items}
    assert f"{operator_id}:transfer-60" not in listed
    assert f"{operator_id}:free" not in listed
    assert {f"{operator_id}:day", f"{operator_id}:single-1"} <= listed
    assert all(p["sold_alone"] for p in items)
    assert all(price["price_minor"] > 0 for p in items for price in p["prices"])


async def test_the_real_transcollines_free_product_is_never_sold_alone(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    shared_data: Path,
) -> None:
    admin = bearer(await make_key("admin"))
    operator_id = f"tc-{uuid.uuid4().hex[:6]}"
    body = {"id": operator_id, "name": "Transcollines", "timezone": "America/Toronto"}
    assert (await client.post("/v1/operators", json=body, headers=admin)).status == 201
    feed = (shared_data / "gtfs" / "transcollines-fares-v2.zip").read_bytes()
    resp = await client.put(f"/v1/operators/{operator_id}/feed", data=feed, headers=admin)
    assert resp.status == 201, await resp.text()
    resp = await client.get("/v1/products", params={"operator": operator_id})
    listed = {p["product_id"]: p for p in (await resp.json())["items"]}
    # PS-0 (0.00 CAD) is priced by no fare leg rule; PS-500 and PS-2000 are.
    assert set(listed) == {f"{operator_id}:PS-500", f"{operator_id}:PS-2000"}
    assert listed[f"{operator_id}:PS-500"]["validity_min"] == 90  # the operator's, not 24 h
    key = await make_key("maas")
    status, problem = await _product_offer(client, key, operator_id, "PS-0")
    assert (status, problem["code"]) == (422, "not_sold_alone")
    marked = {"products": {"PS-0": {"sold_alone": True, "validity_min": 1440}}}
    resp = await client.put(f"/v1/operators/{operator_id}/conditions", json=marked, headers=admin)
    assert resp.status == 200
    status, problem = await _product_offer(client, key, operator_id, "PS-0")
    assert (status, problem["code"]) == (422, "not_sold_alone")
    status, created = await _product_offer(client, key, operator_id, "PS-500")
    assert status == 201, created
