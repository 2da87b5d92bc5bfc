"""What an operator's own back-end tells the gateway about a leg: COMMIT, DENY or CANCEL.

TOMP's booking events, sent by the operator: a `CONDITIONAL_CONFIRMED` leg is committed
(the booking becomes `CONFIRMED` with its tickets once every leg is) or denied (the
booking is `REJECTED` and its other legs compensated); a confirmed leg the operator
cancels cancels the whole booking with a full refund to the app, which hears it from
the `booking.cancelled` event. Each runs through the state machine's own steps
(`record_leg`, `settle`, `drive`), so a repeated event changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg

from sales import booking_store as store
from sales import revocation
from sales.errors import BookingBusy, NotFound, OperatorEventRefused
from sales.legs import Sales
from sales.schemas import Booking
from sales.settle import drive, settle
from sales.store import get_booking

OperatorEvent = Literal["COMMIT", "DENY", "CANCEL"]


async def _find_leg(pool: asyncpg.Pool, operator_id: str, ref: str) -> asyncpg.Record:
    """Find the operator's leg by the gateway's leg id or the operator's own booking id."""
    try:
        leg_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        leg_id = None
    row = await pool.fetchrow(
        """SELECT l.*, b.tenant_id, b.status AS booking_status FROM booking_legs l
           JOIN bookings b ON b.id = l.booking_id
           WHERE l.operator_id = $1 AND (l.id = $2 OR l.operator_ref = $3)
           ORDER BY l.id = $2 DESC LIMIT 1""",
        operator_id,
        leg_id,
        ref,
    )
    if row is None:
        raise NotFound.of("booking leg", ref)
    return row


async def apply_operator_event(
    sales: Sales, operator_id: str, ref: str, event: OperatorEvent
) -> Booking:
    """Apply an operator's event to its leg and return the booking as it now stands."""
    leg = await _find_leg(sales.pool, operator_id, ref)
    if event == "COMMIT":
        await _decide(sales, leg, "CONFIRMED", already="CONFIRMED")
    elif event == "DENY" or leg["status"] == "CONDITIONAL_CONFIRMED":
        await _decide(sales, leg, "RELEASED", already="RELEASED")
        await drive(sales, leg["booking_id"], give_up=True)  # compensate the other legs
    else:
        await _cancel(sales, leg, operator_id)
        await drive(sales, leg["booking_id"], give_up=False)
    return await get_booking(sales.pool, leg["tenant_id"], leg["booking_id"])


async def _decide(sales: Sales, leg: asyncpg.Record, to: str, already: str) -> None:
    """Settle a conditional commit as the operator decided (a repeat is a no-op)."""
    if leg["status"] == already:
        return
    if leg["status"] != "CONDITIONAL_CONFIRMED":
        raise OperatorEventRefused(
            f"leg {leg['id']} is {leg['status']}; only a CONDITIONAL_CONFIRMED leg is "
            "committed or denied",
        )
    await store.record_leg(sales.pool, leg, to, None, leg["tenant_id"])
    await settle(sales, leg["booking_id"])


async def _cancel(sales: Sales, leg: asyncpg.Record, operator_id: str) -> None:
    """Cancel a confirmed booking because its operator cancelled a leg: refund in full."""
    async with sales.pool.acquire() as conn, conn.transaction():
        booking = await store.lock(conn, leg["tenant_id"], leg["booking_id"])
        if booking["status"] in ("CANCELLING", "CANCELLED") and leg["status"] == "CANCELLED":
            return
        if booking["status"] in ("CONFIRMING", "CANCELLING") or booking["leased"]:
            raise BookingBusy(f"booking {booking['id']} is being changed; send the event again")
        if booking["status"] != "CONFIRMED" or leg["status"] != "CONFIRMED":
            raise OperatorEventRefused(
                f"leg {leg['id']} is {leg['status']} in a {booking['status']} booking; "
                "only a confirmed leg can be cancelled by its operator",
            )
        reason = f"cancelled by operator {operator_id}"
        # Refunds first: a leg's ledger line is written as it becomes CANCELLED, from its refund.
        await conn.execute(
            "UPDATE booking_legs SET refund_minor = price_minor "
            "WHERE booking_id = $1 AND status = 'CONFIRMED'",
            leg["booking_id"],
        )
        await conn.execute(
            "UPDATE booking_legs SET status = 'CANCELLED' WHERE id = $1 AND status = 'CONFIRMED'",
            leg["id"],
        )
        await revocation.revoke_tickets(conn, leg["booking_id"], leg["id"])
        await store.event(
            conn,
            leg["booking_id"],
            leg["tenant_id"],
            "leg.cancelled",
            leg=str(leg["id"]),
            was="CONFIRMED",
            by="operator",
        )
        await store.move_legs(conn, leg["booking_id"], {"CONFIRMED": "CANCELLING"})
        await store.set_status(
            conn, leg["booking_id"], "CANCELLING", reason, refund_minor=booking["total_minor"]
        )
        await conn.execute(
            "UPDATE bookings SET refund_reason = $2 WHERE id = $1",
            leg["booking_id"],
            f"{reason}: refunded in full",
        )
        await store.lease(conn, leg["booking_id"], sales.lease)
        await store.event(
            conn,
            leg["booking_id"],
            leg["tenant_id"],
            "booking.cancelling",
            refund_minor=booking["total_minor"],
            refund_reason=f"{reason}: refunded in full",
            by="operator",
        )
