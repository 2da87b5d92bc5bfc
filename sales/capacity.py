"""Limited seats, taken when a booking is made; `booking_store.free_seats` gives them back.

The state machine frees a leg's seats once the leg holds nothing at its operator.

A leg falls under the limit of its departure (trip and service date) and that of its
product, whichever kind of offer it came from; it holds seats of each (`capacity_holds`).

The `capacities` CHECK (seats_taken <= seats_total) is the guard: the booking's one
statement (`sales.bookings`) takes the seats, and a would-be violation becomes `SoldOut`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from sales.errors import SoldOut

#: The limits of a booking's legs without `seats` seats left, for the answer to a refused
#: booking (the `capacities` CHECK refused it in the booking's own statement).
_FULL = """
SELECT c.trip_id, c.product_id FROM capacities c
JOIN unnest($1::text[], $2::text[], $3::date[], $4::text[])
     AS l(operator_id, trip_id, service_date, product_id)
  ON c.operator_id = l.operator_id
 AND ((c.trip_id = l.trip_id AND c.service_date = l.service_date) OR c.product_id = l.product_id)
WHERE c.seats_taken + $5 > c.seats_total
ORDER BY c.id LIMIT 1
"""


def day(leg: dict[str, Any]) -> date | None:
    """Return a leg's service date, which with its trip names its departure's limit."""
    return date.fromisoformat(leg["service_date"]) if leg.get("service_date") else None


async def sold_out(pool: asyncpg.Pool, legs: list[dict[str, Any]], seats: int) -> SoldOut:
    """Return the `SoldOut` of a booking of `legs` the `capacities` CHECK refused."""
    full = await pool.fetchrow(
        _FULL,
        [leg["operator_id"] for leg in legs],
        [leg.get("trip_id") for leg in legs],
        [day(leg) for leg in legs],
        [leg.get("product_id") for leg in legs],
        seats,
    )
    what = (full["trip_id"] or full["product_id"]) if full is not None else "a limited leg"
    return SoldOut(f"not enough seats left on {what} for {seats} traveller(s)")


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
