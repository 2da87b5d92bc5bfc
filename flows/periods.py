"""Periods: calendar months in the flows' time zone, each with a key, a budget and a partition."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from flows.config import FlowsConfig
from flows.pseudonyms import new_key

_PERIOD = re.compile(r"^([0-9]{4})-([0-9]{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """A month: its name (`2026-11`) and where it starts and ends."""

    name: str
    starts_at: datetime
    ends_at: datetime


def period_of(moment: datetime, tz: ZoneInfo) -> Period:
    """Return the period a moment falls in (by local date)."""
    local = moment.astimezone(tz)
    return parse_period(f"{local.year:04d}-{local.month:02d}", tz)


def parse_period(name: str, tz: ZoneInfo) -> Period:
    """Return the period named `YYYY-MM` (ValueError when it is not one)."""
    match = _PERIOD.match(name)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"{name!r} is not a period (YYYY-MM)")
    year, month = int(match[1]), int(match[2])
    if not 1000 <= year <= 9998:
        raise ValueError(f"{name!r} is outside the years 1000-9998")
    following = date(year + month // 12, month % 12 + 1, 1)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(following.year, following.month, 1, tzinfo=tz)
    return Period(name, start, end)


def partition_name(period: str) -> str:
    """Return the name of a period's partition of the trip records."""
    if _PERIOD.match(period) is None:
        raise ValueError(f"{period!r} is not a period")
    return "flow_trip_records_" + period.replace("-", "_")


async def ensure_period(conn: asyncpg.Connection, period: Period, config: FlowsConfig) -> None:
    """Create the period's row, key and partition once (safe under concurrent callers)."""
    inserted = await conn.fetchval(
        """INSERT INTO flow_periods (period, starts_at, ends_at, budget_epsilon)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
        period.name,
        period.starts_at,
        period.ends_at,
        config.budget_epsilon,
    )
    if not inserted:
        return
    await conn.execute(
        "INSERT INTO flow_period_keys (period, key) VALUES ($1, $2)", period.name, new_key()
    )
    # The name is built from a validated YYYY-MM, and the value is a literal of it.
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {partition_name(period.name)} "
        f"PARTITION OF flow_trip_records FOR VALUES IN ('{period.name}')"
    )
