"""The front page, the problem-type pages, and `Location` on what a POST creates."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import bearer

Client = TestClient[web.Request, web.Application]


async def test_the_front_page_says_what_this_is(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "MaaS Gateway" in await resp.text()


async def test_a_problem_type_is_a_page_that_says_how_to_fix_the_request(client: Client) -> None:
    page = await client.get("/problems/sold_out")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "How to fix the request" in await page.text()
    doc = await (
        await client.get("/problems/sold_out", headers={"Accept": "application/json"})
    ).json()
    assert doc["status"] == 409
    assert doc["type"] == "/problems/sold_out"
    assert doc["fix"]


async def test_an_unknown_code_is_a_problem_whose_type_is_a_page(client: Client) -> None:
    resp = await client.get("/problems/no_such_code")
    assert resp.status == 404
    body = await resp.json()
    assert body["type"] == "/problems/not_found"
    assert (await client.get(body["type"])).status == 200


async def test_every_listed_code_has_its_page(client: Client) -> None:
    listed = await (await client.get("/problems", headers={"Accept": "application/json"})).json()
    assert len(listed["items"]) > 30
    for item in listed["items"][:5]:
        assert (await client.get(item["type"])).status == 200


async def test_a_created_operator_is_named_in_location(
    client: Client, make_key: Callable[..., Awaitable[str]]
) -> None:
    admin = await make_key("admin")
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    resp = await client.post(
        "/v1/operators", json={"id": operator_id, "name": "Lautat"}, headers=bearer(admin)
    )
    assert resp.status == 201
    assert resp.headers["Location"] == f"/v1/operators/{operator_id}"
    assert (await client.get(resp.headers["Location"])).status == 200
