"""Benchmark: webhooks delivered per second to a local receiver, and commit-to-delivery delay.

A scratch database of the local PostgreSQL (MAAS_TEST_DATABASE_URL), one webhook
endpoint on a local aiohttp receiver, and `--dispatchers` dispatchers with a pool
each (as gateway processes would be), each looping like the gateway's job: a round,
then straight on while it delivered, else a sleep of `--interval` seconds.

1. Drain: `--events` events over `--objects` objects are committed first, then the
   dispatchers deliver them all: events per second.
2. Paced: events are committed at `--rate` per second while the dispatchers run; the
   delay from each commit to its arrival at the receiver (p50, p99), with the
   dispatchers woken by LISTEN/NOTIFY (as the gateway runs them), then, interleaved in
   the same round, polling only (the reference for the wake-up).

The reference, interleaved round by round: the same number of signed POSTs sent straight
to the receiver with the same concurrency (no database): the HTTP ceiling on this machine.
Never asserts. Run: .venv/bin/python bench/events.py [--events N] [--dispatchers D]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from support import scratch_database

from gateway.dbcodecs import init_connection
from gateway.listener import WakingListener
from gateway.migrate import migrate
from gateway.webhooks import http_sender
from webhooks import endpoints, signing
from webhooks.dispatch import CHANNEL, Schedule, run

WRITE = "SELECT outbox_write('booking', $1, 'booking.confirmed', 't', ARRAY['tenant:t'], $2)"


class Receiver:
    """Counts arrivals and remembers when each event id first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def post(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived.setdefault(request.headers["webhook-id"], time.perf_counter())
        return web.Response(status=204)


async def _dispatch_until(
    pools: list[asyncpg.Pool],
    send: Callable[[str, dict[str, str], bytes], Awaitable[int]],
    interval_s: float,
    done: Callable[[], bool],
    db_url: str | None = None,
) -> None:
    """Run the gateway's dispatcher loop per pool; with `db_url`, each LISTENs as well."""
    schedule = Schedule(batch=100)
    wakes = [asyncio.Event() for _ in pools]
    listeners = [
        asyncio.create_task(WakingListener(db_url, CHANNEL, wake.set, "bench-listen").run())
        for wake in wakes
        if db_url is not None
    ]
    try:
        await asyncio.gather(
            *(
                run(pool, send, schedule, interval_s, wake, until=done)
                for pool, wake in zip(pools, wakes, strict=True)
            )
        )
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)


async def _drain(
    pools: list[asyncpg.Pool], receiver: Receiver, send: Any, args: argparse.Namespace, start: int
) -> float:
    async with pools[0].acquire() as conn:
        await conn.executemany(
            WRITE, [(f"b-{start + i % args.objects}", {"n": i}) for i in range(args.events)]
        )
    before = len(receiver.arrived)
    t0 = time.perf_counter()
    await _dispatch_until(
        pools, send, args.interval, lambda: len(receiver.arrived) - before >= args.events
    )
    return float(args.events) / (time.perf_counter() - t0)


async def _paced(
    pools: list[asyncpg.Pool],
    receiver: Receiver,
    send: Any,
    args: argparse.Namespace,
    start: int,
    db_url: str | None,
) -> list[float]:
    committed: dict[str, float] = {}
    ids: list[str] = []

    async def write() -> None:
        gap = 1 / args.rate
        for i in range(args.paced):
            event_id = await pools[0].fetchval(WRITE, f"p-{start + i % args.objects}", {"n": i})
            committed[f"evt_{event_id}"] = time.perf_counter()
            ids.append(f"evt_{event_id}")
            await asyncio.sleep(gap)

    def finished() -> bool:
        return len(ids) == args.paced and all(i in receiver.arrived for i in ids)

    await asyncio.gather(write(), _dispatch_until(pools, send, args.interval, finished, db_url))
    return [receiver.arrived[i] - committed[i] for i in ids]


async def _reference(session: aiohttp.ClientSession, url: str, n: int, at_once: int) -> float:
    """Signed POSTs straight to the receiver, `at_once` in flight: the HTTP ceiling."""
    secret = signing.new_secret()
    body = orjson.dumps({"type": "booking.confirmed", "data": {"n": 0}})
    gate = asyncio.Semaphore(at_once)

    async def one(i: int) -> None:
        async with gate:
            headers = signing.headers([secret], f"ref_{i}_{time.time_ns()}", int(time.time()), body)
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - t0)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hook"
    async with scratch_database() as db_url, aiohttp.ClientSession() as session:
        conn = await asyncpg.connect(db_url)
        await migrate(conn)
        await conn.close()
        pools = [
            await asyncpg.create_pool(db_url, min_size=1, max_size=4, init=init_connection)
            for _ in range(args.dispatchers)
        ]
        await endpoints.create_endpoint(pools[0], "tenant:t", url, [], None)
        send = http_sender(session, 10.0)
        rates, refs, delays, polled = [], [], [], []
        for r in range(args.rounds):
            refs.append(await _reference(session, url, args.events, 100 * args.dispatchers))
            rates.append(await _drain(pools, receiver, send, args, r * args.objects))
            # Woken by NOTIFY, then polling only, interleaved: the same events, rate, interval.
            delays += await _paced(pools, receiver, send, args, r * args.objects, db_url)
            polled += await _paced(pools, receiver, send, args, (r + 1000) * args.objects, None)
        for pool in pools:
            await pool.close()
    await runner.cleanup()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    print(f"{args.events} events over {args.objects} objects, {args.dispatchers} dispatchers")
    print(
        f"delivered/s (median of {args.rounds}): {statistics.median(rates):.0f} "
        f"(runs {', '.join(f'{x:.0f}' for x in rates)})"
    )
    print(f"reference: signed POSTs/s straight to the receiver: {statistics.median(refs):.0f}")
    for name, got in (("LISTEN/NOTIFY + poll", delays), ("poll only (reference)", polled)):
        print(
            f"paced at {args.rate}/s, interval {args.interval} s, {name}: commit->delivery "
            f"p50 {_pct(got, 0.5) * 1000:.0f} ms, p99 {_pct(got, 0.99) * 1000:.0f} ms "
            f"({len(got)} events)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events per drain round")
    parser.add_argument("--objects", type=int, default=200, help="objects they are about")
    parser.add_argument("--dispatchers", type=int, default=2, help="dispatchers (processes)")
    parser.add_argument("--interval", type=float, default=1.0, help="idle sleep (the setting)")
    parser.add_argument("--rate", type=float, default=100.0, help="paced events per second")
    parser.add_argument("--paced", type=int, default=500, help="paced events per round")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
