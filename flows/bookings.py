"""From a finished booking to a trip record: read its legs, check consent, reduce, record.

Only a booking whose traveller consented before the first departure, and has
not withdrawn, becomes a record. The record keeps nothing that points back:
no booking id, stop or time, only zones, buckets and a pseudonym.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from flows.config import FlowsConfig
from flows.modes import mode_of
from flows.records import Place, Trip, record_trip
from flows.zones import Districts
from sales.itineraries import BOARDING_MARGIN

_LEGS = """
SELECT l.position, l.operator_id, l.detail, b.traveller_ref, b.tenant_id
FROM booking_legs l JOIN bookings b ON b.id = l.booking_id
WHERE l.booking_id = $1 ORDER BY l.position
"""
_STOPS = """
SELECT s.stop_id, s.zone_id, s.stop_lat, s.stop_lon FROM gtfs_stops s
JOIN feed_versions v ON v.id = s.feed_version_id AND v.is_current
WHERE s.stop_id = ANY($1) AND s.stop_lat IS NOT NULL
"""
_ROUTES = """
SELECT r.route_id, r.route_type FROM gtfs_routes r
JOIN feed_versions v ON v.id = r.feed_version_id AND v.is_current WHERE r.route_id = ANY($1)
"""


async def consented_at(
    conn: asyncpg.Connection, tenant_id: str, traveller_ref: str
) -> datetime | None:
    """Return when the traveller's current trip-statistics consent was granted, if any."""
    granted: datetime | None = await conn.fetchval(
        "SELECT granted_at FROM flow_consents WHERE tenant_id = $1 AND traveller_ref = $2 "
        "AND purpose = 'trip-statistics'",
        tenant_id,
        traveller_ref,
    )
    return granted


async def trip_of_booking(
    conn: asyncpg.Connection, booking_id: uuid.UUID, margin: timedelta = BOARDING_MARGIN
) -> Trip | None:
    """Return the journey a finished itinerary booking made, or None (no reference, no stops)."""
    legs = await conn.fetch(_LEGS, booking_id)
    if not legs or legs[0]["traveller_ref"] is None:
        return None
    first, last = legs[0]["detail"], legs[-1]["detail"]
    stops = {
        r["stop_id"]: Place(r["zone_id"] or None, r["stop_lat"], r["stop_lon"])
        for r in await conn.fetch(_STOPS, [first.get("from_stop_id"), last.get("to_stop_id")])
    }
    origin, destination = stops.get(first.get("from_stop_id")), stops.get(last.get("to_stop_id"))
    if origin is None or destination is None:
        return None
    types = {
        r["route_id"]: r["route_type"]
        for r in await conn.fetch(_ROUTES, [leg["detail"].get("route_id") for leg in legs])
    }
    return Trip(
        tenant_id=legs[0]["tenant_id"],
        traveller_ref=legs[0]["traveller_ref"],
        origin=origin,
        destination=destination,
        departure=datetime.fromisoformat(first["valid_from"]) + margin,
        modes=tuple(mode_of(types.get(leg["detail"].get("route_id"))) for leg in legs),
        operators=tuple(leg["operator_id"] for leg in legs),
        legs=len(legs),
    )


async def record_finished_booking(
    conn: asyncpg.Connection,
    booking_id: uuid.UUID,
    districts: list[Districts],
    config: FlowsConfig,
) -> bool:
    """Turn a finished booking into a trip record when its traveller consented in time."""
    trip = await trip_of_booking(conn, booking_id)
    if trip is None:
        return False
    granted = await consented_at(conn, trip.tenant_id, trip.traveller_ref)
    if granted is None or granted > trip.departure:
        return False
    return await record_trip(conn, trip, districts, config)
