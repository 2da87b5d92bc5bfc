"""`GET /v1/journeys` over the Kuopio demo: itineraries, clear problems, offers for maas keys."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS
from tests.conftest import bearer
from tests.sales.support import operator_with_demo_fares

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]
TORIKULMA = "kuopion-liikenne:201827"
TEATTERIKULMA = "kuopion-liikenne:201804"
WHEN = "2016-11-15T07:30:00+02:00"  # a Tuesday of the winter 2016-17 timetable


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=30,
    )
    return client


async def test_journeys_between_two_stops_chain_in_time(kuopio: Client) -> None:
    resp = await kuopio.get(
        "/v1/journeys",
        params={"from": TEATTERIKULMA, "to": "kuopion-liikenne:201666", "depart_at": WHEN},
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert items
    for itinerary in items:
        assert itinerary["departure"] >= "2016-11-15T07:30:00+02:00"
        legs = itinerary["legs"]
        for before, after in itertools.pairwise(legs):
            assert before["arrival"] <= after["departure"]
        transit = [leg for leg in legs if leg["mode"] == "transit"]
        assert transit
        assert all(leg["operator_id"] for leg in transit)
        assert "offer" not in itinerary  # a GET stores no offer


async def test_coordinates_get_walking_access(kuopio: Client) -> None:
    resp = await kuopio.get(
        "/v1/journeys",
        params={"from": "62.8925,27.6780", "to": "kuopion-liikenne:201666", "depart_at": WHEN},
    )
    assert resp.status == 200, await resp.text()
    first = (await resp.json())["items"][0]
    assert first["legs"][0]["mode"] == "walk"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "kuopion-liikenne:nope", "to": TORIKULMA}, 404, "unknown_stop"),
        ({"from": "10.0,10.0", "to": TORIKULMA}, 422, "outside_network"),
        (
            {"from": TEATTERIKULMA, "to": TORIKULMA, "depart_at": "2031-01-01T08:00:00+02:00"},
            422,
            "date_outside_service",
        ),
        (
            {"from": TEATTERIKULMA, "to": TORIKULMA, "depart_at": "2016-11-15T08:00:00"},
            422,
            "validation_failed",
        ),
    ],
)
async def test_bad_journey_queries_are_clear_problems(
    kuopio: Client, params: dict[str, str], status: int, code: str
) -> None:
    params = {"depart_at": WHEN} | params
    resp = await kuopio.get("/v1/journeys", params=params)
    assert resp.status == status
    assert (await resp.json(content_type=None))["code"] == code


async def test_journeys_that_have_left_come_without_a_price(
    kuopio: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    for op in KUOPIO_OPERATORS:
        await operator_with_demo_fares(db, op.operator_id, fares_of=op.operator_id)
    resp = await kuopio.get(
        "/v1/journeys",
        params={"from": TEATTERIKULMA, "to": "kuopion-liikenne:201666", "depart_at": WHEN},
        headers=bearer(await make_key("maas")),
    )
    items = (await resp.json())["items"]
    assert items
    assert all(i.get("price") is None and "departed" in i["price_problem"] for i in items)


async def test_walk_limits_are_request_parameters(kuopio: Client) -> None:
    params = {"from": "62.8925,27.6780", "to": "kuopion-liikenne:201666", "depart_at": WHEN}
    resp = await kuopio.get("/v1/journeys", params=params | {"max_walk_start_min": "10"})
    assert resp.status == 200, await resp.text()
    walks = [item["legs"][0] for item in (await resp.json())["items"]]
    assert walks
    assert all(leg["mode"] == "walk" and leg["duration_s"] <= 600 for leg in walks)
    resp = await kuopio.get("/v1/journeys", params=params | {"max_walk_start_min": "0"})
    assert resp.status == 422  # no stop at the very point
    resp = await kuopio.get("/v1/journeys", params=params | {"max_walk_transfer_min": "31"})
    assert resp.status == 422
    assert "max_walk_transfer_min" in await resp.text()
