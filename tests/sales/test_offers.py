from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.sales.support import day_ticket_offer, in_days, offer, operator_with_demo_fares

MakeKey = Callable[..., Awaitable[str]]


async def test_catalogue_lists_products_with_prices_and_a_day_ticket(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    resp = await client.get("/v1/products", params={"operator": operator_id})
    assert resp.status == 200
    products = {p["product_id"]: p for p in (await resp.json())["items"]}
    day = products[f"{operator_id}:day"]
    assert day["has_origin_destination"] is False
    assert day["sold_alone"] is True
    assert day["validity_min"] == 24 * 60  # the operator's conditions say so
    adult = next(p for p in day["prices"] if p["rider_category_id"] == f"{operator_id}:adult")
    assert (adult["price_minor"], adult["currency"]) == (900, "EUR")
    single = products[f"{operator_id}:single-1"]
    assert single["has_origin_destination"] is True
    assert {p["rider_category_id"] for p in single["prices"]} >= {
        f"{operator_id}:adult",
        f"{operator_id}:child",
    }


async def test_product_offer_is_priced_from_fares_for_every_traveller(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("maas")
    body = day_ticket_offer(operator_id)
    body["travellers"] = [{"rider_category": "adult"}, {"rider_category": "child"}]
    created = await offer(client, key, body)
    assert created["total_minor"] == 900 + 450
    assert created["currency"] == "EUR"
    (leg,) = created["legs"]
    assert leg["rider_categories"] == [f"{operator_id}:adult", f"{operator_id}:child"]
    assert leg["conditions"]["cancellable"] is True
    stored = await db.fetchval("SELECT total_minor FROM offers WHERE id = $1::uuid", created["id"])
    assert stored == 1350


@pytest.mark.parametrize("field", ["price", "total_minor", "status", "tenant_id"])
async def test_mass_assignment_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
    field: str,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    body = day_ticket_offer(operator_id) | {field: 1}
    resp = await client.post("/v1/offers", json=body, headers=bearer(await make_key("maas")))
    assert resp.status == 422
    problem = await resp.json(content_type="application/problem+json")
    assert [e["field"] for e in problem["errors"]] == [f"body.{field}"]


async def test_offer_needs_a_maas_key(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    resp = await client.post(
        "/v1/offers", json=day_ticket_offer(operator_id), headers=bearer(await make_key("planner"))
    )
    assert resp.status == 403


async def test_unknown_product_and_category_are_clear_problems(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = bearer(await make_key("maas"))
    body = {"product": {"operator_id": operator_id, "product_id": "ferry-pass"}, "travellers": [{}]}
    resp = await client.post("/v1/offers", json=body, headers=key)
    assert resp.status == 404
    body = day_ticket_offer(operator_id)
    body["travellers"] = [{"rider_category": "pensioner-dog"}]
    resp = await client.post("/v1/offers", json=body, headers=key)
    assert resp.status == 422
    assert "travellers[0]" in (await resp.json(content_type=None))["detail"]


async def test_no_product_offer_valid_from_the_past(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    bus = await operator_with_demo_fares(db)
    product = day_ticket_offer(bus)
    product["product"]["valid_from"] = in_days(-1).isoformat()
    resp = await client.post("/v1/offers", json=product, headers=bearer(await make_key("maas")))
    assert resp.status == 422
    assert (await resp.json(content_type=None))["code"] == "valid_from_past"


async def test_a_created_offer_is_named_in_location_and_reads_back(
    client: TestClient,  # type: ignore[type-arg]
    db: asyncpg.Pool,
    make_key: MakeKey,
) -> None:
    operator_id = await operator_with_demo_fares(db)
    key = await make_key("maas")
    resp = await client.post("/v1/offers", json=day_ticket_offer(operator_id), headers=bearer(key))
    assert resp.status == 201
    created = await resp.json()
    assert resp.headers["Location"] == f"/v1/offers/{created['id']}"
    again = await client.get(resp.headers["Location"], headers=bearer(key))
    assert again.status == 200
    assert await again.json() == created
    other = await client.get(resp.headers["Location"], headers=bearer(await make_key("maas")))
    assert other.status == 404  # another tenant's offer does not exist for it
    assert (await client.get("/v1/offers/not-a-uuid", headers=bearer(key))).status == 404
