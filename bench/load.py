"""Load: a realistic mix of traffic against several gateway processes sharing one port.

Starts `maas serve --demo` (the Kuopio demo: five operators, their fares) and more
`maas serve` processes on one scratch database of the local PostgreSQL
(MAAS_TEST_DATABASE_URL) and the local Redis, all bound to one port with
`MAAS_REUSE_PORT` so the kernel spreads connections across them. Then `--clients`
clients run for `--seconds`, each picking its next action by weight:

  journeys     GET /v1/journeys between two random demo stops, leaving within the hour
  departures   GET /v1/stops/{id}/departures
  open data    GET /v1/stops?near=, /v1/operators, /v1/routes
  purchase     POST /v1/offers (a journey's offer_request), POST /v1/bookings, confirm
  ticket       GET /v1/bookings/{id} and the ticket's QR code (of an earlier purchase)
  realtime     POST /v1/operators/{id}/realtime/trip-updates (delays on today's trips)

It prints throughput and p50/p95/p99 per endpoint, errors by status, and the CPU
each gateway process used (share of one core). Never asserts.
Run: .venv/bin/python bench/load.py [--processes 2] [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import orjson
from google.transit import gtfs_realtime_pb2
from support import percentile_ms, running_gateways, scratch_database

from gateway import credentials
from gateway.dbcodecs import init_connection
from gateway.demo.kuopio import KUOPIO_OPERATORS
from gateway.demo.run import DEMO_TENANT
from gtfs.tables import original_id

OPERATOR = KUOPIO_OPERATORS[0].operator_id
#: Where the demo's stops are: the clients pick stops near these points.
CENTRE = (62.8925, 27.6780)
WEIGHTS = {
    "journeys": 40,
    "departures": 12,
    "open data": 12,
    "purchase": 16,
    "ticket": 12,
    "realtime": 8,
}


@dataclass
class Tally:
    """Latencies per endpoint and errors per endpoint and status."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """What the clients share: the gateway, keys, stops and what was bought."""

    base: str
    maas: dict[str, str]
    operator: dict[str, str]
    stops: list[str]
    tally: Tally
    bookings: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)


class Failed(Exception):
    """An answer the mix did not expect (counted as an error, the client goes on)."""


async def _call(
    world: World,
    session: aiohttp.ClientSession,
    name: str,
    method: str,
    path: str,
    ok: int = 200,
    **kwargs: Any,
) -> Any:
    started = time.perf_counter()
    async with session.request(method, world.base + path, **kwargs) as resp:
        body = await resp.read()
        elapsed = time.perf_counter() - started
    world.tally.seconds[name].append(elapsed)
    if resp.status != ok:
        key = f"{name} {resp.status}"
        world.tally.errors[key] += 1
        world.tally.samples.setdefault(key, body[:300].decode(errors="replace"))
        raise Failed(key)
    is_json = resp.content_type.endswith("json")
    return orjson.loads(body) if is_json else body


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _when(minutes: int = 60) -> str:
    return quote((_now() + dt.timedelta(minutes=random.randrange(minutes))).isoformat(), safe=":-T")


async def _journeys(world: World, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
    origin, destination = random.sample(world.stops, 2)
    path = f"/v1/journeys?from={origin}&to={destination}&depart_at={_when()}"
    answer = await _call(world, session, "GET /v1/journeys", "GET", path)
    return list(answer["items"])


async def _departures(world: World, session: aiohttp.ClientSession) -> None:
    stop = random.choice(world.stops)
    path = f"/v1/stops/{stop}/departures?at={_when(30)}"
    await _call(world, session, "GET /v1/stops/{id}/departures", "GET", path)


async def _open_data(world: World, session: aiohttp.ClientSession) -> None:
    lat, lon = CENTRE[0] + random.uniform(-0.02, 0.02), CENTRE[1] + random.uniform(-0.04, 0.04)
    choice = random.choice(
        [
            ("GET /v1/stops?near", f"/v1/stops?near={lat:.5f},{lon:.5f}&radius_m=500"),
            ("GET /v1/operators", "/v1/operators"),
            ("GET /v1/routes", f"/v1/routes?operator={OPERATOR}"),
        ]
    )
    await _call(world, session, choice[0], "GET", choice[1])


async def _purchase(world: World, session: aiohttp.ClientSession) -> None:
    priced = [j for j in await _journeys(world, session) if j.get("offer_request")]
    if not priced:
        return
    request = random.choice(priced)["offer_request"]
    offer = await _call(
        world,
        session,
        "POST /v1/offers",
        "POST",
        "/v1/offers",
        201,
        json=request,
        headers=world.maas,
    )
    headers = world.maas | {"Idempotency-Key": str(uuid.uuid4())}
    booking = await _call(
        world,
        session,
        "POST /v1/bookings",
        "POST",
        "/v1/bookings",
        201,
        json={"offer_ids": [offer["id"]]},
        headers=headers,
    )
    path = f"/v1/bookings/{booking['id']}/confirm"
    confirmed = await _call(
        world, session, "POST /v1/bookings/{id}/confirm", "POST", path, headers=world.maas
    )
    world.bookings.append(confirmed["id"])
    world.tickets += [leg["ticket"]["id"] for leg in confirmed["legs"] if leg.get("ticket")]


async def _ticket(world: World, session: aiohttp.ClientSession) -> None:
    if not world.bookings:
        return
    booking = random.choice(world.bookings)
    path = f"/v1/bookings/{booking}"
    await _call(world, session, "GET /v1/bookings/{id}", "GET", path, headers=world.maas)
    if world.tickets:
        path = f"/v1/tickets/{random.choice(world.tickets)}/qr.svg"
        await _call(world, session, "GET /v1/tickets/{id}/qr.svg", "GET", path, headers=world.maas)


async def _realtime(world: World, session: aiohttp.ClientSession) -> None:
    """Push delays for the next departures of a random stop, as an operator's AVL would."""
    stop = random.choice([s for s in world.stops if s.startswith(OPERATOR + ":")])
    path = f"/v1/stops/{stop}/departures?limit=20"
    departures = await _call(world, session, "GET /v1/stops/{id}/departures", "GET", path)
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(time.time())
    for item in departures["items"]:
        if item["operator_id"] != OPERATOR:
            continue
        entity = message.entity.add()
        entity.id = item["trip_id"]
        update = entity.trip_update
        update.trip.trip_id = original_id(item["trip_id"])
        update.trip.start_date = item["service_day"].replace("-", "")
        stop_update = update.stop_time_update.add()
        stop_update.stop_id = original_id(item["stop_id"])
        stop_update.departure.delay = random.randrange(0, 300)
    await _call(
        world,
        session,
        "POST /v1/operators/{id}/realtime/trip-updates",
        "POST",
        f"/v1/operators/{OPERATOR}/realtime/trip-updates",
        data=message.SerializeToString(),
        headers=world.operator | {"Content-Type": "application/x-protobuf"},
    )


