"""A fares upload refused halfway through its rows leaves the previous fares current and
stores nothing of the new ones (issue 12, Edges: the rows are streamed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from operators.fares.csvfiles import MAX_REPORTED_WARNINGS
from tests.conftest import bearer
from tests.operators.fares.synthetic import synthetic_fares_files, synthetic_fares_zip, zip_of
from tests.sales.support import operator_with_demo_fares

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]


async def _versions(db: asyncpg.Pool, operator_id: str) -> list[tuple[int, str, bool]]:
    rows = await db.fetch(
        "SELECT id, sha256, is_current FROM fare_versions WHERE operator_id = $1 ORDER BY id",
        operator_id,
    )
    return [(r["id"], r["sha256"], r["is_current"]) for r in rows]


async def _prices(client: Client, operator_id: str) -> list[tuple[str, str, int]]:
    resp = await client.get("/v1/products", params={"operator": operator_id})
    items = (await resp.json())["items"]
    return [
        (item["product_id"], price["rider_category_id"], price["price_minor"])
        for item in items
        for price in item["prices"]
    ]


async def _put(client: Client, operator_id: str, body: bytes, key: str) -> ClientResponse:
    headers = bearer(key) | {"Content-Type": "application/zip"}
    response: ClientResponse = await client.put(
        f"/v1/operators/{operator_id}/fares", data=body, headers=headers
    )
    return response


async def test_a_bad_row_halfway_keeps_the_previous_fares_and_stores_nothing(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    before = await _versions(db, operator_id)
    listed = await _prices(client, operator_id)
    admin = await make_key("admin")
    resp = await _put(client, operator_id, synthetic_fares_zip(40_000, bad_area_row=20_001), admin)
    assert resp.status == 422
    problem = await resp.json(content_type="application/problem+json")
    assert problem["code"] == "invalid_fares"
    assert problem["errors"] == [
        {
            "file": "stop_areas.txt",
            "row": 20_001,
            "field": "area_id",
            "message": "'NOPE' is not defined in areas.txt",
        }
    ]
    assert await _versions(db, operator_id) == before
    assert await _prices(client, operator_id) == listed


async def test_the_same_feed_without_the_bad_row_is_stored_whole(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    (first_id, _, _), *_ = await _versions(db, operator_id)
    resp = await _put(client, operator_id, synthetic_fares_zip(40_000), await make_key("admin"))
    assert resp.status == 201, await resp.text()
    published = await resp.json()
    assert published["product_count"] == 1
    versions = await _versions(db, operator_id)
    assert [(v, current) for v, _, current in versions] == [
        (first_id, False),
        (published["version_id"], True),
    ]


async def test_a_nul_character_in_a_file_is_refused_naming_its_row(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    operator_id = await operator_with_demo_fares(db)
    before = await _versions(db, operator_id)
    files = synthetic_fares_files(10)
    rows = "".join(f"Z{i:02d},Zone {i},\n" for i in range(20))
    files["areas.txt"] = ("area_id,area_name,colour\x00\n" + rows).encode()  # an unknown column
    resp = await _put(client, operator_id, zip_of(files), await make_key("admin"))
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type="application/problem+json")
    assert [(e["file"], e["row"]) for e in problem["errors"]] == [("areas.txt", 1)]
    assert await _versions(db, operator_id) == before


async def test_a_warning_on_every_row_is_counted_but_only_the_first_are_listed(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    # 200,000 rows may each earn a warning: listing and storing them all would make a
    # 20 MB answer and jsonb column of one upload. The first are listed, all are counted.
    operator_id = await operator_with_demo_fares(db)
    files = synthetic_fares_files(10)
    products = "".join(f"p{i},Product {i},3.5,EUR\n" for i in range(5_000))  # 1 place, not 2
    files["fare_products.txt"] = (
        b"fare_product_id,fare_product_name,amount,currency\nsingle,Single ticket,3.50,EUR\n"
        + products.encode()
    )
    resp = await _put(client, operator_id, zip_of(files), await make_key("admin"))
    assert resp.status == 201, await resp.text()
    published = await resp.json()
    amounts = [w for w in published["warnings"] if w["field"] == "amount"]
    assert len(amounts) == MAX_REPORTED_WARNINGS
    assert amounts[0] == {
        "file": "fare_products.txt",
        "row": 3,
        "field": "amount",
        "message": "'3.5' should have 2 decimal places for EUR",
    }
    assert published["warning_total"] == 5_000 + len(published["warnings"]) - len(amounts)
    stored = await db.fetchval(
        "SELECT jsonb_array_length(warnings) FROM fare_versions WHERE id = $1",
        published["version_id"],
    )
    assert stored == len(published["warnings"])
