"""Helpers of the flows tests: unique past periods, Kuopio places per fare zone, trips."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

import asyncpg

from flows.config import FlowsConfig
from flows.periods import parse_period
from flows.records import Place, Trip, record_trip
from flows.zones import load_districts

#: Tests share one database per run, so each takes months no other test uses.
_MONTHS = itertools.count(random.Random().randrange(0, 600))
TEST_CONFIG = FlowsConfig(close_after=timedelta(0))
BUS = "kuopion-liikenne"


def unique_period() -> str:
    """Return a month of the 20th century that no other test of this run uses."""
    n = next(_MONTHS) % 1200
    return f"{1900 + n // 12:04d}-{n % 12 + 1:02d}"


async def places_by_zone(pool: asyncpg.Pool) -> dict[str, Place]:
    """Return one real Kuopio stop per fare zone letter (A to D), of whichever operator."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (right(s.zone_id, 1)) s.zone_id, s.stop_lat, s.stop_lon
           FROM gtfs_stops s JOIN feed_versions v ON v.id = s.feed_version_id AND v.is_current
           WHERE s.zone_id ~ '^[a-z-]+:[A-D]$' ORDER BY right(s.zone_id, 1), s.stop_id"""
    )
    return {r["zone_id"][-1]: Place(r["zone_id"], r["stop_lat"], r["stop_lon"]) for r in rows}


def at(period: str, day: int, hour: int, config: FlowsConfig = TEST_CONFIG) -> datetime:
    """Return a local time in a period."""
    start = parse_period(period, config.timezone).starts_at
    return start.replace(day=day, hour=hour, minute=17)


def trip(
    traveller: str,
    origin: Place,
    destination: Place,
    departure: datetime,
    tenant: str = "app-a",
    operators: tuple[str, ...] = ("kuopion-liikenne",),
) -> Trip:
    """Return a one-leg bus trip of a traveller."""
    return Trip(
        tenant_id=tenant,
        traveller_ref=traveller,
        origin=origin,
        destination=destination,
        departure=departure,
        modes=("bus",) * len(operators),
        operators=operators,
        legs=len(operators),
    )


async def record_all(
    pool: asyncpg.Pool, trips: list[Trip], config: FlowsConfig = TEST_CONFIG
) -> int:
    """Record trips as finished bookings would be; return how many were recorded."""
    districts = await load_districts(pool)
    recorded = 0
    async with pool.acquire() as conn, conn.transaction():
        for one in trips:
            recorded += await record_trip(conn, one, districts, config)
    return recorded


def crowd(
    prefix: str, count: int, origin: Place, destination: Place, departure: datetime
) -> list[Trip]:
    """Return one trip each of `count` travellers named prefix-0, prefix-1, ..."""
    return [trip(f"{prefix}-{i}", origin, destination, departure) for i in range(count)]


def zone(place: Place) -> str:
    """Return a test place's fare zone (every Kuopio place has one)."""
    assert place.zone_id is not None
    return place.zone_id
