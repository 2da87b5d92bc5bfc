"""The trip-flows demo: a month of synthetic trips of consenting demo travellers, one release.

Demo travellers of the demo app consent (with receipts, as any traveller would),
then commute between a home and a work stop of the Kuopio network on weekdays
and travel now and then at weekends. Their trips are reduced to records by the
same code as a finished booking's, marked synthetic, and the last closed month
gets a first release (hour of day on fare zones, with differential privacy), so
the flow map has something real to show. Idempotent: a released month is kept.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg

from flows import consent
from flows.config import FlowsConfig
from flows.periods import Period, period_of
from flows.records import Place, Trip, record_trips
from flows.releases import ReleaseRequest, create_release
from flows.zones import load_districts
from gateway.demo.kuopio import KUOPIO_OPERATORS

DEMO_TENANT = "demo-app"
TRAVELLERS = 800
CENTRE = (62.8925, 27.6780)
#: The period's first release fixes its trips: hour of day is the finest bucket planners use.
FIRST_RELEASE = ReleaseRequest("", "fare-zones", "hour", ("operator",), 0.5)
_STOPS = """
SELECT s.operator_id, s.zone_id, s.stop_lat, s.stop_lon FROM gtfs_stops s
JOIN feed_versions v ON v.id = s.feed_version_id AND v.is_current
WHERE s.stop_lat IS NOT NULL AND s.operator_id = ANY($1)
"""


def last_closed_period(now: datetime, config: FlowsConfig) -> Period:
    """Return the latest month that can be released at `now`."""
    period = period_of(now, config.timezone)
    while now < period.ends_at + config.close_after:
        period = period_of(period.starts_at - timedelta(days=1), config.timezone)
    return period


def _distance2(stop: tuple[str, Place]) -> float:
    place = stop[1]
    return (place.lat - CENTRE[0]) ** 2 + ((place.lon - CENTRE[1]) * 0.46) ** 2


def synthetic_trips(stops: list[tuple[str, Place]], period: Period, seed: int = 7) -> list[Trip]:
    """Return a month of commutes and weekend trips of the demo travellers."""
    rng = random.Random(seed)  # noqa: S311  (synthetic data, reproducible, not secret)
    central = sorted(stops, key=_distance2)[: max(20, len(stops) // 10)]
    trips: list[Trip] = []
    days = (period.ends_at.date() - period.starts_at.date()).days
    for n in range(TRAVELLERS):
        ref = f"demo-traveller-{n:04d}"
        home, work = rng.choice(stops), rng.choice(central)
        leave, back = rng.choice((6, 7, 7, 8, 8, 9)), rng.choice((15, 16, 16, 17, 17, 18))
        for day in range(days):
            start = period.starts_at + timedelta(days=day)
            if start.weekday() < 5 and rng.random() < 0.8:
                trips.append(
                    _trip(ref, home, work, start.replace(hour=leave, minute=rng.randrange(60)))
                )
                trips.append(
                    _trip(ref, work, home, start.replace(hour=back, minute=rng.randrange(60)))
                )
            elif start.weekday() >= 5 and rng.random() < 0.3:
                there = rng.choice(central)
                trips.append(_trip(ref, home, there, start.replace(hour=rng.randrange(10, 20))))
    return trips


def _trip(
    ref: str, origin: tuple[str, Place], destination: tuple[str, Place], at: datetime
) -> Trip:
    operators = (origin[0],) if origin[0] == destination[0] else (origin[0], destination[0])
    return Trip(
        tenant_id=DEMO_TENANT,
        traveller_ref=ref,
        origin=origin[1],
        destination=destination[1],
        departure=at,
        modes=("bus",) * len(operators),
        operators=operators,
        legs=len(operators),
        synthetic=True,
    )


async def _consent(pool: asyncpg.Pool, config: FlowsConfig) -> None:
    have = {
        r["traveller_ref"]
        for r in await pool.fetch(
            "SELECT traveller_ref FROM flow_consents WHERE tenant_id = $1", DEMO_TENANT
        )
    }
    refs = [f"demo-traveller-{n:04d}" for n in range(TRAVELLERS)]
    missing = [ref for ref in refs if ref not in have]
    await consent.grant_all(pool, config.controller, DEMO_TENANT, missing, "trip-statistics")


async def ensure_demo_flows(pool: asyncpg.Pool, config: FlowsConfig) -> uuid.UUID | None:
    """Record the last closed month's synthetic trips and release it once; return the release."""
    period = last_closed_period(datetime.now(UTC), config)
    base = await pool.fetchval(
        "SELECT base_release_id FROM flow_periods WHERE period = $1", period.name
    )
    if base is not None:
        return uuid.UUID(str(base))
    rows = await pool.fetch(_STOPS, [op.operator_id for op in KUOPIO_OPERATORS])
    if not rows:
        return None
    stops = [(r["operator_id"], Place(r["zone_id"], r["stop_lat"], r["stop_lon"])) for r in rows]
    await _consent(pool, config)
    districts = await load_districts(pool)
    async with pool.acquire() as conn, conn.transaction():
        # A start that stopped before its release left this month's trips: record them once.
        recorded = await conn.fetchval(
            "SELECT count(*) FROM flow_trip_records WHERE period = $1 AND synthetic", period.name
        )
        if not recorded:
            await record_trips(conn, synthetic_trips(stops, period), districts, config)
    ask = replace(FIRST_RELEASE, period=period.name)
    return await create_release(pool, ask, "demo", config)


def flows_banner(base_url: str, planner_key: str, release_id: uuid.UUID | None) -> list[str]:
    """Return the banner's lines about trip flows."""
    if release_id is None:
        return ["Trip flows: no demo network, so no synthetic trips."]
    auth = f"Authorization: Bearer {planner_key}"
    return [
        "Trip flows (a month of synthetic trips of consenting demo travellers):",
        f"  curl -H '{auth}' {base_url}/v1/flows/ledger",
        f"  curl -H '{auth}' -H 'Accept: text/csv' {base_url}/v1/flows/releases/{release_id}",
        f"Flow map: {base_url}/map/flows#key={planner_key}&release={release_id}",
    ]
