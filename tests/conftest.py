"""Shared fixtures: a fresh migrated database per run, Redis, settings and a gateway client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from gateway import credentials
from gateway.app import create_app
from gateway.dbcodecs import init_connection
from gateway.settings import Settings
from tests.servers import fresh_database, redis_server

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

ClientFactory = Callable[..., Awaitable[TestClient]]  # type: ignore[type-arg]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the folder of real feeds (`../shared/data`)."""
    assert DATA.is_dir(), f"the shared data folder is missing: {DATA}"
    return DATA


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of this run's fresh, migrated database."""
    with fresh_database(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of the Redis this run uses."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    """Return settings pointing at the test servers, with a Redis prefix of this test's own."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"maas-test:{uuid.uuid4().hex[:8]}:",
        data_dir=tmp_path,
        log_json=False,
        allow_private_urls=True,  # fake operator servers listen on loopback
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Return a small pool on the test database."""
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=4, init=init_connection
    ) as pool:
        yield pool


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> TestClient:  # type: ignore[type-arg]
    """Return a test client of a gateway wired exactly as in production."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def make_key(db: asyncpg.Pool) -> Callable[..., Awaitable[str]]:
    """Return a function that issues a key of a role and returns it."""

    async def make(
        role: credentials.Role, operator_id: str | None = None, tenant_id: str | None = None
    ) -> str:
        name = f"test-{role}-{uuid.uuid4().hex[:6]}"
        return await credentials.create_key(db, role, name, operator_id, tenant_id)

    return make


def bearer(key: str) -> dict[str, str]:
    """Return the Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}
