"""Trip records: what one travelled journey leaves behind, with zones instead of places.

A record holds the origin and destination zone in every zone system, the local
date and hour of the departure, modes, operators, the number of legs and a
pseudonym; never a stop, a coordinate, an exact time or a booking id. Demo
trips go through `record_trip` too, marked synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
import h3

from flows.config import FlowsConfig
from flows.periods import ensure_period, period_of
from flows.pseudonyms import pseudonym
from flows.zones import OTHER, Districts, district_of

H3_RESOLUTION = 8
NO_FARE_ZONE = OTHER
MULTIMODAL = "multimodal"
SEVERAL_OPERATORS = "several"


@dataclass(frozen=True, slots=True)
class Place:
    """A stop as the record maker sees it: its fare zone and where it is."""

    zone_id: str | None
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Trip:
    """A finished journey of a traveller, before it is reduced to a record."""

    tenant_id: str
    traveller_ref: str
    origin: Place
    destination: Place
    departure: datetime
    modes: tuple[str, ...]
    operators: tuple[str, ...]
    legs: int
    synthetic: bool = False


def mode_key(modes: tuple[str, ...]) -> str:
    """Return the mode a release counts a trip under (`multimodal` for more than one)."""
    distinct = sorted(set(modes))
    return distinct[0] if len(distinct) == 1 else MULTIMODAL


def operator_key(operators: tuple[str, ...]) -> str:
    """Return the operator a release counts a trip under (`several` for more than one)."""
    distinct = sorted(set(operators))
    return distinct[0] if len(distinct) == 1 else SEVERAL_OPERATORS


def h3_cell(place: Place) -> int:
    """Return the place's H3 cell (resolution 8) as an integer."""
    return int(h3.str_to_int(h3.latlng_to_cell(place.lat, place.lon, H3_RESOLUTION)))


COLUMNS = (
    "period",
    "pseudonym",
    "seq",
    "origin_fare",
    "destination_fare",
    "origin_h3",
    "destination_h3",
    "districts",
    "service_date",
    "hour",
    "mode_key",
    "operator_key",
    "modes",
    "operators",
    "legs",
    "synthetic",
)


def reduce_trip(
    trip: Trip, period: str, name: bytes, seq: int, districts: list[Districts], config: FlowsConfig
) -> tuple[object, ...]:
    """Return the record of a trip: zones, buckets and a pseudonym, in COLUMNS order."""
    local = trip.departure.astimezone(config.timezone)
    return (
        period,
        name,
        seq,
        trip.origin.zone_id or NO_FARE_ZONE,
        trip.destination.zone_id or NO_FARE_ZONE,
        h3_cell(trip.origin),
        h3_cell(trip.destination),
        {
            d.system_id: [district_of(d, trip.origin), district_of(d, trip.destination)]
            for d in districts
        },
        local.date(),
        local.hour,
        mode_key(trip.modes),
        operator_key(trip.operators),
        sorted(set(trip.modes)),
        sorted(set(trip.operators)),
        trip.legs,
        trip.synthetic,
    )


async def _open_key(
    conn: asyncpg.Connection, trip: Trip, config: FlowsConfig
) -> tuple[str, bytes] | None:
    """Return the trip's period and its key, or None once the period is released."""
    period = period_of(trip.departure, config.timezone)
    await ensure_period(conn, period, config)
    # FOR SHARE: a release of the period (FOR UPDATE) waits for this record, or it waits.
    state = await conn.fetchrow(
        """SELECT p.base_release_id, k.key FROM flow_periods p
           LEFT JOIN flow_period_keys k USING (period) WHERE p.period = $1 FOR SHARE OF p""",
        period.name,
    )
    if state["base_release_id"] is not None or state["key"] is None:
        return None
    return period.name, bytes(state["key"])


_INSERT = (
    f"INSERT INTO flow_trip_records ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
)
_COUNT = """
INSERT INTO flow_trip_counts (period, pseudonym, trips) VALUES ($1, $2, $3)
ON CONFLICT (period, pseudonym) DO UPDATE SET trips = flow_trip_counts.trips + EXCLUDED.trips
RETURNING trips
"""


async def record_trip(
    conn: asyncpg.Connection, trip: Trip, districts: list[Districts], config: FlowsConfig
) -> bool:
    """Store one trip record; False when its period is already released (it would change it)."""
    opened = await _open_key(conn, trip, config)
    if opened is None:
        return False
    period, key = opened
    name = pseudonym(key, trip.tenant_id, trip.traveller_ref)
    seq = await conn.fetchval(_COUNT, period, name, 1)
    row = reduce_trip(trip, period, name, seq, districts, config)
    await conn.execute(_INSERT, *row)
    return True


async def record_trips(
    conn: asyncpg.Connection, trips: list[Trip], districts: list[Districts], config: FlowsConfig
) -> int:
    """Store many trips at once (the demo's month), reduced as `record_trip` does."""
    keys: dict[str, bytes | None] = {}
    named: list[tuple[Trip, str, bytes]] = []
    for trip in trips:
        period = period_of(trip.departure, config.timezone).name
        if period not in keys:
            opened = await _open_key(conn, trip, config)
            keys[period] = None if opened is None else opened[1]
        key = keys[period]
        if key is not None:
            named.append((trip, period, pseudonym(key, trip.tenant_id, trip.traveller_ref)))
    counts: dict[tuple[str, bytes], int] = {}
    for _, period, name in named:
        counts[(period, name)] = counts.get((period, name), 0) + 1
    totals = {}
    for (period, name), n in counts.items():
        totals[(period, name)] = await conn.fetchval(_COUNT, period, name, n) - n
    rows = []
    for trip, period, name in named:
        totals[(period, name)] += 1
        rows.append(reduce_trip(trip, period, name, totals[(period, name)], districts, config))
    await conn.executemany(_INSERT, rows)
    return len(rows)
