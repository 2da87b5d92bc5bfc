"""The booking rows as the state machine writes them: status, lease, legs, seats and events.

Every function here runs inside a short transaction of its caller (or opens one
of its own when given the pool); none waits for an operator.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from sales import revocation
from sales.errors import NotFound

#: Leg states in which the gateway has asked its operator something and not yet heard back.
OWED = ("RESERVING", "CONFIRMING", "RELEASING", "CANCELLING")
#: Leg states that hold nothing at the operator: their seats go back.
SETTLED_FREE = ("RESERVE_FAILED", "RELEASED", "CANCELLED")
#: Leg states in which the operator has committed the sale (or will, conditionally).
COMMITTED = ("CONFIRMED", "CONDITIONAL_CONFIRMED")


async def event(
    conn: asyncpg.Connection | asyncpg.Pool,
    booking_id: uuid.UUID,
    tenant_id: str,
    kind: str,
    **payload: Any,
) -> None:
    """Write a state change to the outbox (in the caller's transaction)."""
    await conn.execute(
        "INSERT INTO booking_events (booking_id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)",
        booking_id,
        tenant_id,
        kind,
        payload,
    )


async def set_status(
    conn: asyncpg.Connection,
    booking_id: uuid.UUID,
    status: str,
    reason: str | None = None,
    refund_minor: int | None = None,
) -> None:
    """Move a booking to `status`, keeping the reason and refund unless new ones are given."""
    await conn.execute(
        """UPDATE bookings SET status = $2, reason = coalesce($3, reason),
                  refund_minor = coalesce($4, refund_minor), updated_at = now() WHERE id = $1""",
        booking_id,
        status,
        reason,
        refund_minor,
    )


async def lock(conn: asyncpg.Connection, tenant_id: str, booking_id: uuid.UUID) -> asyncpg.Record:
    """Lock a tenant's booking row for the caller's (short) transaction."""
    row = await conn.fetchrow(
        "SELECT *, settle_after > now() AS leased FROM bookings "
        "WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
        booking_id,
        tenant_id,
    )
    if row is None:
        raise NotFound.of("booking", str(booking_id))
    return row


async def list_legs(
    conn: asyncpg.Connection | asyncpg.Pool, booking_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Return a booking's legs in order."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking_id
    )
    return rows


async def move_legs(conn: asyncpg.Connection, booking_id: uuid.UUID, moves: dict[str, str]) -> None:
    """Move every leg of a booking from each state in `moves` to the state it maps to."""
    for old, new in moves.items():
        await conn.execute(
            "UPDATE booking_legs SET status = $3 WHERE booking_id = $1 AND status = $2",
            booking_id,
            old,
            new,
        )


async def lease(
    conn: asyncpg.Connection | asyncpg.Pool, booking_id: uuid.UUID, hold: timedelta | None
) -> None:
    """Hold the booking for `hold` (the caller is calling its operators), or clear the lease."""
    await conn.execute(
        "UPDATE bookings SET settle_after = now() + $2::interval WHERE id = $1",
        booking_id,
        hold,
    )


async def claim(pool: asyncpg.Pool, booking_id: uuid.UUID, hold: timedelta) -> bool:
    """Take the lease of a booking that nobody holds; False when another caller has it."""
    taken = await pool.fetchval(
        """UPDATE bookings SET settle_after = now() + $2::interval
           WHERE id = $1 AND (settle_after IS NULL OR settle_after <= now()) RETURNING true""",
        booking_id,
        hold,
    )
    return bool(taken)


async def claim_due(pool: asyncpg.Pool, hold: timedelta, limit: int) -> list[asyncpg.Record]:
    """Take the lease of bookings whose lease has passed (crashed or unfinished work)."""
    async with pool.acquire() as conn, conn.transaction():
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT id, tenant_id FROM bookings WHERE settle_after <= now()
               ORDER BY settle_after LIMIT $1 FOR UPDATE SKIP LOCKED""",
            limit,
        )
        await conn.execute(
            "UPDATE bookings SET settle_after = now() + $2::interval WHERE id = ANY($1)",
            [r["id"] for r in rows],
            hold,
        )
    return rows


#: An answer recorded in one statement: the leg moved (if still where it was), its seats
#: given back if it now holds nothing, and its event written; returns whether it moved.
_RECORD = """
WITH moved AS (
       UPDATE booking_legs SET status = $3, operator_ref = coalesce($4, operator_ref)
       WHERE id = $1 AND status = $2 RETURNING booking_id, position, status),
     held AS (
       DELETE FROM capacity_holds h USING moved m
        WHERE h.booking_id = m.booking_id AND h.position = m.position AND m.status = ANY($5)
       RETURNING h.capacity_id, h.seats),
     summed AS (SELECT capacity_id, sum(seats) AS seats FROM held GROUP BY capacity_id),
     freed AS (UPDATE capacities c SET seats_taken = c.seats_taken - s.seats
                 FROM summed s WHERE s.capacity_id = c.id),
     logged AS (INSERT INTO booking_events (booking_id, tenant_id, type, payload)
                SELECT booking_id, $6, $7, $8 FROM moved)
SELECT count(*) > 0 FROM moved"""


async def record_leg(
    pool: asyncpg.Pool, leg: asyncpg.Record, status: str, operator_ref: str | None, tenant_id: str
) -> bool:
    """Record an operator's answer for one leg (one statement); False if it moved on.

    A cancelled leg also revokes its ticket, in a transaction with the move.
    """
    payload = {"leg": str(leg["id"]), "was": leg["status"]}
    if status != "CANCELLED":
        moved: bool = await pool.fetchval(
            _RECORD,
            leg["id"],
            leg["status"],
            status,
            operator_ref,
            list(SETTLED_FREE),
            tenant_id,
            f"leg.{status.lower()}",
            payload,
        )
        return moved
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(
            """UPDATE booking_legs SET status = $3, operator_ref = coalesce($4, operator_ref)
               WHERE id = $1 AND status = $2 RETURNING true""",
            leg["id"],
            leg["status"],
            status,
            operator_ref,
        ):
            return False
        await revocation.revoke_tickets(conn, leg["booking_id"], leg["id"])
        await free_seats(conn, leg["booking_id"])
        await event(conn, leg["booking_id"], tenant_id, f"leg.{status.lower()}", **payload)
    return True


async def free_seats(conn: asyncpg.Connection, booking_id: uuid.UUID) -> None:
    """Give back the seats of a booking's legs that hold nothing at their operator any more.

    A leg holds seats of every limit it falls under (`capacity_holds`, one row per limit).
    """
    await conn.execute(
        """WITH held AS (
               DELETE FROM capacity_holds h USING booking_legs l
                WHERE h.booking_id = $1 AND l.booking_id = h.booking_id
                  AND l.position = h.position AND l.status = ANY($2)
               RETURNING h.capacity_id, h.seats),
           summed AS (SELECT capacity_id, sum(seats) AS seats FROM held GROUP BY capacity_id)
           UPDATE capacities c SET seats_taken = c.seats_taken - s.seats
             FROM summed s WHERE s.capacity_id = c.id""",
        booking_id,
        list(SETTLED_FREE),
    )


async def find_by_idempotency_key(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, key: str
) -> uuid.UUID | None:
    """Return the booking an Idempotency-Key created, if its transaction committed."""
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM bookings WHERE tenant_id = $1 AND idempotency_key = $2", tenant_id, key
    )
    return found
