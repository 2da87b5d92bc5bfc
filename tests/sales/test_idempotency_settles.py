"""#14 defect 1: a booking whose answer was lost to a PostgreSQL restart settles on retry.

The test starts a PostgreSQL server of its own and stops it while an operator is
answering a reservation: the booking's first transaction has committed, its answer
and the idempotency record's clean-up both fail. A retry with the same
Idempotency-Key must then settle (here: replay the one booking that was made,
with its one seat), not answer "still being processed" for a day.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway import credentials
from gateway.app import create_app
from gateway.dbcodecs import init_connection
from gateway.settings import Settings
from tests.conftest import ClientFactory, bearer
from tests.operators.fake_tomp import FakeTomp
from tests.sales.support import day_ticket_offer, offer, operator_with_demo_fares
from tests.servers import PrivatePostgres, private_postgres

ServerFactory = Callable[..., Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]
PATIENCE_S = 60.0


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(tmp_path) as server:
        yield server


async def _retry_until_settled(
    client: Client, key: str, body: dict[str, Any], idem: str
) -> tuple[int, dict[str, Any], list[int]]:
    """Retry as a client would; return the settled answer and every status seen on the way."""
    seen: list[int] = []
    headers = bearer(key) | {"Idempotency-Key": idem}
    async with asyncio.timeout(PATIENCE_S):
        while True:
            resp = await client.post("/v1/bookings", json=body, headers=headers)
            seen.append(resp.status)
            answer: dict[str, Any] = await resp.json(content_type=None)
            if resp.status not in (409, 500, 503) or answer.get("code") not in (
                "idempotency_key_in_progress",
                None,
            ):
                return resp.status, answer, seen
            await asyncio.sleep(0.25)


async def test_a_booking_whose_answer_was_lost_to_a_postgres_restart_settles_on_retry(
    aiohttp_client: ClientFactory,
    aiohttp_server: ServerFactory,
    settings: Settings,
    postgres: PrivatePostgres,
) -> None:
    fake = FakeTomp()
    url = str((await aiohttp_server(fake.app())).make_url(""))
    update = {"database_url": postgres.url, "booking_lease_s": 1.0, "expiry_interval_s": 3600.0}
    client: Client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    async with asyncpg.create_pool(
        postgres.url, init=init_connection, min_size=1, max_size=2
    ) as db:
        remote = await operator_with_demo_fares(db, sales_channel="tomp", tomp_url=url)
        await db.execute(
            "INSERT INTO capacities (operator_id, product_id, seats_total) VALUES ($1, $2, 5)",
            remote,
            f"{remote}:day",
        )
        key = await credentials.create_key(db, "maas", "restart", None, None)
    made = await offer(client, key, day_ticket_offer(remote))
    body = {"offer_ids": [made["id"]], "travellers": [{"rider_category": "adult"}]}
    idem = str(uuid.uuid4())
    headers = bearer(key) | {"Idempotency-Key": idem}

    async def restart_postgres() -> None:
        fake.on_reserve = None
        await asyncio.to_thread(postgres.stop, "fast")

    fake.on_reserve = restart_postgres
    resp = await client.post("/v1/bookings", json=body, headers=headers)
    assert resp.status == 500  # the outcome is unknown to the client
    await asyncio.to_thread(postgres.start)
    status, booking, seen = await _retry_until_settled(client, key, body, idem)
    assert status == 201, (booking, seen)
    assert booking["status"] == "PENDING"
    assert [leg["status"] for leg in booking["legs"]] == ["PENDING"]
    again = await client.post("/v1/bookings", json=body, headers=headers)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == booking["id"]
    async with asyncpg.create_pool(
        postgres.url, init=init_connection, min_size=1, max_size=2
    ) as db:
        assert await db.fetchval("SELECT count(*) FROM bookings") == 1
        assert await db.fetchval("SELECT seats_taken FROM capacities") == 1
    assert len(fake.bookings) == 1  # asked again with the same key: one reservation
    keys = {c[3] for c in fake.calls if c[1] == "/bookings"}
    assert len(keys) == 1


async def test_a_booking_that_never_reached_the_database_runs_again_on_retry(
    aiohttp_client: ClientFactory,
    settings: Settings,
    postgres: PrivatePostgres,
) -> None:
    update = {"database_url": postgres.url, "booking_lease_s": 1.0, "expiry_interval_s": 3600.0}
    client: Client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    async with asyncpg.create_pool(
        postgres.url, init=init_connection, min_size=1, max_size=2
    ) as db:
        hosted = await operator_with_demo_fares(db)
        key = await credentials.create_key(db, "maas", "down", None, None)
    made = await offer(client, key, day_ticket_offer(hosted))
    body = {"offer_ids": [made["id"]], "travellers": [{"rider_category": "adult"}]}
    idem = str(uuid.uuid4())
    await asyncio.to_thread(postgres.stop, "immediate")
    headers = bearer(key) | {"Idempotency-Key": idem}
    resp = await client.post("/v1/bookings", json=body, headers=headers)
    assert resp.status >= 500
    await asyncio.to_thread(postgres.start)
    status, booking, seen = await _retry_until_settled(client, key, body, idem)
    assert status == 201, (booking, seen)
    assert booking["status"] == "PENDING"
