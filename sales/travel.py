"""Booking travel states: STARTED at the first departure, FINISHED after the last arrival.

TOMP-API's states, which the bookings table already declares, for confirmed
itinerary bookings.

The flows job calls it and makes trip records of what finished, in the same
transaction; this module knows nothing of flows. Product bookings (day tickets
with no trip) never move: they have no departure to start at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sales.itineraries import BOARDING_MARGIN

_ADVANCE = """
WITH times AS (
    SELECT l.booking_id,
           min((l.detail->>'valid_from')::timestamptz) + $2::interval AS first_departure,
           max((l.detail->>'valid_until')::timestamptz) - $2::interval AS last_arrival
    FROM booking_legs l JOIN bookings b ON b.id = l.booking_id
    WHERE b.status IN ('CONFIRMED', 'STARTED')
    GROUP BY l.booking_id
    HAVING bool_and(l.detail->>'trip_id' IS NOT NULL)
), moves AS (
    SELECT booking_id, CASE WHEN last_arrival <= $1 THEN 'FINISHED' ELSE 'STARTED' END AS status
    FROM times WHERE first_departure <= $1
)
UPDATE bookings b SET status = m.status, updated_at = now()
FROM moves m WHERE b.id = m.booking_id AND b.status <> m.status
RETURNING b.id, b.tenant_id, b.status
"""


@dataclass(frozen=True, slots=True)
class Moved:
    """A booking whose travel state changed."""

    booking_id: uuid.UUID
    tenant_id: str
    status: str


async def advance_travel_states(
    conn: asyncpg.Connection, now: datetime, margin: timedelta = BOARDING_MARGIN
) -> list[Moved]:
    """Move confirmed itinerary bookings to STARTED or FINISHED, with an event for each."""
    rows = await conn.fetch(_ADVANCE, now, margin)
    for row in rows:
        await conn.execute(
            "INSERT INTO booking_events (booking_id, tenant_id, type, payload) "
            "VALUES ($1, $2, $3, $4)",
            row["id"],
            row["tenant_id"],
            f"booking.{row['status'].lower()}",
            {},
        )
    return [Moved(r["id"], r["tenant_id"], r["status"]) for r in rows]
