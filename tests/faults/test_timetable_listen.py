"""#14 defect 2: the timetable's LISTEN connection comes back after PostgreSQL restarts.

Each test starts a PostgreSQL server of its own. The writer's safety-net poll is
set to an hour, so only LISTEN (or the catch-up after reconnecting) can move the
timetable within the test.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import timetable
from gateway.app import create_app
from gateway.appkeys import timetable_key
from gateway.settings import Settings
from gateway.timetable import LISTEN_APPLICATION_NAME
from gtfs.feed.store import TIMETABLE_CHANNEL
from tests.conftest import ClientFactory
from tests.faults.support import until
from tests.servers import PrivatePostgres, private_postgres

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(tmp_path) as server:
        yield server


@pytest.fixture
async def gateway(
    aiohttp_client: ClientFactory,
    settings: Settings,
    postgres: PrivatePostgres,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    monkeypatch.setattr(timetable, "POLL_S", 3600.0)
    update = {"database_url": postgres.url, "expiry_interval_s": 3600.0}
    client: Client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    store = client.app[timetable_key]
    await store.wait_for(lambda _t: True, timeout_s=60)
    assert store.listener is not None
    listener = store.listener
    await until(lambda: listener.connected, "the LISTEN connection is up")
    return client


async def _new_current_version(url: str, notify: bool) -> int:
    """Make a new (empty) feed version current, as a publish does, with or without its NOTIFY."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            operator_id = "listen-test"
            await conn.execute(
                "INSERT INTO operators (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING",
                operator_id,
            )
            await conn.execute(
                "UPDATE feed_versions SET is_current = false WHERE operator_id = $1", operator_id
            )
            count = await conn.fetchval("SELECT count(*) FROM feed_versions")
            version_id: int = await conn.fetchval(
                "INSERT INTO feed_versions (operator_id, sha256, status, is_current, activated_at)"
                " VALUES ($1, $2, 'ready', true, now()) RETURNING id",
                operator_id,
                hashlib.sha256(str(count).encode()).hexdigest(),
            )
            if notify:
                await conn.execute("SELECT pg_notify($1, $2)", TIMETABLE_CHANNEL, str(version_id))
    finally:
        await conn.close()
    return version_id


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_listen_comes_back_after_a_postgres_restart_and_hears_feed_changes(
    gateway: Client, postgres: PrivatePostgres, mode: str
) -> None:
    store = gateway.app[timetable_key]
    listener = store.listener
    assert listener is not None
    await asyncio.to_thread(postgres.stop, mode)
    await until(lambda: not listener.connected, "the lost connection is noticed")
    await asyncio.to_thread(postgres.start)
    await until(lambda: listener.connections >= 2, "the LISTEN connection is back")
    heard = listener.notifications
    version_id = await _new_current_version(postgres.url, notify=True)
    await until(lambda: listener.notifications > heard, "the feed change is heard")
    await store.wait_for(lambda t: version_id in t.version_ids, timeout_s=60)

    async def ready() -> bool:
        resp = await gateway.get("/ready")
        return resp.status == 200 and (await resp.json())["timetable"] == "ok"

    await until(ready, "/ready reports the timetable ok again")


async def test_a_feed_change_made_while_nobody_listened_is_caught_up(
    gateway: Client, postgres: PrivatePostgres
) -> None:
    store = gateway.app[timetable_key]
    listener = store.listener
    assert listener is not None
    # A change whose notification is lost: committed without one, then the connection dies.
    version_id = await _new_current_version(postgres.url, notify=False)
    conn = await asyncpg.connect(postgres.url)
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            LISTEN_APPLICATION_NAME,
        )
    finally:
        await conn.close()
    assert killed == 1
    await store.wait_for(lambda t: version_id in t.version_ids, timeout_s=60)
    assert listener.connections >= 2
