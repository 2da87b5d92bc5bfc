"""Aggregate and export 1,000,000 trip records: a release against a plain SQL GROUP BY.

(Named trip_flows.py, not flows.py: run as a script, `flows.py` would be the module `flows`
and hide the package it measures; mypy could not check both either.)

A scratch database on the local PostgreSQL (MAAS_TEST_DATABASE_URL) gets the
Kuopio network (for its fare zones) and one period of 1,000,000 synthetic trip
records of 100,000 travellers (10 trips each, skewed towards central zones).
Interleaved, each round times:

- the reference: a plain `GROUP BY origin, destination, hour` with `count(*)` of
  the same rows, fetched to the client;
- the same GROUP BY with `count(DISTINCT pseudonym)` (what k-anonymity needs);
- a release (fare zones x hour of day: cap, distinct travellers, k-suppression,
  for the first one DP noise, storing the cells and the ledger entry), then
  loading it and writing the CSV of every cell of its grid.

The first release of a period fixes its trips; later ones also check each trip
against the first one's cells, so round 1 and rounds 2+ are shown apart.
Python's peak memory (tracemalloc) covers the releases and exports; the
process's maximum RSS is printed too. PostgreSQL's own memory is not measured.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
from support import scratch_database  # bench/support.py, run as a script

from flows.config import FlowsConfig
from flows.exports import export
from flows.ledger import load_release
from flows.periods import ensure_period, parse_period
from flows.releases import ReleaseRequest, create_release
from gateway.demo.run import demo_feed_path, import_demo
from gateway.migrate import migrate
from gateway.resources import init_connection

RECORDS = int(os.environ.get("BENCH_FLOW_RECORDS", "1000000"))
TRAVELLERS = RECORDS // 10
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PERIOD = "2025-03"
CONFIG = FlowsConfig(close_after=timedelta(0))

_GENERATE = """
WITH zones AS (
    SELECT array_agg(zone_id ORDER BY zone_id) AS z FROM (
        SELECT DISTINCT s.zone_id FROM gtfs_stops s
        JOIN feed_versions v ON v.id = s.feed_version_id AND v.is_current
        WHERE s.zone_id IS NOT NULL) q
)
INSERT INTO flow_trip_records (period, pseudonym, seq, origin_fare, destination_fare,
    origin_h3, destination_h3, service_date, hour, mode_key, operator_key, modes, operators,
    legs, synthetic)
SELECT $1, sha256(int8send(g % $3)), g / $3 + 1,
       z[1 + floor(cardinality(z) * random() ^ 2)::int],
       z[1 + floor(cardinality(z) * random() ^ 2)::int],
       617733122422996991, 617733122422996991,
       $4::date + (g % 31)::int, (6 + floor(14 * random()))::int % 24,
       'bus', 'kuopion-liikenne', '{bus}', '{kuopion-liikenne}', 1, true
FROM zones, generate_series(0, $2 - 1) AS g
"""
_PLAIN = (
    "SELECT origin_fare, destination_fare, hour, count(*) FROM flow_trip_records "
    "WHERE period = $1 GROUP BY 1, 2, 3"
)
_DISTINCT = (
    "SELECT origin_fare, destination_fare, hour, count(*), count(DISTINCT pseudonym) "
    "FROM flow_trip_records WHERE period = $1 GROUP BY 1, 2, 3"
)


async def _prepare(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await migrate(conn)
    await import_demo(pool, demo_feed_path())
    period = parse_period(PERIOD, CONFIG.timezone)
    async with pool.acquire() as conn, conn.transaction():
        await ensure_period(conn, period, CONFIG)
        await conn.execute("SELECT setseed(0.13)")
        await conn.execute(_GENERATE, PERIOD, RECORDS, TRAVELLERS, period.starts_at.date())
    await pool.execute("VACUUM ANALYZE flow_trip_records")


async def _timed(step: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def _release_and_export(pool: asyncpg.Pool, epsilon: float | None) -> int:
    ask = ReleaseRequest(PERIOD, "fare-zones", "hour", (), epsilon)
    release = await load_release(pool, await create_release(pool, ask, "bench", CONFIG))
    return len(export(release, "csv"))


async def main() -> None:
    async with (
        scratch_database() as url,
        asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool,
    ):
        await _prepare(pool)
        plain, distinct, releases = [], [], []
        csv_bytes = 0
        tracemalloc.start()
        for round_ in range(ROUNDS):
            plain.append(await _timed(lambda: pool.fetch(_PLAIN, PERIOD)))
            epsilon = 0.5 if round_ == 0 else None
            started = time.perf_counter()
            csv_bytes = await _release_and_export(pool, epsilon)
            releases.append(time.perf_counter() - started)
            distinct.append(await _timed(lambda: pool.fetch(_DISTINCT, PERIOD)))
        peak = tracemalloc.get_traced_memory()[1]
        release_row = await pool.fetchrow(
            "SELECT cells_total, cells_published FROM flow_releases ORDER BY created_at LIMIT 1"
        )
    _report(plain, distinct, releases, csv_bytes, peak, release_row)


def _report(
    plain: list[float],
    distinct: list[float],
    releases: list[float],
    csv_bytes: int,
    peak: int,
    release: asyncpg.Record,
) -> None:
    later = releases[1:] or releases
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{RECORDS:,} trip records of {TRAVELLERS:,} travellers, {ROUNDS} interleaved rounds")
    print(
        f"grid: {release['cells_total']:,} cells, {release['cells_published']:,} published; "
        f"CSV {csv_bytes / 1e6:.1f} MB"
    )
    print(
        f"plain GROUP BY count(*) (reference): median {statistics.median(plain):.3f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in plain)})"
    )
    print(f"GROUP BY with count(DISTINCT pseudonym): median {statistics.median(distinct):.3f} s")
    print(
        f"first release (DP) + export: {releases[0]:.3f} s "
        f"= {releases[0] / plain[0]:.2f}x the reference of its round"
    )
    ratios = [r / p for r, p in zip(releases[1:], plain[1:], strict=True)] or [0.0]
    print(
        f"later releases + export: median {statistics.median(later):.3f} s "
        f"= {statistics.median(ratios):.2f}x the reference (per round)"
    )
    print(
        f"Python peak (tracemalloc) {peak / 2**20:.1f} MiB; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
