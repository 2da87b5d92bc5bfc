from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer

MakeKey = Callable[..., Awaitable[str]]
PROBLEM = "application/problem+json"


async def _problem(resp: ClientResponse, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status
    assert resp.headers["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = await resp.json(content_type=PROBLEM)
    assert body["status"] == status
    assert body["code"] == code
    assert str(body["type"]).endswith(code)
    assert body["title"]
    assert body["instance"]
    return body


async def test_unknown_route_is_404_problem(client: TestClient) -> None:  # type: ignore[type-arg]
    body = await _problem(await client.get("/v1/nothing-here"), 404, "not_found")
    assert body["instance"] == "/v1/nothing-here"


async def test_wrong_method_is_405_problem_with_allow(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.delete("/health")
    await _problem(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


async def test_non_json_body_is_415_problem(client: TestClient, make_key: MakeKey) -> None:  # type: ignore[type-arg]
    headers = bearer(await make_key("admin")) | {"Content-Type": "text/plain"}
    resp = await client.post("/v1/keys", data="role=admin", headers=headers)
    await _problem(resp, 415, "unsupported_media_type")


async def test_broken_json_is_400_problem(client: TestClient, make_key: MakeKey) -> None:  # type: ignore[type-arg]
    headers = bearer(await make_key("admin")) | {"Content-Type": "application/json"}
    resp = await client.post("/v1/keys", data="{not json", headers=headers)
    await _problem(resp, 400, "invalid_json")


async def test_unknown_field_is_422_naming_the_field(client: TestClient, make_key: MakeKey) -> None:  # type: ignore[type-arg]
    headers = bearer(await make_key("admin"))
    body = {"role": "admin", "name": "x", "tenant_id": "ok-tenant", "revoked_at": None}
    resp = await client.post("/v1/keys", json=body, headers=headers)
    problem = await _problem(resp, 422, "validation_failed")
    fields = [e["field"] for e in problem["errors"]]
    assert fields == ["body.revoked_at"]


async def test_bad_value_is_422_naming_the_field(client: TestClient, make_key: MakeKey) -> None:  # type: ignore[type-arg]
    headers = bearer(await make_key("admin"))
    resp = await client.post("/v1/keys", json={"role": "pilot", "name": ""}, headers=headers)
    problem = await _problem(resp, 422, "validation_failed")
    fields = sorted(e["field"] for e in problem["errors"])
    assert fields == ["body.name", "body.role"]


async def test_body_over_limit_is_413_problem(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"max_body_bytes": 2048})))
    headers = bearer(await make_key("admin"))
    resp = await client.post(
        "/v1/keys", json={"role": "admin", "name": "x" * 5000}, headers=headers
    )
    await _problem(resp, 413, "payload_too_large")


async def test_crash_is_500_problem_without_internals(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret connection string postgres://u:p@db")

    app = create_app(settings)
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/boom", headers={"X-Request-Id": "trace-me-1"})
    body = await _problem(resp, 500, "internal_error")
    assert "secret" not in str(body)
    assert "RuntimeError" not in str(body)
    assert resp.headers["X-Request-Id"] == "trace-me-1"


async def test_request_id_is_echoed(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"


@pytest.mark.parametrize("given", ["", "bad id with spaces", "x" * 500])
async def test_request_id_is_generated_when_missing_or_malformed(
    client: TestClient,  # type: ignore[type-arg]
    given: str,
) -> None:
    resp = await client.get("/health", headers={"X-Request-Id": given} if given else {})
    generated = resp.headers["X-Request-Id"]
    assert generated != given
    assert len(generated) == 32


async def test_request_id_is_on_problem_responses(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/nope", headers={"X-Request-Id": "r-404"})
    assert resp.status == 404
    assert resp.headers["X-Request-Id"] == "r-404"
