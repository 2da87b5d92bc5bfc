from pathlib import Path

import pytest
import redis

from gateway.app import create_app
from gateway.embedded import start_redis
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


def test_the_default_data_dir_is_made_absolute_where_settings_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAAS_DATA_DIR", raising=False)
    assert Settings().data_dir == tmp_path / ".maas"


def test_embedded_redis_starts_under_a_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `make run` does with no MAAS_DATA_DIR: redis-server changes into its --dir
    # before opening --logfile, so a relative log path used to stop it from starting.
    monkeypatch.chdir(tmp_path)
    server = start_redis(Path(".maas"))
    try:
        assert redis.Redis.from_url(server.url).ping()
        assert (tmp_path / ".maas" / "redis" / "redis.log").is_file()
    finally:
        server.stop()
