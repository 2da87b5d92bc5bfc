"""What a cancel gives back: each leg's price less its fee while its conditions refund, and why."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from operators.fares.money import format_minor
from sales.errors import NotCancellable
from sales.schemas import Refund


def check_cancellable(legs: Sequence[asyncpg.Record]) -> NotCancellable | None:
    """Return the error for a booking with a leg its operator's conditions make non-cancellable."""
    fixed = [leg["position"] for leg in legs if not leg["detail"]["conditions"].get("cancellable")]
    if not fixed:
        return None
    return NotCancellable(
        f"legs {fixed} cannot be cancelled: their operator's conditions do not allow it"
    )


def _leg_refund(leg: asyncpg.Record, now: datetime) -> tuple[int, str]:
    conditions = leg["detail"]["conditions"]
    price, currency = int(leg["price_minor"]), str(leg["currency"])
    until = conditions.get("refundable_until")
    if until is None:
        return 0, "not refundable"
    deadline = datetime.fromisoformat(until)
    when = deadline.isoformat(timespec="minutes")
    if now >= deadline:
        return 0, f"refundable only until {when}"
    fee = min(price, int(conditions.get("refund_fee_minor", 0)))
    if fee == 0:
        return price, f"refundable until {when}, no fee"
    return price - fee, (
        f"refundable until {when}, less the {format_minor(fee, currency)} {currency} fee"
    )


def refund_for(legs: Sequence[asyncpg.Record], currency: str, now: datetime) -> Refund:
    """Return what cancelling these legs now gives back, with the reason of every leg."""
    parts = [_leg_refund(leg, now) for leg in legs]
    if len(parts) == 1:
        reason = parts[0][1]
    else:
        reason = "; ".join(
            f"leg {leg['position']}: {why}" for leg, (_, why) in zip(legs, parts, strict=True)
        )
    return Refund(amount_minor=sum(a for a, _ in parts), currency=currency, reason=reason)


async def record_refund(conn: asyncpg.Connection, booking_id: uuid.UUID, refund: Refund) -> None:
    """Store the refund's amount and reason on the booking (caller's transaction)."""
    await conn.execute(
        "UPDATE bookings SET refund_minor = $2, refund_reason = $3 WHERE id = $1",
        booking_id,
        refund.amount_minor,
        refund.reason,
    )


async def record_leg_refunds(
    conn: asyncpg.Connection, legs: Sequence[asyncpg.Record], now: datetime
) -> None:
    """Store what each leg gives back (the settlement's refunds and fees come from it)."""
    await conn.executemany(
        "UPDATE booking_legs SET refund_minor = $2 WHERE id = $1",
        [(leg["id"], _leg_refund(leg, now)[0]) for leg in legs],
    )


async def refunded_so_far(conn: asyncpg.Connection, booking_id: uuid.UUID) -> int:
    """Return what the booking's cancelled legs gave back (caller's transaction)."""
    total: int = await conn.fetchval(
        "SELECT coalesce(sum(refund_minor), 0)::bigint FROM booking_legs "
        "WHERE booking_id = $1 AND status = 'CANCELLED'",
        booking_id,
    )
    return total


async def settle_partial(conn: asyncpg.Connection, booking_id: uuid.UUID) -> int:
    """After a cancel some operator refused: legs that stand owe no refund; return the refunded.

    The legs that were cancelled keep theirs (their ledger lines were written from it).
    """
    await conn.execute(
        "UPDATE booking_legs SET refund_minor = NULL "
        "WHERE booking_id = $1 AND status IN ('CONFIRMED', 'CONDITIONAL_CONFIRMED')",
        booking_id,
    )
    return await refunded_so_far(conn, booking_id)
