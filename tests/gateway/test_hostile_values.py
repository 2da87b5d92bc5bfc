"""Values at the ends of the calendar are refused as 422 problems naming the field, never a 500.

Python's dates end at years 1 and 9999: an offset or a day more overflows. Each request
below once answered 500 (issue 14, defect 6).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import bearer

MakeKey = Callable[..., Awaitable[str]]
STOP = "kuopion-liikenne:201804"
#: The first and the last moment Python can hold, each with the offset that overflows it.
EDGES = ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00")


async def _refused_offer(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    body: Mapping[str, object],
) -> dict[str, Any]:
    """POST an offer that must be refused; return its 422 problem."""
    resp = await client.post("/v1/offers", json=body, headers=bearer(await make_key("maas")))
    assert resp.status == 422, await resp.text()
    problem: dict[str, Any] = await resp.json(content_type=None)
    return problem


@pytest.mark.parametrize("at", EDGES)
@pytest.mark.parametrize("param", ["depart_at", "arrive_by"])
async def test_journeys_at_the_ends_of_the_calendar_are_422(
    client: TestClient,  # type: ignore[type-arg]
    param: str,
    at: str,
) -> None:
    resp = await client.get("/v1/journeys", params={"from": STOP, "to": STOP, param: at})
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["errors"][0]["field"] == f"query.{param}"
    assert "between 1970-01-01 and 2199-12-31" in problem["detail"]


@pytest.mark.parametrize("at", EDGES)
async def test_departures_at_the_ends_of_the_calendar_are_422(
    client: TestClient,  # type: ignore[type-arg]
    at: str,
) -> None:
    resp = await client.get(f"/v1/stops/{STOP}/departures", params={"at": at})
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["errors"][0]["field"] == "query.at"
    assert "between 1970-01-01 and 2199-12-31" in problem["detail"]


@pytest.mark.parametrize("at", EDGES)
async def test_a_product_offer_valid_from_the_ends_of_the_calendar_is_422(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    at: str,
) -> None:
    body = {
        "product": {"operator_id": "bus", "product_id": "day", "valid_from": at},
        "travellers": [{}],
    }
    problem = await _refused_offer(client, make_key, body)
    assert problem["errors"][0]["field"] == "body.product.valid_from"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_an_itinerary_offer_on_the_last_or_first_day_is_422(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    day: str,
) -> None:
    leg = {"trip_id": "bus:t1", "service_date": day, "from_stop_id": "a", "to_stop_id": "b"}
    body = {"itinerary": {"legs": [leg]}, "travellers": [{}]}
    problem = await _refused_offer(client, make_key, body)
    assert problem["errors"][0]["field"] == "body.itinerary.legs[0].service_date"
    assert f"not {day}" in problem["detail"]


#: Numbers pydantic would read as seconds since 1970 (1970-01-01 is inside the days allowed).
NUMBERS = ("0.5", "0", "1e9", "-86400")


@pytest.mark.parametrize("at", NUMBERS)
@pytest.mark.parametrize("param", ["depart_at", "arrive_by"])
async def test_journeys_at_a_number_are_422_not_1970(
    client: TestClient,  # type: ignore[type-arg]
    param: str,
    at: str,
) -> None:
    resp = await client.get("/v1/journeys", params={"from": STOP, "to": STOP, param: at})
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["errors"][0]["field"] == f"query.{param}"
    assert "not a number" in problem["detail"]


@pytest.mark.parametrize("at", [0, 1.5, "0.5", True])
async def test_a_product_offer_valid_from_a_number_is_422_not_1970(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    at: object,
) -> None:
    body = {
        "product": {"operator_id": "bus", "product_id": "day", "valid_from": at},
        "travellers": [{}],
    }
    problem = await _refused_offer(client, make_key, body)
    assert problem["errors"][0]["field"] == "body.product.valid_from"
    assert "not a number" in problem["detail"]


@pytest.mark.parametrize("day", [0, "20260102", 86400])
async def test_an_itinerary_offer_on_a_numbered_day_is_422(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    day: object,
) -> None:
    leg = {"trip_id": "bus:t1", "service_date": day, "from_stop_id": "a", "to_stop_id": "b"}
    body = {"itinerary": {"legs": [leg]}, "travellers": [{}]}
    problem = await _refused_offer(client, make_key, body)
    assert problem["errors"][0]["field"] == "body.itinerary.legs[0].service_date"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/journeys", [("from", STOP), ("from", "nowhere"), ("to", STOP)]),
        (f"/v1/stops/{STOP}/departures", [("at", "2026-01-02T08:00:00+02:00"), ("at", "0")]),
    ],
)
async def test_a_repeated_query_parameter_is_422_not_one_of_its_values(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    query: list[tuple[str, str]],
) -> None:
    # No parameter takes a list: keeping the first value would hide the second from checks.
    resp = await client.get(path, params=query)
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    repeated = query[0][0]
    assert problem["errors"] == [
        {
            "field": f"query.{repeated}",
            "message": "given 2 times; give it once",
            "type": "repeated_parameter",
        }
    ]


async def test_a_repeated_settlement_party_is_422(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    resp = await client.get(
        "/v1/settlements",
        params=[("period", "2026-01"), ("operator", "bus"), ("operator", "../x")],
        headers=bearer(await make_key("admin")),
    )
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert [e["field"] for e in problem["errors"]] == ["query.operator"]


async def test_an_event_id_beyond_bigint_is_422_not_500(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
) -> None:
    # Found by Schemathesis: asyncpg cannot send 2**64 as a bigint.
    resp = await client.get(
        "/v1/events", params={"after": str(2**64)}, headers=bearer(await make_key("admin"))
    )
    assert resp.status == 422, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["errors"][0]["field"] == "query.after"
