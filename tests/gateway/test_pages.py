"""The front page, the problem-type pages, and `Location` on what a POST creates."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key
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


def map_config(page: str) -> dict[str, Any]:
    """Return the configuration the map page was served with."""
    found = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', page)
    assert found
    config: dict[str, Any] = orjson.loads(found[1])
    return config


async def test_the_map_opens_on_one_operators_network(kuopio_demo: str, client: Client) -> None:
    await client.app[timetable_key].wait_for(
        lambda t: "kuopion-liikenne" in set(t.snapshot.stops.operator_ids), timeout_s=60
    )
    one = map_config(await (await client.get("/map?operator=kuopion-liikenne")).text())
    (south, west), (north, east) = one["bounds"]
    assert 62.5 < south < north < 63.5  # Kuopio, whatever else this run's database holds
    assert 27 < west < east < 28.5
    assert one["operator"] == "kuopion-liikenne"
    nobody = map_config(await (await client.get("/map?operator=nobody")).text())
    assert nobody["bounds"] is None
