"""Operators' GTFS-Realtime URLs in PostgreSQL (behind `/v1/operators/{id}/realtime-sources`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import asyncpg

FeedKind = Literal["vehicle-positions", "trip-updates", "alerts"]
FEED_KINDS: tuple[FeedKind, ...] = ("vehicle-positions", "trip-updates", "alerts")

_COLUMNS = "operator_id, vehicle_positions_url, trip_updates_url, alerts_url, poll_interval_s"


@dataclass(frozen=True, slots=True)
class RealtimeSources:
    """Where an operator publishes its GTFS-Realtime feeds and how often to poll them."""

    operator_id: str
    vehicle_positions_url: str | None
    trip_updates_url: str | None
    alerts_url: str | None
    poll_interval_s: float
    updated_at: dt.datetime | None = None

    def url(self, kind: FeedKind) -> str | None:
        """Return the URL of one feed kind, or None when it is not polled."""
        return {
            "vehicle-positions": self.vehicle_positions_url,
            "trip-updates": self.trip_updates_url,
            "alerts": self.alerts_url,
        }[kind]


async def put_sources(pool: asyncpg.Pool, sources: RealtimeSources) -> RealtimeSources:
    """Insert or replace an operator's realtime sources."""
    row = await pool.fetchrow(
        f"INSERT INTO realtime_sources ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (operator_id) DO UPDATE SET"
        " vehicle_positions_url = EXCLUDED.vehicle_positions_url,"
        " trip_updates_url = EXCLUDED.trip_updates_url, alerts_url = EXCLUDED.alerts_url,"
        " poll_interval_s = EXCLUDED.poll_interval_s, updated_at = now()"
        f" RETURNING {_COLUMNS}, updated_at",
        sources.operator_id,
        sources.vehicle_positions_url,
        sources.trip_updates_url,
        sources.alerts_url,
        sources.poll_interval_s,
    )
    return RealtimeSources(**dict(row))


async def find_sources(pool: asyncpg.Pool, operator_id: str) -> RealtimeSources | None:
    """Return an operator's realtime sources, or None when none are configured."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, updated_at FROM realtime_sources WHERE operator_id = $1", operator_id
    )
    return RealtimeSources(**dict(row)) if row is not None else None


async def list_sources(pool: asyncpg.Pool) -> list[RealtimeSources]:
    """Return every operator's realtime sources that name at least one URL."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS}, updated_at FROM realtime_sources"
        " WHERE coalesce(vehicle_positions_url, trip_updates_url, alerts_url) IS NOT NULL"
        " ORDER BY operator_id"
    )
    return [RealtimeSources(**dict(r)) for r in rows]
