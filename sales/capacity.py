"""Limited seats, taken when a booking is made; `booking_store.free_seats` gives them back.

The state machine frees a leg's seats once the leg holds nothing at its operator.

A leg falls under the limit of its departure (trip and service date) and that of its
product, whichever kind of offer it came from; it holds seats of each (`capacity_holds`).

The `capacities` CHECK (seats_taken <= seats_total) is the real guard: the
conditional UPDATE below only turns a would-be violation into a clear answer.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from sales.errors import SoldOut

#: Every limit a leg falls under: its departure's and its product's, locked in id order so
#: that two bookings taking the same two limits never wait for each other.
_LIMITS = """
SELECT id, trip_id, product_id FROM capacities
WHERE operator_id = $1 AND ((trip_id = $2 AND service_date = $3::date) OR product_id = $4)
ORDER BY id FOR UPDATE
"""


#: Every limit any leg of a booking falls under, locked in one statement in id order.
_ALL_LIMITS = """
SELECT c.id FROM capacities c
JOIN unnest($1::text[], $2::text[], $3::date[], $4::text[])
     AS l(operator_id, trip_id, service_date, product_id)
  ON c.operator_id = l.operator_id
 AND ((c.trip_id = l.trip_id AND c.service_date = l.service_date) OR c.product_id = l.product_id)
ORDER BY c.id FOR UPDATE OF c
"""


def _day(leg: dict[str, Any]) -> date | None:
    return date.fromisoformat(leg["service_date"]) if leg.get("service_date") else None


async def lock_limits(conn: asyncpg.Connection, legs: list[dict[str, Any]]) -> None:
    """Lock every limit a booking's legs fall under, all at once and in id order.

    Taken leg by leg, two bookings holding the same two limits in opposite orders (offers
    of two limited products, or two rides, given the other way round) would each wait for
    the other, and PostgreSQL would abort one of them as a deadlock. Call it in the
    booking's transaction before `take`; the locks last until the transaction ends.
    """
    await conn.execute(
        _ALL_LIMITS,
        [leg["operator_id"] for leg in legs],
        [leg.get("trip_id") for leg in legs],
        [_day(leg) for leg in legs],
        [leg.get("product_id") for leg in legs],
    )


async def take(
    conn: asyncpg.Connection, booking_id: uuid.UUID, position: int, leg: dict[str, Any], seats: int
) -> None:
    """Take seats of every limit a leg falls under (its departure and its product), or `SoldOut`.

    Call it in the booking's transaction: a `SoldOut` after one limit was taken rolls both back.
    """
    limits = await conn.fetch(
        _LIMITS, leg["operator_id"], leg.get("trip_id"), _day(leg), leg.get("product_id")
    )
    for limit in limits:
        taken = await conn.fetchval(
            "UPDATE capacities SET seats_taken = seats_taken + $2 "
            "WHERE id = $1 AND seats_taken + $2 <= seats_total RETURNING id",
            limit["id"],
            seats,
        )
        if taken is None:
            what = limit["trip_id"] or limit["product_id"]
            raise SoldOut(f"not enough seats left on {what} for {seats} traveller(s)")
        await conn.execute(
            "INSERT INTO capacity_holds (booking_id, capacity_id, position, seats) "
            "VALUES ($1, $2, $3, $4)",
            booking_id,
            limit["id"],
            position,
            seats,
        )


async def set_capacity(
    conn: asyncpg.Connection | asyncpg.Pool,
    operator_id: str,
    seats_total: int,
    *,
    product_id: str | None = None,
    trip_id: str | None = None,
    service_date: date | None = None,
) -> int:
    """Create or resize a limited product or departure; return its id."""
    if product_id is not None:
        sql = """INSERT INTO capacities (operator_id, product_id, seats_total) VALUES ($1, $2, $3)
                 ON CONFLICT (operator_id, product_id) WHERE product_id IS NOT NULL
                 DO UPDATE SET seats_total = EXCLUDED.seats_total RETURNING id"""
        return int(await conn.fetchval(sql, operator_id, product_id, seats_total))
    sql = """INSERT INTO capacities (operator_id, trip_id, service_date, seats_total)
             VALUES ($1, $2, $3::date, $4)
             ON CONFLICT (operator_id, trip_id, service_date) WHERE trip_id IS NOT NULL
             DO UPDATE SET seats_total = EXCLUDED.seats_total RETURNING id"""
    return int(await conn.fetchval(sql, operator_id, trip_id, service_date, seats_total))
