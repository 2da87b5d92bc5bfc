from aiohttp.test_utils import TestClient

from gateway.appkeys import timetable_key


async def test_health_answers_ok(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_ready_reports_postgres_redis_and_timetable(client: TestClient) -> None:  # type: ignore[type-arg]
    await client.app[timetable_key].wait_for(lambda _: True, timeout_s=30)
    resp = await client.get("/ready")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "timetable": "ok"}
