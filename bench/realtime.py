"""Benchmark: GTFS-Realtime TripUpdates parse + apply, and vehicle positions ingest rate.

Prints figures (median of several runs) next to the raw protobuf parse time of
the same bytes as the reference, the two run alternately in the same run (ratios
are medians of per-pair ratios). Never asserts.
The HTTP part starts `maas serve` on a scratch database of the local PostgreSQL
(MAAS_TEST_DATABASE_URL) and Redis (MAAS_TEST_REDIS_URL) and pushes the King
County sample to `POST /v1/operators/{id}/realtime/vehicle-positions`.
The static feed (default `../shared/data/gtfs/vilnius.zip`, relative to the
repository) is imported the real way (`prepare_feed`: validation, namespaced
ids, interpolated times), and the TripUpdates are synthesised for its trips.
What each TripUpdates step includes:
  raw protobuf parse      `FeedMessage().ParseFromString` of the bytes, nothing else;
  parse + apply           `read_trip_updates(..., with_entities=False)`: the bindings' parse
                          (what validates; the header for the report), the compiled read of
                          the wire format, trips and stops resolved, matching, delay
                          propagation, the overlay of `TripRealtime`s and the report;
  + stored entities       the same plus each trip's namespaced FeedEntity bytes for the
                          merged feed (`read_trip_updates` as the gateway calls it).
Both are also timed in CPU time of the thread (`time.thread_time`), interleaved likewise:
on a machine others load, wall times swing with preemption, a 2.5 ms reference most.
The first call (outside the timings) compiles the readers or loads them from numba's cache.
Run: .venv/bin/python bench/realtime.py [FEED.zip] [--vehicles FILE.pb] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
import numpy as np
import pandas as pd
from google.transit import gtfs_realtime_pb2
from support import running_gateway, scratch_database, wait_ready

from gateway import credentials
from gateway.migrate import migrate
from gtfs.feed.prepare import prepare_feed
from gtfs.realtime.read import build_trip_schedules, read_trip_updates, read_vehicle_positions
from gtfs.realtime.schedule import TripSchedules, service_day_start_s
from gtfs.tables import original_id

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
UPDATES = 60_000
RUNS = 21
HTTP_CLIENTS = 8
PUSHES = int(os.environ.get("BENCH_PUSHES", "400"))
OPERATOR = "bench-bus"


def synthesise_trip_updates(
    schedules: TripSchedules, day: dt.date, n_updates: int, seed: int = 1
) -> bytes:
    """A FeedMessage updating every stop (sequence and id) of random trips, n_updates in all."""
    rng = np.random.default_rng(seed)
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(time.time())
    day_start_s = service_day_start_s(day, schedules.zones[0])
    stop_ids = [original_id(stop_id) for stop_id in schedules.stop_codes]
    count = 0
    for trip in rng.permutation(len(schedules.trip_ids)).tolist():
        if count >= n_updates:
            break
        entity = message.entity.add()
        entity.id = f"tu-{trip}"
        trip_update = entity.trip_update
        trip_update.trip.trip_id = original_id(schedules.trip_ids[trip])
        trip_update.trip.start_date = day.strftime("%Y%m%d")
        delay_s = int(rng.integers(-60, 600))
        for row in range(int(schedules.row_start[trip]), int(schedules.row_end[trip])):
            if count >= n_updates:
                break
            update = trip_update.stop_time_update.add()
            update.stop_sequence = int(schedules.stop_sequence[row])
            update.stop_id = stop_ids[int(schedules.stop_code[row])]
            if row % 3 == 0:
                update.arrival.time = day_start_s + int(schedules.arrival_s[row]) + delay_s
                update.departure.time = day_start_s + int(schedules.departure_s[row]) + delay_s
            else:
                update.arrival.delay = delay_s
            if row % 17 == 0:
                update.schedule_relationship = update.SKIPPED
            count += 1
    return message.SerializeToString()


def timings_ms(
    action: Callable[[], object], runs: int = RUNS, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Times of `action` in milliseconds by `clock` (wall by default), one per run."""
    times = []
    for _ in range(runs):
        start = clock()
        action()
        times.append((clock() - start) * 1000)
    return times


