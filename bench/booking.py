"""Complete purchases per second (offer, book, confirm) on the hosted adapter, 64 clients.

Starts `maas serve` in child processes on a scratch database of the local
PostgreSQL (MAAS_TEST_DATABASE_URL, default 127.0.0.1:5432/test) and Redis, and
drives them over HTTP, in three parts:

1. round trips: one gateway talks to PostgreSQL through a counting proxy
   (bench/pgcount.py); purchases one at a time, the median count of each step;
2. one process, 64 clients: rounds of purchases interleaved with rounds of the
   reference (connections committing single-row INSERT transactions, the floor
   any purchase sits on), so both see the same machine;
3. two processes sharing one port (MAAS_REUSE_PORT), interleaved the same way.

The reference opens as many connections as the server has room for next to two
gateways (at most 64; `max_connections` and the connections already open are read
from the server, and the figure is printed), the same number in both parts. Each
part prints the CPU milliseconds per purchase of this client, the gateway(s) and the
PostgreSQL backends of the bench's database (bench/cpu.py), and how busy each kept a
core, so it shows whether the client is what limits.

Usage: python bench/booking.py [--purchases N] [--rounds R] [--statements]
(`--statements` prints the SQL of one purchase, step by step, and stops).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
from cpu import CpuUse, Stretch
from pgcount import counting_proxy  # bench/pgcount.py, run as a script
from support import (
    Gateways,
    percentile_ms,
    running_gateway,
    running_gateways,
    scratch_database,
)

from gateway import credentials
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import read_demo_fare_files
from gateway.demo.run import DEMO_DAY_TICKET
from gateway.migrate import migrate
from sales.conditions import set_conditions
from sales.fares import store_fares, zip_files

CLIENTS = 64
REFERENCE_S = 2.0
COUNTED = 30
#: Background jobs stay out of the counted round trips; a pool of 8 per process (at 9
#: statements a purchase, 8 connections carry far more than these rates: never the limit).
QUIET = {"MAAS_EXPIRY_INTERVAL_S": "3600", "MAAS_WEBHOOK_INTERVAL_S": "3600"}
POOL_MAX = 8
#: Opened in full at start-up, so that a part needs no new connection once it runs.
POOL = {"MAAS_DB_POOL_MAX": str(POOL_MAX), "MAAS_DB_POOL_MIN": str(POOL_MAX)}
#: A gateway's connections: its pool and its three listeners (cache, timetable, webhooks).
PER_GATEWAY = POOL_MAX + 3
#: Connections left free for other sessions that connect while the bench runs.
SPARE = 10


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


Step = Callable[[], Awaitable[None]]


async def _purchase(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], mark: Step | None = None
) -> float:
    started = time.perf_counter()
    body = {"product": {"operator_id": "bench-bus", "product_id": "day"}, "travellers": [{}]}
    async with session.post(f"{base}/v1/offers", json=body, headers=headers) as resp:
        offer = _expect(resp.status == 201, await resp.json())
    if mark is not None:
        await mark()
    booking_headers = headers | {"Idempotency-Key": str(uuid.uuid4())}
    body = {"offer_ids": [offer["id"]], "travellers": [{}]}
    async with session.post(f"{base}/v1/bookings", json=body, headers=booking_headers) as resp:
        booking = _expect(resp.status == 201, await resp.json())
    if mark is not None:
        await mark()
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


async def _round_trips(url: str, key: str) -> list[list[int]]:
    """Return the round trips of each step (offer, book, confirm) of purchases made one by one."""
    async with (
        counting_proxy(url) as (proxied, seen),
        running_gateway(proxied, QUIET | POOL) as base,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        steps: list[list[int]] = [[], [], []]
        marks: list[int] = []

        async def mark() -> None:
            await asyncio.sleep(0.05)  # a write after the answer would be counted too
            marks.append(seen.count)

        async with aiohttp.ClientSession() as session:
            for i in range(COUNTED + 5):  # the first five warm the caches up
                marks[:] = [seen.count]
                await _purchase(session, base, headers, mark)
                await mark()
                if i >= 5:
                    for step, (a, b) in enumerate(itertools.pairwise(marks)):
                        steps[step].append(b - a)
        return steps


async def _reference_connections(url: str) -> int:
    """Return how many connections the reference may open next to two gateways (at most 64)."""
    conn = await asyncpg.connect(url)
    try:
        room = await conn.fetchval(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
    finally:
        await conn.close()
    connections = min(CLIENTS, room - 2 * PER_GATEWAY - SPARE)
    print(
        f"reference: {connections} connections (server room {room}, "
        f"2 gateways x {PER_GATEWAY}, {SPARE} spare)",
        flush=True,
    )
    if connections < 8:
        raise RuntimeError("the server has no room for the reference next to two gateways")
    return int(connections)


def reference_pool(url: str, connections: int) -> asyncpg.Pool:
    """Return the reference's pool, all its connections opened at once and kept for the run.

    Opened before the gateways start and kept: on a shared server whose connections come
    and go, a part never fails half-way for want of one.
    """
    return asyncpg.create_pool(url, min_size=connections, max_size=connections)


async def _reference(pool: asyncpg.Pool) -> tuple[int, float]:
    """Commit single-row INSERTs on every connection for REFERENCE_S; return (count, seconds)."""
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_ref (id bigserial PRIMARY KEY, body jsonb)"
    )
    done = 0
    deadline = time.perf_counter() + REFERENCE_S

    async def one() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await pool.execute("INSERT INTO bench_ref (body) VALUES ('{\"a\": 1}')")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(pool.get_max_size())))
    return done, time.perf_counter() - started


async def _statements(url: str, key: str) -> list[list[str]]:
    """Return the SQL each step (offer, book, confirm) of one warm purchase sends."""
    async with (
        counting_proxy(url) as (proxied, seen),
        running_gateway(proxied, QUIET | POOL) as base,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        steps: list[list[str]] = []

        async def mark() -> None:
            await asyncio.sleep(0.05)
            steps.append(seen.statements[:])
            seen.statements.clear()

        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                await _purchase(session, base, headers)
            await asyncio.sleep(0.05)
            seen.keep = True
            await _purchase(session, base, headers, mark)
            await mark()
        return steps


Measured = tuple[float, list[float], float, CpuUse]


async def _interleaved(
    args: argparse.Namespace, url: str, gateways: Gateways, key: str
) -> Measured:
    """Alternate purchase rounds with reference rounds; return rate, latencies, reference, CPU."""
    await asyncio.wait_for(_load(gateways.base, key, 200), 120)  # warm-up: connections, caches
    latencies: list[float] = []
    elapsed, ref_done, ref_s = 0.0, 0, 0.0
    use = CpuUse()
    pids = [p.pid for p in gateways.processes]
    for _ in range(args.rounds):
        async with Stretch(use, pids, url):
            purchases = args.purchases // args.rounds
            took, more = await asyncio.wait_for(_load(gateways.base, key, purchases), 600)
        elapsed, latencies = elapsed + took, latencies + more
        done, s = await _reference(args.reference_pool)
        ref_done, ref_s = ref_done + done, ref_s + s
    return len(latencies) / elapsed, sorted(latencies), ref_done / ref_s, use


async def _processes(args: argparse.Namespace, url: str, key: str, n: int) -> Measured:
    async with running_gateways(url, [POOL] * n) as gateways:
        return await _interleaved(args, url, gateways, key)


def _report(title: str, rate: float, latencies: list[float], reference: float, use: CpuUse) -> None:
    print(title)
    print(f"  rate      {rate:8.1f} purchases/s")
    for q in (50, 95, 99):
        print(f"  p{q}       {percentile_ms(latencies, q):8.1f} ms")
    print(f"  reference {reference:8.1f} single-row INSERT tx/s (interleaved, same server)")
    print(f"  ratio     {rate / reference:8.3f} purchases per reference transaction")
    per = use.per_unit_ms(len(latencies))
    print("  CPU ms per purchase: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    busy = ", ".join(f"{k} {v:.2f}" for k, v in use.busy().items())
    print(f"  cores kept busy:     {busy}", flush=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=1500, help="purchases per part")
    parser.add_argument("--rounds", type=int, default=5, help="rounds each part is split into")
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL of one purchase and stop"
    )
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    """Run the parts the arguments ask for and print their figures."""
    async with scratch_database() as url:
        key = await _prepare(url)
        if args.statements:
            for name, sent in zip(
                ("offer", "book", "confirm"), await _statements(url, key), strict=True
            ):
                print(f"{name}: {len(sent)} statements")
                for text in sent:
                    print("   ", " ".join(text.split())[:200])
            return
        steps = await _round_trips(url, key)
        offer, book, confirm = (statistics.median(s) for s in steps)
        total = [sum(t) for t in zip(*steps, strict=True)]
        # Each part is printed as it ends: a later part that fails keeps the earlier figures.
        print(f"round trips to PostgreSQL per purchase, {COUNTED} purchases one at a time (median)")
        print(
            f"  offer {offer:g}, book {book:g}, confirm {confirm:g}: total "
            f"{statistics.median(total):g} (min {min(total)}, max {max(total)})",
            flush=True,
        )
        connections = await _reference_connections(url)
        async with reference_pool(url, connections) as args.reference_pool:
            one = await _processes(args, url, key, 1)
            _report(
                f"one process, {CLIENTS} clients, {args.purchases} purchases in {args.rounds} "
                "rounds",
                *one,
            )
            two = await _processes(args, url, key, 2)
    _report(f"two processes on one port, {CLIENTS} clients", *two)
    print(
        f"  scaling   {two[0] / one[0]:8.2f} x one process "
        f"({(two[0] / two[2]) / (one[0] / one[2]):.2f} x against each one's reference)"
    )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
