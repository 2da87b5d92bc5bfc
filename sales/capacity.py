"""Limited seats: taken when a booking is made, given back when it fails, expires or is cancelled.

The `capacities` CHECK (seats_taken <= seats_total) is the real guard: the
conditional UPDATE below only turns a would-be violation into a clear answer.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from sales.errors import SoldOut


async def take(conn: asyncpg.Connection, leg: dict[str, Any], seats: int) -> int | None:
    """Take seats for a leg if its departure or product is limited; `SoldOut` when none are left."""
    if leg.get("trip_id") and leg.get("service_date"):
        where = "operator_id = $1 AND trip_id = $2 AND service_date = $3::date"
        day = date.fromisoformat(leg["service_date"])
        args: tuple[Any, ...] = (leg["operator_id"], leg["trip_id"], day)
    elif leg.get("product_id"):
        where = "operator_id = $1 AND product_id = $2 AND $3::date IS NULL"
        args = (leg["operator_id"], leg["product_id"], None)
    else:
        return None
    limited = await conn.fetchrow(f"SELECT id FROM capacities WHERE {where}", *args)
    if limited is None:
        return None
    taken = await conn.fetchval(
        "UPDATE capacities SET seats_taken = seats_taken + $2 "
        "WHERE id = $1 AND seats_taken + $2 <= seats_total RETURNING id",
        limited["id"],
        seats,
    )
    if taken is None:
        what = leg.get("trip_id") or leg.get("product_id")
        raise SoldOut(f"not enough seats left on {what} for {seats} traveller(s)")
    return int(taken)


async def release(conn: asyncpg.Connection, booking_id: uuid.UUID) -> None:
    """Give back the seats a booking holds (its legs stop holding them)."""
    await conn.execute(
        """UPDATE capacities c SET seats_taken = c.seats_taken - l.seats
           FROM booking_legs l WHERE l.booking_id = $1 AND l.capacity_id = c.id AND l.seats > 0""",
        booking_id,
    )
    await conn.execute("UPDATE booking_legs SET seats = 0 WHERE booking_id = $1", booking_id)


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
