"""What the conformance suite found, each pinned: the document and the behaviour agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.problems import Problem
from gateway.urlguard import check_public_url
from tests.conftest import bearer

MakeKey = Callable[..., Awaitable[str]]


async def _document(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    document: dict[str, Any] = await resp.json()
    return document


async def test_departures_at_a_bare_number_is_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    """`at=0.5` is no ISO 8601 time: 422 naming `at`, not the epoch read as 1970."""
    resp = await client.get("/v1/stops/kuopion-liikenne:201804/departures", params={"at": "0.5"})
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert problem["code"] == "validation_failed"
    assert "at" in str(problem["errors"])


@pytest.mark.parametrize("period", ["0000-01", "0999-12", "9999-12"])
async def test_release_period_outside_the_years_is_422(
    client: TestClient,  # type: ignore[type-arg]
    make_key: MakeKey,
    period: str,
) -> None:
    """A period whose month (or the month after) no calendar holds is refused, not a 500."""
    key = await make_key("planner")
    body = {"period": period, "zone_system": "fare-zones", "bucket": "hour"}
    resp = await client.post("/v1/flows/releases", json=body, headers=bearer(key))
    assert resp.status == 422, await resp.text()
    assert "period" in str((await resp.json())["errors"])


async def test_url_whose_host_idna_refuses_is_422() -> None:
    """A host name IDNA cannot encode (as a webhook URL) does not resolve: 422, not a 500."""
    with pytest.raises(Problem) as refused:
        await check_public_url("https://\u009dexample.org/hook", "url", allow_private=False)
    assert refused.value.status == 422


async def test_document_declares_what_answers_carry(client: TestClient) -> None:  # type: ignore[type-arg]
    """Replayed header, both media types of `.pb`, JSON media types as JSON, 404 on `{id}`."""
    paths = (await _document(client))["paths"]
    booked = paths["/v1/bookings"]["post"]["responses"]["201"]
    assert "Idempotent-Replayed" in booked["headers"]
    merged = paths["/v1/gtfs-rt/trip-updates.pb"]["get"]["responses"]["200"]["content"]
    assert {"application/x-protobuf", "application/json"} <= set(merged)
    network = paths["/v1/network.geojson"]["get"]["responses"]["200"]["content"]
    assert network["application/geo+json"]["schema"]["type"] == "object"
    for path, item in paths.items():
        for method, operation in item.items():
            if "{" in path:
                assert "404" in operation["responses"], f"{method} {path}"


async def test_answers_leave_out_nulls_so_nullable_fields_are_not_required(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    """Answers are dumped without null fields: the schema of an answer never requires one."""
    schemas = (await _document(client))["components"]["schemas"]
    assert "created_at" not in schemas["ZoneSystem"].get("required", [])
    assert "id" in schemas["ZoneSystem"]["required"]