def interleaved_ms(
    reference: Callable[[], object],
    measured: Callable[[], object],
    runs: int = RUNS,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Times of the reference and the measured action, run alternately, in ms."""
    ref: list[float] = []
    got: list[float] = []
    for _ in range(runs):
        ref.extend(timings_ms(reference, 1, clock))
        got.extend(timings_ms(measured, 1, clock))
    return ref, got


def ratio(ref: list[float], got: list[float]) -> float:
    """Median of the per-pair ratios of interleaved timings: load hits both sides alike."""
    return statistics.median(g / r for r, g in zip(ref, got, strict=True))


def p95_ms(times: list[float]) -> float:
    """The 95th percentile of some timings."""
    return float(np.percentile(times, 95))


def raw_parse(data: bytes) -> None:
    """The reference: decode the bytes with the bindings and nothing else."""
    gtfs_realtime_pb2.FeedMessage().ParseFromString(data)


def first_monday(calendar: pd.DataFrame) -> dt.date:
    """Return the first Monday on or after the earliest start of the feed's calendar."""
    day = dt.datetime.strptime(str(calendar["start_date"].min()), "%Y%m%d").date()  # noqa: DTZ007
    return day + dt.timedelta(days=-day.weekday() % 7)


def bench_trip_updates(feed_path: Path, runs: int) -> None:
    operator = "bench"
    tables = prepare_feed(feed_path, operator).tables
    start = time.perf_counter()
    schedules = build_trip_schedules(tables)
    build_ms = (time.perf_counter() - start) * 1000
    data = synthesise_trip_updates(schedules, first_monday(tables.calendar), UPDATES)
    now_s = int(time.time())
    feed = read_trip_updates(data, operator, schedules, now_s=now_s, with_entities=False)
    print(
        f"TripUpdates: {UPDATES} stop-time updates, {len(feed.overlay)} trips, {len(data)} bytes,"
        f" {runs} interleaved pairs"
    )
    print(f"  schedules index (per snapshot):  {build_ms:.0f} ms")
    raw, times = interleaved_ms(
        lambda: raw_parse(data),
        lambda: read_trip_updates(data, operator, schedules, now_s=now_s, with_entities=False),
        runs,
    )
    print(f"  raw protobuf parse (reference):  {statistics.median(raw):.1f} ms")
    print(
        f"  parse + apply to overlay:        {statistics.median(times):.1f} ms"
        f" ({ratio(raw, times):.1f}x raw, interleaved), p95 {p95_ms(times):.1f} ms"
    )
    raw, full = interleaved_ms(
        lambda: raw_parse(data),
        lambda: read_trip_updates(data, operator, schedules, now_s=now_s),
        runs,
    )
    print(
        f"  parse + apply + stored entities: {statistics.median(full):.1f} ms"
        f" ({ratio(raw, full):.1f}x raw, interleaved)"
    )
    # CPU time of this thread (numba runs in it): what the other processes' load hides.
    for label, with_entities in (("parse + apply", False), ("+ stored entities", True)):
        raw, cpu = interleaved_ms(
            lambda: raw_parse(data),
            lambda e=with_entities: read_trip_updates(  # type: ignore[misc]
                data, operator, schedules, now_s=now_s, with_entities=e
            ),
            runs,
            time.thread_time,
        )
        print(
            f"  {label}, CPU time: {statistics.median(cpu):.1f} ms against"
            f" {statistics.median(raw):.1f} ms ({ratio(raw, cpu):.1f}x raw, interleaved)"
        )


def bench_vehicle_positions(vehicles: Path) -> None:
    data = vehicles.read_bytes()
    feed = read_vehicle_positions(
        data, "kcm", known_trip_ids=frozenset(), known_stop_ids=frozenset(), now_s=0
    )
    n = len(feed.positions)
    raw, ingest = interleaved_ms(
        lambda: raw_parse(data),
        lambda: read_vehicle_positions(
            data, "kcm", known_trip_ids=frozenset(), known_stop_ids=frozenset(), now_s=0
        ),
        runs=31,
    )
    raw_ms, ingest_ms = statistics.median(raw), statistics.median(ingest)
    print(f"VehiclePositions: King County sample, {n} vehicles, {len(data)} bytes")
    print(
        f"  raw protobuf parse (reference): {raw_ms:.2f} ms = {n / raw_ms * 1000:,.0f} entities/s"
    )
    print(f"  parse + map to dataclasses:     {ingest_ms:.2f} ms = {n / ingest_ms * 1000:,.0f} /s")


async def _prepare(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO operators (id, name) VALUES ($1, 'Bench Bus')", OPERATOR)
    finally:
        await conn.close()
    async with asyncpg.create_pool(url, min_size=1, max_size=1) as pool:
        return await credentials.create_key(pool, "operator", "bench operator", OPERATOR)


async def _push_all(
    session: aiohttp.ClientSession, base: str, key: str, data: bytes, total: int
) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    url = f"{base}/v1/operators/{OPERATOR}/realtime/vehicle-positions"
    remaining = iter(range(total))
    latencies: list[float] = []

    async def client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            async with session.post(url, data=data, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"push failed: {resp.status} {await resp.text()}")
                await resp.read()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(HTTP_CLIENTS)))
    return time.perf_counter() - started, latencies


async def bench_http_ingest(data: bytes) -> None:
    """Print vehicle positions ingested per second over HTTP, with push latencies."""
    vehicles = len(gtfs_realtime_pb2.FeedMessage.FromString(data).entity)
    async with scratch_database() as url:
        key = await _prepare(url)
        async with running_gateway(url) as base:
            await wait_ready(base, timetable=True)  # pushes need the (empty) timetable
            connector = aiohttp.TCPConnector(limit=HTTP_CLIENTS)
            async with aiohttp.ClientSession(connector=connector) as session:
                await _push_all(session, base, key, data, 20)  # warm-up: connections, caches
                elapsed, latencies = await _push_all(session, base, key, data, PUSHES)
    latencies.sort()
    print(
        f"VehiclePositions over HTTP: {HTTP_CLIENTS} clients,"
        f" {PUSHES} pushes of {vehicles} vehicles"
    )
    print(f"  pushes/s   {PUSHES / elapsed:9.1f}")
    print(f"  vehicles/s {PUSHES * vehicles / elapsed:9,.0f}")
    print(f"  p50        {statistics.median(latencies) * 1000:9.1f} ms")
    print(f"  p99        {latencies[int(len(latencies) * 0.99) - 1] * 1000:9.1f} ms")


def main() -> None:
    machine = platform.processor() or platform.machine()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine}")
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("feed", nargs="?", type=Path, default=DATA / "gtfs" / "vilnius.zip")
    parser.add_argument(
        "--vehicles", type=Path, default=DATA / "gtfs-rt" / "king-county-vehicle-positions.pb"
    )
    parser.add_argument("--runs", type=int, default=RUNS, help="TripUpdates pairs per step")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench_trip_updates(args.feed, args.runs)
    bench_vehicle_positions(args.vehicles)
    asyncio.run(bench_http_ingest(args.vehicles.read_bytes()))


if __name__ == "__main__":
    main()
