"""#15: keys, operators and fares are cached in each process, and a change anywhere is heard.

A key revoked through one `maas serve` process is refused by another that had it
cached; a cache whose LISTEN connection hears a change drops what that table feeds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway.cache_listen import CacheListener
from gateway.credentials import key_prefix
from sales.cache import Cache
from sales.conditions import operator_terms
from tests.conftest import bearer
from tests.faults.processes import call, serving
from tests.faults.support import until


@pytest.mark.timeout(300)
async def test_a_key_revoked_through_one_process_is_refused_by_the_other(
    live_url: str, live_key: Any, redis_url: str, tmp_path: Path
) -> None:
    key, admin = await live_key("maas"), bearer(await live_key("admin"))
    env = {"MAAS_DATABASE_URL": live_url, "MAAS_REDIS_URL": redis_url, "MAAS_LOG_JSON": "false"}
    with serving(tmp_path, 2, env) as (one, other):
        async with aiohttp.ClientSession() as session:

            async def status_on_other() -> int:
                status, _ = await call(session, "GET", other.url + "/v1/me", headers=bearer(key))
                return status

            assert await status_on_other() == 200  # now cached there
            assert await status_on_other() == 200
            revoke = f"{one.url}/v1/keys/{key_prefix(key)}"
            status, body = await call(session, "DELETE", revoke, headers=admin)
            assert status == 204, body
            status, _ = await call(session, "GET", one.url + "/v1/me", headers=bearer(key))
            assert status == 401  # the revoking process at once

            async def refused() -> bool:
                return await status_on_other() == 401

            await until(refused, "the other process refuses the revoked key")


async def test_a_cache_drops_an_operators_terms_when_its_conditions_change(
    live_url: str, live_db: asyncpg.Pool
) -> None:
    operator_id = await live_db.fetchval("SELECT id FROM operators ORDER BY id LIMIT 1")
    cache = Cache()
    listener = CacheListener(live_url, cache)
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: cache.live, "the cache listens")
        first = await operator_terms(live_db, {operator_id}, cache)
        assert await operator_terms(live_db, {operator_id}, cache) is first  # kept
        heard = listener.notifications
        await live_db.execute("UPDATE operators SET name = name || '' WHERE id = $1", operator_id)
        await until(lambda: listener.notifications > heard, "the change is heard")
        assert await operator_terms(live_db, {operator_id}, cache) is not first
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not cache.live  # deaf: answers come from the database again
