"""Complete purchases per second (offer, book, confirm) on the hosted adapter, 64 clients.

Starts `maas serve` in a child process on a scratch database of the local
PostgreSQL (MAAS_TEST_DATABASE_URL, default 127.0.0.1:5432/test) and Redis, and
drives it over HTTP. The reference, measured in the same run on the same server:
64 connections each committing single-row INSERT transactions, the floor any
purchase (which commits several transactions) sits on.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
from support import running_gateway, scratch_database  # bench/support.py, run as a script

from gateway import credentials
from gateway.demo.kuopio import read_demo_fare_files
from gateway.demo.run import DEMO_DAY_TICKET
from gateway.migrate import migrate
from gateway.resources import init_connection
from sales.conditions import set_conditions
from sales.fares import store_fares, zip_files

CLIENTS = 64
PURCHASES = int(os.environ.get("BENCH_PURCHASES", "1500"))
REFERENCE_S = 5.0


async def _prepare(url: str) -> str:
    async with asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        await pool.execute("INSERT INTO operators (id, name) VALUES ('bench-bus', 'Bench Bus')")
        files = zip_files(read_demo_fare_files("kuopion-liikenne"))
        await store_fares(pool, "bench-bus", files, "Europe/Helsinki")
        await set_conditions(pool, "bench-bus", "day", DEMO_DAY_TICKET)
        return await credentials.create_key(pool, "maas", "bench app")


def _expect(ok: bool, answer: dict[str, Any]) -> dict[str, Any]:
    if not ok:
        raise RuntimeError(f"purchase failed: {answer}")
    return answer


async def _purchase(session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    body = {"product": {"operator_id": "bench-bus", "product_id": "day"}, "travellers": [{}]}
    async with session.post(f"{base}/v1/offers", json=body, headers=headers) as resp:
        offer = _expect(resp.status == 201, await resp.json())
    booking_headers = headers | {"Idempotency-Key": str(uuid.uuid4())}
    body = {"offer_ids": [offer["id"]], "travellers": [{}]}
    async with session.post(f"{base}/v1/bookings", json=body, headers=booking_headers) as resp:
        booking = _expect(resp.status == 201, await resp.json())
    async with session.post(f"{base}/v1/bookings/{booking['id']}/confirm", headers=headers) as resp:
        confirmed = await resp.json()
        _expect(confirmed.get("status") == "CONFIRMED", confirmed)
    return time.perf_counter() - started


async def _load(base: str, key: str, total: int) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {key}"}
    remaining = iter(range(total))
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for _ in remaining:
                latencies.append(await _purchase(session, base, headers))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        return time.perf_counter() - started, latencies


async def _reference(url: str) -> float:
    async with asyncpg.create_pool(url, min_size=CLIENTS, max_size=CLIENTS) as pool:
        await pool.execute("CREATE TABLE bench_ref (id bigserial PRIMARY KEY, body jsonb)")
        done = 0
        deadline = time.perf_counter() + REFERENCE_S

        async def one() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await pool.execute("INSERT INTO bench_ref (body) VALUES ('{\"a\": 1}')")
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CLIENTS)))
        return done / (time.perf_counter() - started)


async def main() -> None:
    async with scratch_database() as url:
        key = await _prepare(url)
        async with running_gateway(url, {"MAAS_DB_POOL_MAX": "20"}) as base:
            await asyncio.wait_for(_load(base, key, 100), 120)  # warm-up: connections, caches
            elapsed, latencies = await asyncio.wait_for(_load(base, key, PURCHASES), 600)
            reference = await _reference(url)
    latencies.sort()
    rate = len(latencies) / elapsed
    print(
        f"purchases (offer + book + confirm), hosted adapter, {CLIENTS} clients, {PURCHASES} total"
    )
    print(f"  rate      {rate:8.1f} purchases/s")
    print(f"  p50       {statistics.median(latencies) * 1000:8.1f} ms")
    print(f"  p99       {latencies[int(len(latencies) * 0.99) - 1] * 1000:8.1f} ms")
    print(f"reference: single-row INSERT transactions, {CLIENTS} connections, same server")
    print(f"  rate      {reference:8.1f} tx/s")
    print(f"  ratio     {reference / rate:8.1f} reference transactions per purchase")


if __name__ == "__main__":
    asyncio.run(main())