ACTIONS = {
    "journeys": _journeys,
    "departures": _departures,
    "open data": _open_data,
    "purchase": _purchase,
    "ticket": _ticket,
    "realtime": _realtime,
}


async def _client(world: World, session: aiohttp.ClientSession, until: float, seed: int) -> None:
    rng = random.Random(seed)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    while time.perf_counter() < until:
        action = ACTIONS[rng.choices(names, weights)[0]]
        try:
            await action(world, session)
        except Failed:
            pass
        except (aiohttp.ClientError, TimeoutError) as exc:
            world.tally.errors[f"connection {type(exc).__name__}"] += 1


async def _keys(url: str) -> tuple[str, str]:
    async with asyncpg.create_pool(url, min_size=1, max_size=1, init=init_connection) as pool:
        maas = await credentials.create_key(pool, "maas", "load app", tenant_id=DEMO_TENANT)
        operator = await credentials.create_key(pool, "operator", "load avl", OPERATOR)
    return maas, operator


async def _stops(base: str) -> list[str]:
    async with aiohttp.ClientSession() as session:
        lat, lon = CENTRE
        path = f"{base}/v1/stops?near={lat},{lon}&radius_m=3000&limit=200"
        async with session.get(path) as resp:
            return [s["id"] for s in (await resp.json())["items"]]


def _report(tally: Tally, elapsed: float, cpu: list[float], args: argparse.Namespace) -> None:
    requests = sum(len(v) for v in tally.seconds.values())
    load = os.getloadavg()
    print(
        f"load mix: {args.processes} gateway processes on one port, {args.clients} clients,"
        f" {elapsed:.0f} s; {dt.datetime.now(dt.UTC):%Y-%m-%d}, {platform.machine()},"
        f" {os.cpu_count()} cores,"
        f" load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(f"  {requests} requests, {requests / elapsed:.0f}/s, {sum(tally.errors.values())} errors")
    print(f"  {'endpoint':<48}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for name in sorted(tally.seconds):
        seconds = tally.seconds[name]
        print(
            f"  {name:<48}{len(seconds) / elapsed:>8.1f}{percentile_ms(seconds, 50):>9.1f}"
            f"{percentile_ms(seconds, 95):>9.1f}{percentile_ms(seconds, 99):>9.1f}"
        )
    purchases = len(tally.seconds.get("POST /v1/bookings/{id}/confirm", []))
    print(f"  purchases confirmed: {purchases} ({purchases / elapsed:.1f}/s)")
    for key, count in tally.errors.most_common():
        print(f"  error {key}: {count}  {tally.samples.get(key, '')[:160]!r}")
    shares = ", ".join(f"{c / elapsed:.0%}" for c in cpu)
    print(f"  CPU of one core per gateway process: {shares}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    async with scratch_database() as url:
        envs = [{"MAAS_DEMO": "true"}] + [{}] * (args.processes - 1)
        async with running_gateways(url, envs) as gateways:
            maas, operator = await _keys(url)
            world = World(
                base=gateways.base,
                maas={"Authorization": f"Bearer {maas}"},
                operator={"Authorization": f"Bearer {operator}"},
                stops=await _stops(gateways.base),
                tally=Tally(),
            )
            connector = aiohttp.TCPConnector(limit=args.clients)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                warm = time.perf_counter() + 5
                await asyncio.gather(*(_client(world, session, warm, i) for i in range(4)))
                world.tally = Tally()
                before = gateways.cpu_s()
                started = time.perf_counter()
                until = started + args.seconds
                await asyncio.gather(
                    *(_client(world, session, until, 100 + i) for i in range(args.clients))
                )
                elapsed = time.perf_counter() - started
                cpu = [b - a for a, b in zip(before, gateways.cpu_s(), strict=True)]
    _report(world.tally, elapsed, cpu, args)


if __name__ == "__main__":
    asyncio.run(main())
