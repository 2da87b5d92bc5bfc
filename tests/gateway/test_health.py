from aiohttp.test_utils import TestClient


async def test_health_answers_ok(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_ready_reports_postgres_and_redis(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/ready")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}
