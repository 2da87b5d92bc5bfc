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


_INSERT = """
INSERT INTO flow_trip_records (period, pseudonym, seq, origin_fare, destination_fare,
    origin_h3, destination_h3, districts, service_date, hour, mode_key, operator_key,
    modes, operators, legs, synthetic)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""


async def record_trip(
    conn: asyncpg.Connection, trip: Trip, districts: list[Districts], config: FlowsConfig
) -> bool:
    """Store one trip record; False when its period is already released (it would change it)."""
    period = period_of(trip.departure, config.timezone)
    await ensure_period(conn, period, config)
    state = await conn.fetchrow(
        """SELECT p.base_release_id, k.key FROM flow_periods p
           LEFT JOIN flow_period_keys k USING (period) WHERE p.period = $1 FOR SHARE OF p""",
        period.name,
    )
    if state["base_release_id"] is not None or state["key"] is None:
        return False
    name = pseudonym(bytes(state["key"]), trip.tenant_id, trip.traveller_ref)
    seq = await conn.fetchval(
        """INSERT INTO flow_trip_counts (period, pseudonym, trips) VALUES ($1, $2, 1)
           ON CONFLICT (period, pseudonym) DO UPDATE SET trips = flow_trip_counts.trips + 1
           RETURNING trips""",
        period.name,
        name,
    )
    local = trip.departure.astimezone(config.timezone)
    await conn.execute(
        _INSERT,
        period.name,
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
    return True
