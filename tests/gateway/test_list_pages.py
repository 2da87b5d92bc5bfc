"""`GET /v1/products` and `GET /v1/keys` come a page at a time, with the one cursor codec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import bearer
from tests.sales.support import operator_with_demo_fares
from tests.servers import fresh_database

MakeKey = Callable[..., Awaitable[str]]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: the lists hold only what the test made."""
    with fresh_database(tmp_path) as url:
        yield url


async def _walk(
    client: Client, path: str, limit: int, headers: dict[str, str] | None = None, **params: str
) -> list[list[dict[str, Any]]]:
    """Return every page of a list, following `next_cursor`."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        resp = await client.get(path, params=query, headers=headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        pages.append(body["items"])
        cursor = body.get("next_cursor")
        if cursor is None:
            return pages


async def test_products_come_by_page_in_operator_and_product_order(
    client: Client, db: asyncpg.Pool
) -> None:
    first = await operator_with_demo_fares(db, "pages-a")
    await operator_with_demo_fares(db, "pages-b", fares_of="pohjolan-liikenne")
    whole = await (await client.get("/v1/products", params={"limit": "500"})).json()
    assert "next_cursor" not in whole
    ours = [p for p in whole["items"] if p["operator_id"] in ("pages-a", "pages-b")]
    assert len(ours) > 3
    pages = await _walk(client, "/v1/products", 3)
    assert all(len(page) <= 3 for page in pages)
    walked = [p for page in pages for p in page]
    assert [(p["operator_id"], p["product_id"]) for p in walked] == [
        (p["operator_id"], p["product_id"]) for p in whole["items"]
    ]
    assert walked == sorted(walked, key=lambda p: (p["operator_id"], p["product_id"]))
    one = await _walk(client, "/v1/products", 2, operator=first)
    assert {p["operator_id"] for page in one for p in page} == {first}


async def test_keys_come_by_page_newest_first(client: Client, make_key: MakeKey) -> None:
    admin = bearer(await make_key("admin"))
    for _ in range(4):
        await make_key("maas")
    whole = (await (await client.get("/v1/keys", params={"limit": "500"}, headers=admin)).json())[
        "items"
    ]
    pages = await _walk(client, "/v1/keys", 2, headers=admin)
    assert len(pages) >= 3
    walked = [k["prefix"] for page in pages for k in page]
    assert walked == [k["prefix"] for k in whole]
    assert len(set(walked)) == len(walked)


async def test_a_cursor_not_given_out_is_refused(client: Client, make_key: MakeKey) -> None:
    admin = bearer(await make_key("admin"))
    for path, headers in (("/v1/products", None), ("/v1/keys", admin)):
        resp = await client.get(path, params={"cursor": "not-ours"}, headers=headers)
        assert resp.status == 400, path
        assert (await resp.json(content_type=None))["code"] == "invalid_cursor"
        resp = await client.get(path, params={"limit": "0"}, headers=headers)
        assert resp.status == 422, path
