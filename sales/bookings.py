"""Two-phase bookings across operators: reserve all, confirm all or none, cancel, expire.

Each request first commits its intent in one short transaction under the
booking's row lock (`CONFIRMING`, `CANCELLING`, `EXPIRED`; each leg the call it is
owed) with a lease, then calls the operators with no transaction or connection
held (`sales.settle`), recording each answer as it comes. A second confirm or
cancel while the lease runs is told the booking is busy; it never calls twice.
Seats are counted in `capacities`, whose CHECK constraint makes overselling
impossible whatever the number of gateway processes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from sales import booking_store as store
from sales import refunds
from sales.booking_insert import checked_offers, insert_booking, read_offers
from sales.errors import (
    BookingBusy,
    BookingExpired,
    BookingNotCancellable,
    BookingNotPending,
    OperatorUnavailable,
    SalesError,
)
from sales.legs import Sales
from sales.schemas import Booking, BookingCreate, Refund
from sales.settle import drive, expire
from sales.store import get_booking


async def create_booking(
    sales: Sales,
    tenant_id: str,
    body: BookingCreate,
    idempotency_key: str | None = None,
    offer_rows: list[asyncpg.Record] | None = None,
) -> Booking:
    """Book offers: hold seats, reserve with every operator; PENDING, or REJECTED if one refuses.

    A booking already made with `idempotency_key` (its answer lost) is resumed, not made again.
    `offer_rows`: the offers as `offers_read` read them (with the key's claim), if they were.
    """
    now = datetime.now(UTC)
    try:
        # Offers never change once made: read outside the booking's statement, which rechecks
        # through its foreign key and the booked-once primary key.
        if offer_rows is None:
            offers = await read_offers(sales.pool, tenant_id, body, now)
        else:
            offers = checked_offers(offer_rows, body, now)
        booking_id, legs = await insert_booking(
            sales.pool, sales, tenant_id, body, offers, now, idempotency_key
        )
    except (SalesError, asyncpg.UniqueViolationError):
        # The key's booking, if it was made (the unique index on the key refuses a second):
        # its offers are booked, perhaps expired since, and it is resumed instead.
        known = await _known(sales, tenant_id, idempotency_key)
        if known is None:
            raise
        return known
    await drive(sales, booking_id, give_up=True, owed=legs)
    return await get_booking(sales.pool, tenant_id, booking_id)


async def _known(sales: Sales, tenant_id: str, idempotency_key: str | None) -> Booking | None:
    """Resume and return the booking an Idempotency-Key already made, if any."""
    if idempotency_key is None:
        return None
    known = await store.find_by_idempotency_key(sales.pool, tenant_id, idempotency_key)
    if known is None:
        return None
    if await store.claim(sales.pool, known, sales.lease):
        await drive(sales, known, give_up=True)
    return await get_booking(sales.pool, tenant_id, known)


@dataclass(frozen=True, slots=True)
class Step:
    """The booking after a confirm or cancel; `replayed` when an earlier call had done it.

    A retry whose first answer was lost (or a second call by the same app) gets the
    outcome again rather than a conflict: the edge says so with `Idempotent-Replayed`.
    """

    booking: Booking
    replayed: bool = False


async def confirm_booking(sales: Sales, tenant_id: str, booking_id: uuid.UUID) -> Step:
    """Commit every leg with its operator and issue tickets; or REJECTED, compensated."""
    problem = await _confirm_intent(sales, tenant_id, booking_id)
    if isinstance(problem, list):
        await drive(sales, booking_id, give_up=True, owed=problem)
        problem = None
    elif problem is None or isinstance(problem, BookingExpired):
        await drive(sales, booking_id, give_up=True)
    booking = await get_booking(sales.pool, tenant_id, booking_id)
    if isinstance(problem, _AlreadyDone):
        return Step(booking, replayed=True)
    if problem is not None:
        raise problem
    if booking.status == "CONFIRMING":
        raise BookingBusy(
            f"the operators confirmed booking {booking_id} but its tickets are not issued yet; "
            "the gateway keeps trying: GET the booking in a moment",
        )
    return Step(booking)


class _AlreadyDone(Exception):
    """A confirm or cancel of a booking it already brought about: answered with the booking.

    Not a `SalesError`: it is never raised, and it has no problem code of its own.
    """


#: The intent to confirm a PENDING, unleased, unexpired booking, in one statement: the
#: booking and its legs CONFIRMING, the lease taken, the event written. The UPDATE's own
#: WHERE is checked again on the newest row after waiting for its lock, so a concurrent
#: confirm moves it once. Any other case is decided by `_confirm_intent_locked`. Each leg
#: to confirm is given its ticket's index in its operator's status list now, the counter's
#: row locked for this statement only (an index given to a ticket never issued stays
#: unused). Returns the legs now owed a call, as `settle._owed` reads them, with
#: `status_idx` (one row of NULLs if none); no row if the booking did not move.
_CONFIRM = """
WITH moved AS (
       UPDATE bookings SET status = 'CONFIRMING', updated_at = now(),
              settle_after = now() + $3::interval
       WHERE id = $1 AND tenant_id = $2 AND status = 'PENDING'
         AND (settle_after IS NULL OR settle_after <= now()) AND expires_at > $4
       RETURNING id),
     legs AS (UPDATE booking_legs SET status = 'CONFIRMING'
              WHERE booking_id IN (SELECT id FROM moved) AND status = 'PENDING'
              RETURNING *),
     logged AS (INSERT INTO booking_events (booking_id, tenant_id, type, payload)
                SELECT id, $2, 'booking.confirming', '{}'::jsonb FROM moved),
     counted AS (SELECT operator_id, count(*) AS n FROM legs GROUP BY operator_id),
     indexes AS (
       INSERT INTO status_lists (operator_id, next_idx) SELECT operator_id, n FROM counted
       ON CONFLICT (operator_id) DO UPDATE SET next_idx = status_lists.next_idx + EXCLUDED.next_idx
       RETURNING operator_id, next_idx),
     numbered AS (
       SELECT l.id, i.next_idx - c.n - 1
                    + row_number() OVER (PARTITION BY l.operator_id ORDER BY l.position)
                    AS status_idx
       FROM legs l JOIN counted c USING (operator_id) JOIN indexes i USING (operator_id)),
     owed AS (
       SELECT * FROM legs
       UNION ALL
       SELECT * FROM booking_legs
       WHERE booking_id IN (SELECT id FROM moved) AND status = ANY($5) AND status <> 'PENDING')
SELECT o.*, $2::text AS booking_tenant_id, n.status_idx
FROM moved m LEFT JOIN owed o ON true LEFT JOIN numbered n ON n.id = o.id
ORDER BY o.position"""


async def _confirm_intent(
    sales: Sales, tenant_id: str, booking_id: uuid.UUID
) -> list[asyncpg.Record] | SalesError | _AlreadyDone | None:
    """Commit the intent to confirm (CONFIRMING, legs owed their commit), or say why not.

    The plain case returns the legs owed a call, with the lease taken.
    """
    owed = await sales.pool.fetch(
        _CONFIRM, booking_id, tenant_id, sales.lease, datetime.now(UTC), list(store.OWED)
    )
    if owed:
        return [leg for leg in owed if leg["id"] is not None]
    return await _confirm_intent_locked(sales, tenant_id, booking_id)


async def _confirm_intent_locked(
    sales: Sales, tenant_id: str, booking_id: uuid.UUID
) -> SalesError | _AlreadyDone | None:
    """Decide a confirm that is not the plain case under the booking's lock (expired, busy...)."""
    async with sales.pool.acquire() as conn, conn.transaction():
        booking = await store.lock(conn, tenant_id, booking_id)
        status = booking["status"]
        if status in ("CONFIRMED", "CONDITIONAL_CONFIRMED"):
            return _AlreadyDone("confirmed")
        if status in ("CONFIRMING", "CANCELLING"):
            return _busy(booking)
        if status != "PENDING":
            return BookingNotPending(
                f"booking {booking_id} is {status}; only a PENDING booking can be confirmed",
            )
        if booking["leased"]:
            return _busy(booking)
        if booking["expires_at"] <= datetime.now(UTC):
            await expire(conn, booking)
            await store.lease(conn, booking_id, sales.lease)
            return BookingExpired(
                f"booking {booking_id} expired at {booking['expires_at'].isoformat()}",
            )
        await store.move_legs(conn, booking_id, {"PENDING": "CONFIRMING"})
        await store.set_status(conn, booking_id, "CONFIRMING")
        await store.lease(conn, booking_id, sales.lease)
        await store.event(conn, booking_id, tenant_id, "booking.confirming")
    return None


def _busy(booking: asyncpg.Record) -> BookingBusy:
    return BookingBusy(
        f"booking {booking['id']} is {booking['status']}: its operators are being called; "
        "GET the booking or retry in a moment",
    )


async def expire_due(sales: Sales, limit: int = 100) -> int:
    """Expire PENDING bookings past `expires_at`, release their reservations; return how many."""
    async with sales.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT * FROM bookings WHERE status = 'PENDING' AND expires_at <= now()
                 AND (settle_after IS NULL OR settle_after <= now())
               ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            limit,
        )
        for booking in rows:
            await expire(conn, booking)
            await store.lease(conn, booking["id"], sales.lease)
    # Together: one slow operator's releases do not hold up the others'.
    await asyncio.gather(*(drive(sales, booking["id"], give_up=True) for booking in rows))
    return len(rows)


