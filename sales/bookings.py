"""Two-phase bookings across operators: reserve all, confirm all or none, cancel, expire.

Every state change and its event are written in one transaction; the booking
row is locked while it changes, so two confirms of one booking never both act.
Seats are counted in `capacities`, whose CHECK constraint makes overselling
impossible whatever the number of gateway processes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from operators.adapter import OperatorError, OperatorResult
from sales import capacity, refunds, revocation, tickets
from sales.errors import (
    BookingExpired,
    BookingNotCancellable,
    BookingNotPending,
    InvalidBooking,
    MixedCurrencies,
    NotFound,
    OfferAlreadyBooked,
    OfferExpired,
    OperatorUnavailable,
    SalesError,
)
from sales.legs import (
    Sales,
    cancel_call,
    confirm_call,
    each_leg,
    release_call,
    reserve_call,
)
from sales.schemas import Booking, BookingCreate, Refund
from sales.store import get_booking
from sales.travellers import travellers_of


async def _event(
    conn: asyncpg.Connection, booking_id: uuid.UUID, tenant_id: str, kind: str, **payload: Any
) -> None:
    await conn.execute(
        "INSERT INTO booking_events (booking_id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)",
        booking_id,
        tenant_id,
        kind,
        payload,
    )


async def _set_status(
    conn: asyncpg.Connection,
    booking_id: uuid.UUID,
    status: str,
    reason: str | None = None,
    refund_minor: int | None = None,
) -> None:
    await conn.execute(
        """UPDATE bookings SET status = $2, reason = coalesce($3, reason),
                  refund_minor = coalesce($4, refund_minor), updated_at = now() WHERE id = $1""",
        booking_id,
        status,
        reason,
        refund_minor,
    )


async def _offers(
    conn: asyncpg.Connection, tenant_id: str, body: BookingCreate, now: datetime
) -> list[asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT * FROM offers WHERE id = ANY($1) AND tenant_id = $2", body.offer_ids, tenant_id
    )
    found = {r["id"]: r for r in rows}
    for i, offer_id in enumerate(body.offer_ids):
        offer = found.get(offer_id)
        if offer is None:
            raise NotFound(f"body.offer_ids[{i}]: offer {offer_id} does not exist")
        if offer["valid_until"] <= now:
            raise OfferExpired(
                f"body.offer_ids[{i}]: offer {offer_id} expired at "
                f"{offer['valid_until'].isoformat()}",
            )
    if len(set(body.offer_ids)) != len(body.offer_ids):
        raise InvalidBooking("body.offer_ids: an offer is listed twice")
    return [found[i] for i in body.offer_ids]


async def _insert_booking(
    conn: asyncpg.Connection,
    sales: Sales,
    tenant_id: str,
    body: BookingCreate,
    offers: list[asyncpg.Record],
    now: datetime,
) -> uuid.UUID:
    booking_id = uuid.uuid4()
    travellers = travellers_of(offers, body.travellers)
    currencies = {o["currency"] for o in offers}
    if len(currencies) != 1:
        raise MixedCurrencies(f"the offers are priced in {sorted(currencies)}")
    await conn.execute(
        """INSERT INTO bookings (id, tenant_id, status, traveller_ref, travellers, total_minor,
                                 currency, expires_at)
           VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7)""",
        booking_id,
        tenant_id,
        body.traveller_ref,
        travellers,
        sum(o["total_minor"] for o in offers),
        currencies.pop(),
        now + sales.hold,
    )
    try:
        await conn.executemany(
            "INSERT INTO booking_offers (offer_id, booking_id) VALUES ($1, $2)",
            [(o["id"], booking_id) for o in offers],
        )
    except asyncpg.UniqueViolationError as exc:
        raise OfferAlreadyBooked("an offer in body.offer_ids is already booked") from exc
    position = 0
    for offer in offers:
        for leg in offer["legs"]:
            await capacity.take(conn, booking_id, position, leg, len(travellers))
            await conn.execute(
                """INSERT INTO booking_legs (id, booking_id, position, offer_id, operator_id,
                                             status,
                                             detail, price_minor, currency, capacity_id, seats)
                   VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $9, $10)""",
                uuid.uuid4(),
                booking_id,
                position,
                offer["id"],
                leg["operator_id"],
                leg,
                leg["price_minor"],
                leg["currency"],
                None,
                0,
            )
            position += 1
    await _event(
        conn, booking_id, tenant_id, "booking.pending", offer_ids=[str(o["id"]) for o in offers]
    )
    return booking_id


async def create_booking(sales: Sales, tenant_id: str, body: BookingCreate) -> Booking:
    """Book offers: hold seats, reserve with every operator; PENDING, or REJECTED if one refuses."""
    now = datetime.now(UTC)
    async with sales.pool.acquire() as conn:
        async with conn.transaction():
            offers = await _offers(conn, tenant_id, body, now)
            booking_id = await _insert_booking(conn, sales, tenant_id, body, offers, now)
        legs = await conn.fetch(
            "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking_id
        )
        results = await each_leg(sales, conn, legs, reserve_call)
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE", booking_id)
            for leg, result in zip(legs, results, strict=True):
                if isinstance(result, OperatorResult):
                    await conn.execute(
                        "UPDATE booking_legs SET operator_ref = $2 WHERE id = $1",
                        leg["id"],
                        result.operator_ref,
                    )
                else:
                    await conn.execute(
                        "UPDATE booking_legs SET status = 'RESERVE_FAILED' WHERE id = $1", leg["id"]
                    )
        failures = [r for r in results if isinstance(r, OperatorError)]
        if failures:
            await _reject(sales, conn, tenant_id, booking_id, f"reservation failed: {failures[0]}")
        return await get_booking(conn, tenant_id, booking_id)


async def _reject(
    sales: Sales, conn: asyncpg.Connection, tenant_id: str, booking_id: uuid.UUID, reason: str
) -> None:
    """Release what was reserved, undo what was confirmed, and mark the booking REJECTED."""
    legs = await conn.fetch(
        "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking_id
    )
    await _undo_legs(sales, conn, tenant_id, legs)
    async with conn.transaction():
        await capacity.release(conn, booking_id)
        await _set_status(conn, booking_id, "REJECTED", reason)
        await _event(conn, booking_id, tenant_id, "booking.rejected", reason=reason)


async def _undo_legs(
    sales: Sales, conn: asyncpg.Connection, tenant_id: str, legs: list[asyncpg.Record]
) -> None:
    """Compensate: cancel confirmed legs, release pending ones (both idempotent at the operator)."""
    confirmed = [leg for leg in legs if leg["status"] == "CONFIRMED"]
    pending = [leg for leg in legs if leg["status"] == "PENDING" and leg["operator_ref"]]
    for group, call, status in (
        (confirmed, cancel_call, "CANCELLED"),
        (pending, release_call, "RELEASED"),
    ):
        results = await each_leg(sales, conn, group, call)
        for leg, result in zip(group, results, strict=True):
            if isinstance(result, OperatorError):
                await _event(
                    conn,
                    leg["booking_id"],
                    tenant_id,
                    "leg.compensation_failed",
                    leg=str(leg["id"]),
                    error=str(result),
                )
            await conn.execute(
                "UPDATE booking_legs SET status = $2 WHERE id = $1", leg["id"], status
            )
    await conn.execute(
        "UPDATE booking_legs SET status = 'RELEASED' "
        "WHERE booking_id = ANY($1) AND status = 'PENDING'",
        list({leg["booking_id"] for leg in legs}),
    )


async def _locked(
    conn: asyncpg.Connection, tenant_id: str, booking_id: uuid.UUID
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM bookings WHERE id = $1 AND tenant_id = $2 FOR UPDATE", booking_id, tenant_id
    )
    if row is None:
        raise NotFound.of("booking", str(booking_id))
    return row


async def confirm_booking(sales: Sales, tenant_id: str, booking_id: uuid.UUID) -> Booking:
    """Commit every leg with its operator and issue tickets; or REJECTED, compensated."""
    async with sales.pool.acquire() as conn:
        outcome = await _confirm_locked(sales, conn, tenant_id, booking_id)
        booking = await get_booking(conn, tenant_id, booking_id)
    if outcome is not None:
        raise outcome
    return booking


async def _confirm_locked(
    sales: Sales, conn: asyncpg.Connection, tenant_id: str, booking_id: uuid.UUID
) -> SalesError | None:
    async with conn.transaction():
        booking = await _locked(conn, tenant_id, booking_id)
        if booking["status"] == "CONFIRMED":
            return None
        if booking["status"] != "PENDING":
            return BookingNotPending(
                f"booking {booking_id} is {booking['status']}; "
                "only a PENDING booking can be confirmed",
            )
        if booking["expires_at"] <= datetime.now(UTC):
            await _expire(sales, conn, booking)
            return BookingExpired(
                f"booking {booking_id} expired at {booking['expires_at'].isoformat()}",
            )
        legs = await conn.fetch(
            "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking_id
        )
        results = await each_leg(sales, conn, legs, confirm_call)
        for leg, result in zip(legs, results, strict=True):
            if isinstance(result, OperatorResult):
                await conn.execute(
                    "UPDATE booking_legs SET status = 'CONFIRMED', operator_ref = $2 WHERE id = $1",
                    leg["id"],
                    result.operator_ref,
                )
        failures = [r for r in results if isinstance(r, OperatorError)]
        if failures:
            # Still under the row lock: nobody sees the booking half-confirmed.
            await _reject(sales, conn, tenant_id, booking_id, f"confirmation failed: {failures[0]}")
            return None
        await tickets.issue(conn, booking_id, sales.signing_secret, sales.public_url)
        await _set_status(conn, booking_id, "CONFIRMED")
        await _event(conn, booking_id, tenant_id, "booking.confirmed")
        return None


async def _expire(sales: Sales, conn: asyncpg.Connection, booking: asyncpg.Record) -> None:
    """Mark a locked PENDING booking EXPIRED, its legs released (caller's transaction).

    The operators are told too (the same compensation as a rejection), and seats go back.
    """
    legs = await conn.fetch(
        "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking["id"]
    )
    await _undo_legs(sales, conn, booking["tenant_id"], legs)
    await capacity.release(conn, booking["id"])
    await _set_status(conn, booking["id"], "EXPIRED", "not confirmed before expires_at")
    await _event(conn, booking["id"], booking["tenant_id"], "booking.expired")


async def expire_due(sales: Sales, limit: int = 100) -> int:
    """Expire PENDING bookings past `expires_at`, release their reservations; return how many."""
    expired = 0
    async with sales.pool.acquire() as conn:
        ids = await conn.fetch(
            "SELECT id FROM bookings WHERE status = 'PENDING' AND expires_at <= now() "
            "ORDER BY expires_at LIMIT $1",
            limit,
        )
        for row in ids:
            async with conn.transaction():
                booking = await conn.fetchrow(
                    "SELECT * FROM bookings WHERE id = $1 AND status = 'PENDING' "
                    "AND expires_at <= now() FOR UPDATE SKIP LOCKED",
                    row["id"],
                )
                if booking is None:
                    continue
                await _expire(sales, conn, booking)
                expired += 1
    return expired


async def cancel_booking(sales: Sales, tenant_id: str, booking_id: uuid.UUID) -> Booking:
    """Cancel a booking and refund what each leg's conditions allow."""
    async with sales.pool.acquire() as conn:
        problem = await _cancel_locked(sales, conn, tenant_id, booking_id)
        if problem is not None:
            raise problem
        return await get_booking(conn, tenant_id, booking_id)


async def _cancel_locked(
    sales: Sales, conn: asyncpg.Connection, tenant_id: str, booking_id: uuid.UUID
) -> SalesError | None:
    now = datetime.now(UTC)
    async with conn.transaction():
        booking = await _locked(conn, tenant_id, booking_id)
        if booking["status"] not in ("PENDING", "CONFIRMED"):
            return BookingNotCancellable(
                f"booking {booking_id} is {booking['status']}; it cannot be cancelled",
            )
        legs = await conn.fetch(
            "SELECT * FROM booking_legs WHERE booking_id = $1 ORDER BY position", booking_id
        )
        # Legs an earlier, partly failed cancel did cancel are not asked again.
        open_legs = [leg for leg in legs if leg["status"] != "CANCELLED"]
        used = [
            leg["position"]
            for leg in open_legs
            if datetime.fromisoformat(leg["detail"]["valid_until"]) <= now
        ]
        if booking["status"] == "CONFIRMED" and used:
            return BookingNotCancellable(
                f"legs {used} are no longer valid; a used ticket cannot be cancelled",
            )
        if booking["status"] == "CONFIRMED" and (fixed := refunds.check_cancellable(legs)):
            return fixed
        refund = refunds.refund_for(legs, booking["currency"], now)
        if booking["status"] != "CONFIRMED":
            refund = Refund(amount_minor=0, currency=booking["currency"], reason="nothing was paid")
        undo = cancel_call if booking["status"] == "CONFIRMED" else release_call
        results = await each_leg(sales, conn, open_legs, undo)
        failures = [r for r in results if isinstance(r, OperatorError)]
        if failures:
            # What the other operators did cancel is recorded (its tickets stop being valid);
            # a retry asks only the rest.
            for leg, result in zip(open_legs, results, strict=True):
                if not isinstance(result, OperatorError):
                    await _cancel_leg(conn, tenant_id, leg)
            return OperatorUnavailable(
                f"cancellation not possible now: {failures[0]}; "
                f"{len(open_legs) - len(failures)} of {len(open_legs)} leg(s) cancelled, "
                "cancel again for the rest",
            )
        await conn.execute(
            "UPDATE booking_legs SET status = 'CANCELLED' WHERE booking_id = $1", booking_id
        )
        await revocation.revoke_tickets(conn, booking_id)
        await capacity.release(conn, booking_id)
        await _set_status(conn, booking_id, "CANCELLED", "cancelled by the MaaS app")
        await refunds.record_refund(conn, booking_id, refund)
        await _event(
            conn,
            booking_id,
            tenant_id,
            "booking.cancelled",
            refund_minor=refund.amount_minor,
            refund_reason=refund.reason,
        )
    return None


async def _cancel_leg(conn: asyncpg.Connection, tenant_id: str, leg: asyncpg.Record) -> None:
    """Record one leg its operator cancelled, with its ticket (caller's transaction)."""
    await conn.execute("UPDATE booking_legs SET status = 'CANCELLED' WHERE id = $1", leg["id"])
    await revocation.revoke_tickets(conn, leg["booking_id"], leg["id"])
    await _event(conn, leg["booking_id"], tenant_id, "leg.cancelled", leg=str(leg["id"]))
