"""The flows background job: travel states and trip records, key destruction, retention.

Each run is a few short transactions and safe in any number of processes at
once: the state change and the record it makes are one transaction, and rows
already moved are not moved again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from flows.bookings import record_finished_booking
from flows.config import FlowsConfig
from flows.periods import partition_name
from flows.zones import load_districts
from sales.travel import advance_travel_states


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one run did."""

    started: int
    finished: int
    recorded: int
    keys_destroyed: int
    periods_purged: int


async def record_travel(pool: asyncpg.Pool, config: FlowsConfig, now: datetime) -> tuple[int, ...]:
    """Advance travel states; every newly finished booking may become a trip record."""
    districts = await load_districts(pool)
    async with pool.acquire() as conn, conn.transaction():
        moved = await advance_travel_states(conn, now)
        recorded = 0
        for booking in moved:
            if booking.status == "FINISHED":
                recorded += await record_finished_booking(
                    conn, booking.booking_id, districts, config
                )
    finished = sum(m.status == "FINISHED" for m in moved)
    return len(moved) - finished, finished, recorded


async def destroy_keys(pool: asyncpg.Pool, config: FlowsConfig, now: datetime) -> int:
    """Delete the pseudonym keys of periods released longer ago than the grace time."""
    async with pool.acquire() as conn, conn.transaction():
        periods = await conn.fetch(
            """UPDATE flow_periods SET key_destroyed_at = $1
               WHERE released_at IS NOT NULL AND released_at + $2::interval <= $1
                 AND key_destroyed_at IS NULL RETURNING period""",
            now,
            config.key_grace,
        )
        await conn.execute(
            "DELETE FROM flow_period_keys WHERE period = ANY($1)", [p["period"] for p in periods]
        )
    return len(periods)


async def purge_records(pool: asyncpg.Pool, config: FlowsConfig, now: datetime) -> int:
    """Drop the trip records of periods released longer ago than the retention."""
    async with pool.acquire() as conn, conn.transaction():
        periods = await conn.fetch(
            """UPDATE flow_periods SET purged_at = $1
               WHERE released_at IS NOT NULL AND released_at + $2::interval <= $1
                 AND purged_at IS NULL RETURNING period""",
            now,
            config.retention,
        )
        for row in periods:
            await conn.execute(f"DROP TABLE IF EXISTS {partition_name(row['period'])}")
            await conn.execute("DELETE FROM flow_trip_counts WHERE period = $1", row["period"])
    return len(periods)


async def run_once(pool: asyncpg.Pool, config: FlowsConfig, now: datetime) -> RunReport:
    """Run every step of the job once."""
    started, finished, recorded = await record_travel(pool, config, now)
    return RunReport(
        started,
        finished,
        recorded,
        await destroy_keys(pool, config, now),
        await purge_records(pool, config, now),
    )
