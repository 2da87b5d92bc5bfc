"""Aggregate and export 1,000,000 trip records: a release against the GROUP BY a planner writes.

(Named trip_flows.py, not flows.py: run as a script, `flows.py` would be the module `flows`
and hide the package it measures; mypy could not check both either.)

A scratch database on the local PostgreSQL (MAAS_TEST_DATABASE_URL) gets the
Kuopio network (for its fare zones; `--feed`, relative to the repository) and
one period of synthetic trip records (`--records`, default 1,000,000, of a
tenth as many travellers, 10 trips each, skewed towards central zones).
Interleaved, in an order that alternates per round, each round times:

- the reference: a plain `GROUP BY origin, destination, hour` with `count(*)`
  over the same rows, fetched to the client (planned as PostgreSQL likes, with
  the schema's indexes);
- a release (fare zones x hour of day: cap, k-suppression, for the first one DP
  noise and the deletion of what it did not publish; storing the cells and the
  ledger entry), then loading it and writing the CSV of every cell of its grid.

Timed once per round too, for context: the same `count(*)` query kept off
indexes (a sequential scan of the heap), and
`count(*)` with `count(DISTINCT pseudonym)`, which a planner writing SQL by hand
would need to decide k.
Python's peak memory (tracemalloc) is taken in one more release, load and CSV
after the timed rounds (tracing every allocation slows the Python side several
times over, so it stays out of the timed rounds); the process's maximum RSS is
printed too. PostgreSQL's own memory is not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
from support import scratch_database  # bench/support.py, run as a script

from flows.config import FlowsConfig
from flows.exports import export
from flows.ledger import load_release
from flows.periods import ensure_period, parse_period
from flows.releases import ReleaseRequest, create_release
from gateway.dbcodecs import init_connection
from gateway.demo.run import demo_feed_path, import_demo
from gateway.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
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
_REFERENCE = (
    "SELECT origin_fare, destination_fare, hour, count(*) FROM flow_trip_records "
    "WHERE period = $1 GROUP BY 1, 2, 3"
)
_DISTINCT = (
    "SELECT origin_fare, destination_fare, hour, count(*), count(DISTINCT pseudonym) "
    "FROM flow_trip_records WHERE period = $1 GROUP BY 1, 2, 3"
)
_NO_INDEX = "SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; " + (
    "SET LOCAL enable_bitmapscan = off"
)


@dataclass
class Times:
    """What each round measured, in seconds."""

    reference: list[float] = field(default_factory=list)
    seq_scan: list[float] = field(default_factory=list)
    distinct: list[float] = field(default_factory=list)
    release: list[float] = field(default_factory=list)
    load_export: list[float] = field(default_factory=list)
    csv_bytes: int = 0

    def ours(self, i: int) -> float:
        """Return round i's release, load and export."""
        return self.release[i] + self.load_export[i]


async def _prepare(pool: asyncpg.Pool, feed: Path, records: int) -> None:
    async with pool.acquire() as conn:
        await migrate(conn)
    await import_demo(pool, feed)
    period = parse_period(PERIOD, CONFIG.timezone)
    async with pool.acquire() as conn, conn.transaction():
        await ensure_period(conn, period, CONFIG)
        await conn.execute("SELECT setseed(0.13)")
        await conn.execute(_GENERATE, PERIOD, records, records // 10, period.starts_at.date())
    await pool.execute("VACUUM ANALYZE flow_trip_records")


async def _ours(pool: asyncpg.Pool, times: Times, epsilon: float | None) -> None:
    started = time.perf_counter()
    ask = ReleaseRequest(PERIOD, "fare-zones", "hour", (), epsilon)
    release_id = await create_release(pool, ask, "bench", CONFIG)
    released = time.perf_counter()
    times.csv_bytes = len(export(await load_release(pool, release_id), "csv"))
    times.release.append(released - started)
    times.load_export.append(time.perf_counter() - released)


async def _reference(pool: asyncpg.Pool, times: Times) -> None:
    started = time.perf_counter()
    await pool.fetch(_REFERENCE, PERIOD)
    times.reference.append(time.perf_counter() - started)


async def _context(pool: asyncpg.Pool, times: Times) -> None:
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_NO_INDEX)
        await conn.fetch(_REFERENCE, PERIOD)
    times.seq_scan.append(time.perf_counter() - started)
    started = time.perf_counter()
    await pool.fetch(_DISTINCT, PERIOD)
    times.distinct.append(time.perf_counter() - started)


