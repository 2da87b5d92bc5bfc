"""Errors that point at the fix: an unencoded `+`, an unprefixed stop id, a shared place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key
from gateway.demo.kuopio import KUOPIO_OPERATORS
from tests.conftest import bearer

Client = TestClient[web.Request, web.Application]
MakeKey = Callable[..., Awaitable[str]]
TORIKULMA = "kuopion-liikenne:201827"
TEATTERIKULMA = "kuopion-liikenne:201804"


@pytest.fixture
async def kuopio(kuopio_demo: str, client: Client) -> Client:
    await client.app[timetable_key].wait_for(
        lambda t: {op.operator_id for op in KUOPIO_OPERATORS} <= set(t.snapshot.stops.operator_ids),
        timeout_s=30,
    )
    return client


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v1/stops/{TEATTERIKULMA}/departures?at=2016-11-15T07:30:00+02:00", "query.at"),
        (
            f"/v1/journeys?from={TEATTERIKULMA}&to={TORIKULMA}&depart_at=2016-11-15T07:30+0200",
            "query.depart_at",
        ),
    ],
)
async def test_a_plus_that_arrived_as_a_space_says_to_write_2b(
    kuopio: Client, path: str, field: str
) -> None:
    resp = await kuopio.get(path)  # the raw query: "+" is not encoded
    assert resp.status == 422
    problem = await resp.json()
    message = next(e["message"] for e in problem["errors"] if e["field"] == field)
    assert "write the offset's + as %2B" in message
    assert "%2B02" in message


async def test_a_naive_time_gets_no_plus_hint(kuopio: Client) -> None:
    resp = await kuopio.get(
        f"/v1/stops/{TEATTERIKULMA}/departures", params={"at": "2016-11-15T07:30:00"}
    )
    assert resp.status == 422
    assert "%2B" not in (await resp.json())["detail"]


async def test_an_encoded_plus_is_read_as_an_offset(kuopio: Client) -> None:
    resp = await kuopio.get(
        f"/v1/stops/{TEATTERIKULMA}/departures?at=2016-11-15T07:30:00%2B02:00&limit=1"
    )
    assert resp.status == 200
    assert (await resp.json())["items"][0]["scheduled_at"].endswith("+02:00")


async def test_a_journey_from_an_unprefixed_stop_id_suggests_the_prefixed_ones(
    kuopio: Client,
) -> None:
    resp = await kuopio.get(
        "/v1/journeys",
        params={"from": "201804", "to": TORIKULMA, "depart_at": "2016-11-15T07:30:00+02:00"},
    )
    assert resp.status == 404
    problem = await resp.json()
    assert problem["code"] == "unknown_stop"
    assert problem["suggestions"][0] == "place:201804"
    assert TEATTERIKULMA in problem["suggestions"]
    assert "did you mean" in problem["detail"]


async def test_a_journey_between_shared_places_has_no_walk_between_copies(
    kuopio: Client,
) -> None:
    resp = await kuopio.get(
        "/v1/journeys",
        params={
            "from": "place:201804",
            "to": "place:201827",
            "depart_at": "2016-11-15T07:30:00+02:00",
        },
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert items
    for journey in items:
        assert journey["legs"][0]["mode"] == "transit"
        assert journey["legs"][0]["from_place"]["place_id"] == "place:201804"
        assert journey["legs"][-1]["to_place"]["place_id"] == "place:201827"


async def test_no_operator_is_called_place(
    client: Client, db: asyncpg.Pool, make_key: MakeKey
) -> None:
    resp = await client.post(
        "/v1/operators", json={"id": "place", "name": "P"}, headers=bearer(await make_key("admin"))
    )
    assert resp.status == 422
    assert "reserved" in (await resp.json())["detail"]
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO operators (id, name) VALUES ('place', 'P')")