async def cancel_booking(sales: Sales, tenant_id: str, booking_id: uuid.UUID) -> Step:
    """Cancel a booking and refund what each leg's conditions allow."""
    problem = await _cancel_intent(sales, tenant_id, booking_id)
    if isinstance(problem, _AlreadyDone):
        return Step(await get_booking(sales.pool, tenant_id, booking_id), replayed=True)
    if problem is not None:
        raise problem
    await drive(sales, booking_id, give_up=False)
    booking = await get_booking(sales.pool, tenant_id, booking_id)
    if booking.status == "CANCELLING":
        cancelled = sum(leg.status in ("CANCELLED", "RELEASED") for leg in booking.legs)
        raise OperatorUnavailable(
            f"cancellation not finished: {cancelled} of {len(booking.legs)} leg(s) cancelled; "
            "the gateway keeps asking the others (cancel again, or GET the booking)",
        )
    if booking.status != "CANCELLED":
        raise BookingNotCancellable(
            f"an operator refused to cancel booking {booking_id}; the legs it did not cancel stand",
        )
    return Step(booking)


async def _cancel_intent(
    sales: Sales, tenant_id: str, booking_id: uuid.UUID
) -> SalesError | _AlreadyDone | None:
    """Commit the intent to cancel (CANCELLING, legs owed their undo), or say why not."""
    now = datetime.now(UTC)
    async with sales.pool.acquire() as conn, conn.transaction():
        booking = await store.lock(conn, tenant_id, booking_id)
        status = booking["status"]
        if status == "CANCELLED":  # this app's earlier cancel (its answer lost) or the operator's
            return _AlreadyDone("cancelled")
        if booking["leased"] or status == "CONFIRMING":
            return _busy(booking)
        if status == "CANCELLING":  # an earlier cancel left legs owed: take them over
            await store.lease(conn, booking_id, sales.lease)
            return None
        if status not in ("PENDING", "CONFIRMED", "CONDITIONAL_CONFIRMED"):
            return BookingNotCancellable(
                f"booking {booking_id} is {status}; it cannot be cancelled",
            )
        legs = await store.list_legs(conn, booking_id)
        open_legs = [leg for leg in legs if leg["status"] != "CANCELLED"]
        used = [
            leg["position"]
            for leg in open_legs
            if datetime.fromisoformat(leg["detail"]["valid_until"]) <= now
        ]
        if status == "CONFIRMED" and used:
            return BookingNotCancellable(
                f"legs {used} are no longer valid; a used ticket cannot be cancelled",
            )
        if status == "CONFIRMED" and (fixed := refunds.check_cancellable(open_legs)):
            return fixed
        # Legs an earlier, partly refused cancel did cancel were refunded then, not again.
        refund = (
            refunds.refund_for(open_legs, booking["currency"], now)
            if status == "CONFIRMED"
            else Refund(amount_minor=0, currency=booking["currency"], reason="nothing was paid")
        )
        earlier = await refunds.refunded_so_far(conn, booking_id)
        await store.move_legs(
            conn,
            booking_id,
            {
                "PENDING": "RELEASING",
                "CONFIRMED": "CANCELLING",
                "CONDITIONAL_CONFIRMED": "CANCELLING",
            },
        )
        total = refund.model_copy(update={"amount_minor": earlier + refund.amount_minor})
        await store.set_status(conn, booking_id, "CANCELLING", refund_minor=total.amount_minor)
        await refunds.record_refund(conn, booking_id, total)
        if status == "CONFIRMED":
            await refunds.record_leg_refunds(conn, open_legs, now)
        await store.lease(conn, booking_id, sales.lease)
        await store.event(
            conn,
            booking_id,
            tenant_id,
            "booking.cancelling",
            refund_minor=total.amount_minor,
            refund_reason=total.reason,
        )
    return None
