from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from gateway.api import api, openapi_path


async def _document(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc: dict[str, Any] = await resp.json()
    return doc


async def test_openapi_document_is_valid_3_1(client: TestClient) -> None:  # type: ignore[type-arg]
    doc = await _document(client)
    assert doc["openapi"] == "3.1.0"
    validate(doc)


async def test_every_declared_endpoint_is_documented(client: TestClient) -> None:  # type: ignore[type-arg]
    doc = await _document(client)
    for endpoint in api.endpoints:
        operation = doc["paths"][openapi_path(endpoint.path)][endpoint.method.lower()]
        assert operation["summary"] == endpoint.summary
        if endpoint.roles is None:
            assert operation["security"] == []
        else:
            assert sorted(endpoint.roles) == operation["x-roles"]


async def test_request_models_forbid_unknown_fields(client: TestClient) -> None:  # type: ignore[type-arg]
    doc = await _document(client)
    schemas = doc["components"]["schemas"]
    for endpoint in api.endpoints:
        if endpoint.body is not None:
            assert schemas[endpoint.body.__name__]["additionalProperties"] is False


async def test_docs_page_and_its_assets_are_served_offline(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await client.get("/docs")
    assert page.status == 200
    html = await page.text()
    assert "/openapi.json" in html
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        assert asset in html
        resp = await client.get(asset)
        assert resp.status == 200
        assert len(await resp.read()) > 10_000


async def test_metrics_count_requests_by_route_template(client: TestClient) -> None:  # type: ignore[type-arg]
    await client.get("/health")
    await client.delete("/v1/keys/mk_admin_ABCDEFGH")
    text = await (await client.get("/metrics")).text()
    assert 'maas_http_requests_total{method="GET",route="/health",status="200"}' in text
    # ids in paths never become label values (unbounded cardinality)
    assert 'method="DELETE",route="/v1/keys/{prefix}",status="401"' in text
    assert "ABCDEFGH" not in text
    assert "maas_http_request_duration_seconds_bucket" in text
