"""One slow operator back-end vs another tenant's purchases of a hosted operator.

A TOMP back-end that answers every COMMIT after BENCH_SLOW_S (4.5 s) gets
BENCH_SLOW_CONFIRMS (20) confirms at once from one tenant; meanwhile another
tenant makes BENCH_PURCHASES (20) complete purchases (offer, book, confirm) of a
hosted operator, one after the other. Prints the hosted purchases' latency with
and without the slow confirms in flight (the reference, measured in the same run
on the same gateway). Starts `maas serve` on a scratch database of the local
PostgreSQL (MAAS_TEST_DATABASE_URL) and Redis. Never asserts.
Run: .venv/bin/python bench/slow_operator.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from support import free_port, running_gateway, scratch_database

from gateway import credentials
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import read_demo_fare_files
from gateway.migrate import migrate
from sales.fares import store_fares, zip_files

SLOW_S = float(os.environ.get("BENCH_SLOW_S", "4.5"))
SLOW_CONFIRMS = int(os.environ.get("BENCH_SLOW_CONFIRMS", "20"))
PURCHASES = int(os.environ.get("BENCH_PURCHASES", "20"))


async def _slow_backend() -> tuple[web.AppRunner, str]:
    """A TOMP back-end that reserves at once and commits after SLOW_S."""
    count = 0

    async def reserve(request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        return web.json_response({"id": f"slow-{count}", "state": "PENDING"}, status=201)

    async def event(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_S)
        state = {"COMMIT": "CONFIRMED", "DENY": "RELEASED", "CANCEL": "CANCELLED"}
        operation = (await request.json())["operation"]
        return web.json_response({"id": request.match_info["id"], "state": state[operation]})

    app = web.Application()
    app.router.add_post("/bookings", reserve)
    app.router.add_post("/bookings/{id}/events", event)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def _prepare(url: str, backend: str) -> tuple[str, str]:
    async with asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        await pool.execute(
            "INSERT INTO operators (id, name) VALUES ('bench-bus', 'Bench Bus');"
            "INSERT INTO operators (id, name, sales_channel, tomp_url) "
            f"VALUES ('bench-ferry', 'Bench Ferry', 'tomp', '{backend}')"
        )
        files = zip_files(read_demo_fare_files("kuopion-liikenne"))
        for operator_id in ("bench-bus", "bench-ferry"):
            await store_fares(pool, operator_id, files, "Europe/Helsinki")
        slow = await credentials.create_key(pool, "maas", "slow tenant")
        other = await credentials.create_key(pool, "maas", "other tenant")
        return slow, other


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: Any = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    async with session.post(url, json=body, headers=headers) as resp:
        answer: dict[str, Any] = await resp.json(content_type=None)
        if resp.status not in (200, 201):
            raise RuntimeError(f"{url}: {resp.status} {answer}")
        return answer


async def _book(session: aiohttp.ClientSession, base: str, key: str, operator_id: str) -> str:
    body = {"product": {"operator_id": operator_id, "product_id": "day"}, "travellers": [{}]}
    offer = await _post(session, f"{base}/v1/offers", key, body)
    booking = await _post(
        session, f"{base}/v1/bookings", key, {"offer_ids": [offer["id"]], "travellers": [{}]}
    )
    return str(booking["id"])


async def _purchases(session: aiohttp.ClientSession, base: str, key: str) -> list[float]:
    took = []
    for _ in range(PURCHASES):
        started = time.perf_counter()
        booking_id = await _book(session, base, key, "bench-bus")
        await _post(session, f"{base}/v1/bookings/{booking_id}/confirm", key)
        took.append(time.perf_counter() - started)
    return took


def _line(name: str, took: list[float]) -> str:
    ordered = sorted(took)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"{name:<44} median {statistics.median(took) * 1000:8.0f} ms   "
        f"p95 {p95 * 1000:8.0f} ms   max {ordered[-1] * 1000:8.0f} ms   "
        f"all {sum(took):6.1f} s"
    )


async def main() -> None:
    """Run the benchmark and print its figures."""
    runner, backend = await _slow_backend()
    try:
        async with scratch_database() as url:
            slow, other = await _prepare(url, backend)
            env = {"MAAS_ALLOW_PRIVATE_URLS": "true", "MAAS_OPERATOR_TIMEOUT_S": "10"}
            async with (
                running_gateway(url, env) as base,
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session,
            ):
                reference = await _purchases(session, base, other)
                pending = [
                    await _book(session, base, slow, "bench-ferry") for _ in range(SLOW_CONFIRMS)
                ]
                started = time.perf_counter()
                confirms = [
                    asyncio.create_task(_post(session, f"{base}/v1/bookings/{b}/confirm", slow))
                    for b in pending
                ]
                await asyncio.sleep(0.2)  # the slow confirms are in flight
                loaded = await _purchases(session, base, other)
                answers = await asyncio.gather(*confirms)
                slow_s = time.perf_counter() - started
    finally:
        await runner.cleanup()
    print(f"slow operator benchmark, {platform.node()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(_line(f"hosted purchase, alone ({PURCHASES})", reference))
    print(_line(f"hosted purchase, {SLOW_CONFIRMS} confirms at a {SLOW_S} s back-end", loaded))
    states = sorted({a["status"] for a in answers})
    print(f"the {SLOW_CONFIRMS} slow confirms: {states} after {slow_s:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
