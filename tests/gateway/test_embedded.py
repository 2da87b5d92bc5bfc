from pathlib import Path

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import ClientFactory


async def test_gateway_starts_on_embedded_postgres_and_redis(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = Settings(database_url=None, redis_url=None, data_dir=tmp_path, log_json=False)
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/ready")
    assert resp.status == 200
    body = await resp.json()
    assert body["postgres"] == "ok"
    assert body["redis"] == "ok"
    assert (tmp_path / "postgres" / "PG_VERSION").is_file()