async def _round(pool: asyncpg.Pool, times: Times, round_: int) -> None:
    await _context(pool, times)
    epsilon = 0.5 if round_ == 0 else None
    if round_ % 2:
        await _ours(pool, times, epsilon)
        await _reference(pool, times)
    else:
        await _reference(pool, times)
        await _ours(pool, times, epsilon)


async def run(feed: Path, records: int, rounds: int) -> None:
    """Prepare the scratch database, time the rounds, print the figures."""
    async with (
        scratch_database() as url,
        asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection) as pool,
    ):
        await _prepare(pool, feed, records)
        times = Times()
        for round_ in range(rounds):
            await _round(pool, times, round_)
        # Peak memory in a round of its own: tracemalloc hooks every allocation and made the
        # Python side of a release (zones, cells, CSV) several times slower in timed rounds.
        traced = Times()
        tracemalloc.start()
        await _ours(pool, traced, None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        release = await pool.fetchrow(
            "SELECT cells_total, cells_published FROM flow_releases ORDER BY created_at LIMIT 1"
        )
        left = await pool.fetchval("SELECT count(*) FROM flow_trip_records")
    _report(times, records, rounds, (peak, traced.ours(0)), release, left)


def _runs(values: list[float]) -> str:
    runs = ", ".join(f"{t:.2f}" for t in values)
    return f"median {statistics.median(values):.3f} s (runs {runs})"


def _report(
    times: Times,
    records: int,
    rounds: int,
    traced: tuple[int, float],
    release: asyncpg.Record,
    left: int,
) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load}"
    )
    print(f"{records:,} trip records of {records // 10:,} travellers, {rounds} interleaved rounds")
    print(
        f"grid: {release['cells_total']:,} cells, {release['cells_published']:,} published; "
        f"CSV {times.csv_bytes / 1e6:.2f} MB; {left:,} records left after the first release"
    )
    print(f"reference GROUP BY od x hour, count(*): {_runs(times.reference)}")
    print(f"  the same kept off indexes (sequential scan): {_runs(times.seq_scan)}")
    print(f"  with count(DISTINCT pseudonym) too: {_runs(times.distinct)}")
    ours = [times.ours(i) for i in range(rounds)]
    ratios = [o / r for o, r in zip(ours, times.reference, strict=True)]
    alone = [r / ref for r, ref in zip(times.release, times.reference, strict=True)]
    print(
        f"first release (DP) + load + CSV: {ours[0]:.3f} s "
        f"= {ratios[0]:.2f}x the reference of its round (release alone {alone[0]:.2f}x)"
    )
    if rounds > 1:
        print(
            f"later releases + load + CSV: {_runs(ours[1:])} "
            f"= median {statistics.median(ratios[1:]):.2f}x the reference of their round"
        )
        print(
            f"later releases alone: {_runs(times.release[1:])} "
            f"= median {statistics.median(alone[1:]):.2f}x the reference of their round"
        )
    print(
        f"of which release (SQL, noise, storing): {_runs(times.release)}; "
        f"load + CSV: {_runs(times.load_export)}"
    )
    peak, traced_s = traced
    print(
        f"Python peak (tracemalloc, one more release + load + CSV, {traced_s:.3f} s traced) "
        f"{peak / 2**20:.1f} MiB; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feed", type=Path, default=None, help="GTFS zip, relative to the repo")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    feed = demo_feed_path() if args.feed is None else ROOT / args.feed
    asyncio.run(run(feed, args.records, args.rounds))


if __name__ == "__main__":
    main()
