"""Driving a booking to where its operators' answers take it, with no transaction held meanwhile.

A round: read the legs that are owed an operator call (`RESERVING`, `CONFIRMING`,
`RELEASING`, `CANCELLING`, and when recovering `CONDITIONAL_CONFIRMED`), call their
operators with no connection held, record each answer in its own short
transaction, then settle the booking in one short transaction under its row lock
(the plain outcomes, every reservation made or every leg confirmed, in one statement;
for a one-leg booking the answer and that settle are one statement: `sales.plain`).
The first round's legs come from the statement that made them owed. An answer
that never came (a timeout, a 5xx) leaves the leg owed: the booking keeps its lease
and the recovery task asks again with the same idempotency key. A leg whose outcome
is unknown is never released: when the gateway gives up on a commit it cancels (a
cancel is right whether or not the commit was made).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from operators.adapter import OperatorError, OperatorRefused, OperatorResult
from operators.resilience import NotSent
from sales import booking_store as store
from sales import refunds, revocation, tickets
from sales.legs import Answer, Sales, each_leg, owed_call
from sales.plain import one_leg_settled, settled_plainly

log = logging.getLogger(__name__)

#: What an operator that has decided says about a conditional commit it denied.
DENIED = ("RELEASED", "REJECTED", "CANCELLED", "EXPIRED")


def next_state(status: str, answer: Answer, give_up: bool) -> str | None:
    """Return the leg's next state after an answer, or None to keep asking."""
    definite = isinstance(answer, OperatorRefused | NotSent)
    if isinstance(answer, OperatorResult):
        return _answered(status, answer.state)
    if status == "RESERVING":
        return "RESERVE_FAILED" if definite else ("RELEASING" if give_up else None)
    if status == "CONFIRMING":
        # Refused: nothing was committed, the reservation is given back.
        return "RELEASING" if definite else ("CANCELLING" if give_up else None)
    if status == "RELEASING" and isinstance(answer, OperatorRefused):
        return "RELEASED"  # the operator holds nothing for us (unknown or already gone)
    if status == "CANCELLING" and isinstance(answer, OperatorRefused):
        return "CONFIRMED"  # the operator says the sale stands
    return None


def _answered(status: str, state: str) -> str | None:
    if status == "RESERVING":
        return "PENDING"
    if status == "CONFIRMING":
        return "CONDITIONAL_CONFIRMED" if state == "CONDITIONAL_CONFIRMED" else "CONFIRMED"
    if status == "RELEASING":
        return "RELEASED"
    if status == "CANCELLING":
        return "CANCELLED"
    if state == "CONFIRMED":
        return "CONFIRMED"
    return "RELEASED" if state in DENIED else None


#: The legs still owed a call, each with its booking's tenant; the lease is taken with them.
_OWED = """
WITH leased AS (
    UPDATE bookings SET settle_after = now() + $3::interval
    WHERE id = $1
      AND EXISTS (SELECT 1 FROM booking_legs WHERE booking_id = $1 AND status = ANY($2))
    RETURNING tenant_id)
SELECT l.*, b.tenant_id AS booking_tenant_id FROM booking_legs l, leased b
WHERE l.booking_id = $1 AND l.status = ANY($2) ORDER BY l.position"""


async def _owed(sales: Sales, booking_id: uuid.UUID, recovering: bool) -> list[asyncpg.Record]:
    """Return the legs owed a call (none: nothing to do) and hold the booking's lease."""
    states = [*store.OWED, "CONDITIONAL_CONFIRMED"] if recovering else list(store.OWED)
    legs: list[asyncpg.Record] = await sales.pool.fetch(_OWED, booking_id, states, sales.lease)
    return legs


async def call_round(
    sales: Sales,
    booking_id: uuid.UUID,
    give_up: bool,
    recovering: bool,
    owed: list[asyncpg.Record] | None = None,
) -> int:
    """Call the operators of every owed leg once, recording each answer as it arrives.

    `owed` are the legs the caller's own statement just made owed, with the lease taken
    (as `_owed` returns them); read here when not given. Returns how many legs moved.
    """
    legs = await _owed(sales, booking_id, recovering) if owed is None else owed
    if not legs:
        return 0
    moved = 0

    async def record(leg: asyncpg.Record, answer: Answer) -> None:
        nonlocal moved
        moved += await _record(sales, booking_id, leg, answer, give_up)

    await each_leg(sales, legs, owed_call, record)
    return moved


async def _record(
    sales: Sales, booking_id: uuid.UUID, leg: asyncpg.Record, answer: Answer, give_up: bool
) -> int:
    """Record one leg's answer; return 1 if the leg moved, else 0."""
    state = next_state(leg["status"], answer, give_up)
    if isinstance(answer, OperatorError):
        log.warning(
            "operator call failed",
            extra={"leg": str(leg["id"]), "status": leg["status"], "error": str(answer)},
        )
    if state is None or state == leg["status"]:
        return 0
    ref = answer.operator_ref if isinstance(answer, OperatorResult) else None
    moved = await store.record_leg(sales.pool, leg, state, ref, leg["booking_tenant_id"])
    if isinstance(answer, OperatorError):
        # The first failure says why (its reason code; never the operator's own words).
        await sales.pool.execute(
            "UPDATE bookings SET reason = coalesce(reason, $2) WHERE id = $1",
            booking_id,
            str(answer),
        )
    return int(moved)


#: The answer that, for a leg in the first state, is the second (a one-leg booking's plain step).
_PLAIN = {"RESERVING": "PENDING", "CONFIRMING": "CONFIRMED"}


async def _one_leg_round(
    sales: Sales, booking_id: uuid.UUID, leg: asyncpg.Record, give_up: bool
) -> tuple[int, bool]:
    """Call a one-leg booking's operator; a plain answer is recorded and settled at once.

    Returns (how many legs moved, whether the booking is settled with nothing owed).
    """
    [answer] = await each_leg(sales, [leg], owed_call)
    if (
        isinstance(answer, OperatorResult)
        and next_state(leg["status"], answer, give_up) == _PLAIN.get(leg["status"])
        and await one_leg_settled(sales, booking_id, leg, answer.operator_ref)
    ):
        return 1, True
    return await _record(sales, booking_id, leg, answer, give_up), False


async def drive(
    sales: Sales,
    booking_id: uuid.UUID,
    *,
    give_up: bool,
    recovering: bool = False,
    owed: list[asyncpg.Record] | None = None,
) -> None:
    """Call, record and settle until nothing moves; leave the lease to the recovery task if owed.

    `owed`: the legs owed a call as the caller's statement left them (its first round's).
    """
    first = owed
    for _ in range(4):  # reserve or confirm, then compensation, then its settling
        if first is not None and len(first) == 1:
            moved, settled = await _one_leg_round(sales, booking_id, first[0], give_up)
            if settled:
                return
        else:
            moved = await call_round(sales, booking_id, give_up, recovering, first)
        changed, still_owed = await settle_owed(sales, booking_id, first)
        first = None
        if not still_owed and not recovering:
            # Settled with nothing owed: another round would call no one and change nothing,
            # and the lease is already what `_release_lease` would make it.
            return
        if not moved and not changed:
            break
    await _release_lease(sales, booking_id)


_OWES = """EXISTS (SELECT 1 FROM booking_legs l WHERE l.booking_id = b.id AND l.status = ANY($2))
         OR b.status IN ('CONFIRMING', 'CANCELLING')"""
_LEASE = f"""
UPDATE bookings b SET settle_after = CASE
    WHEN {_OWES} THEN now() + $3::interval
    WHEN b.status = 'CONDITIONAL_CONFIRMED' THEN now() + $4::interval
    ELSE NULL END
WHERE id = $1"""
#: Seats of legs that hold nothing given back, and the lease set, in one statement: both
#: read the legs as the settling transaction left them. Returns whether anything is owed.
_FREE_AND_LEASE = f"""
WITH held AS (
       DELETE FROM capacity_holds h USING booking_legs l
        WHERE h.booking_id = $1 AND l.booking_id = h.booking_id
          AND l.position = h.position AND l.status = ANY($5)
       RETURNING h.capacity_id, h.seats),
     summed AS (SELECT capacity_id, sum(seats) AS seats FROM held GROUP BY capacity_id),
     freed AS (UPDATE capacities c SET seats_taken = c.seats_taken - s.seats
                 FROM summed s WHERE s.capacity_id = c.id)
{_LEASE}
RETURNING {_OWES}"""


async def _release_lease(sales: Sales, booking_id: uuid.UUID) -> None:
    """Clear the lease when nothing is owed; else let the recovery task (or a retry) go on now."""
    await sales.pool.execute(_LEASE, booking_id, list(store.OWED), timedelta(0), sales.recheck)


async def settle(sales: Sales, booking_id: uuid.UUID) -> bool:
    """Move the booking to what its legs now say, in one short transaction; True if it moved."""
    return (await settle_owed(sales, booking_id))[0]


async def settle_owed(
    sales: Sales, booking_id: uuid.UUID, called: list[asyncpg.Record] | None = None
) -> tuple[bool, bool]:
    """Settle as `settle` does; return (whether it moved, whether anything is still owed).

    The lease is updated in the same transaction: a booking seen settled owes nothing.
    `called`: the legs just called, as they were before (the plain outcome is tried first).
    """
    plainly = await settled_plainly(sales, booking_id, called)
    if plainly is not None:
        return plainly
    async with sales.pool.acquire() as conn, conn.transaction():
        booking = await conn.fetchrow(
            """SELECT b.*, ARRAY(SELECT status FROM booking_legs WHERE booking_id = b.id)
                      AS leg_states
               FROM bookings b WHERE id = $1 FOR UPDATE""",
            booking_id,
        )
        changed = await _settle_locked(sales, conn, booking)
        # Still owed: the caller goes on calling, so the lease stays its own meanwhile.
        owed: bool = await conn.fetchval(
            _FREE_AND_LEASE,
            booking_id,
            list(store.OWED),
            sales.lease,
            sales.recheck,
            list(store.SETTLED_FREE),
        )
        return changed, owed


async def _settle_locked(sales: Sales, conn: asyncpg.Connection, booking: asyncpg.Record) -> bool:
    """Act on the locked booking (with `leg_states`, its legs' states when it was locked)."""
    states = set(booking["leg_states"])
    status = booking["status"]
    if status == "PENDING" and "RESERVING" not in states and states - {"PENDING"}:
        await reject(conn, booking, _why("reservation", booking))
        return True
    if status in ("CONFIRMING", "CONDITIONAL_CONFIRMED") and "CONFIRMING" not in states:
        return await _settle_confirm(sales, conn, booking, states)
    if status == "CANCELLING" and not states & {"CANCELLING", "RELEASING"}:
        await _settle_cancel(conn, booking, states)
        return True
    if status in ("REJECTED", "EXPIRED", "CANCELLED") and "PENDING" in states:
        # A reservation answered after the booking ended: give it back.
        await store.move_legs(conn, booking["id"], {"PENDING": "RELEASING"})
        return True
    return False


async def _settle_confirm(
    sales: Sales, conn: asyncpg.Connection, booking: asyncpg.Record, states: set[str]
) -> bool:
    if states - set(store.COMMITTED):
        await reject(conn, booking, _why("confirmation", booking))
        return True
    if "CONDITIONAL_CONFIRMED" in states:
        if booking["status"] == "CONDITIONAL_CONFIRMED":
            return False
        await store.set_status(conn, booking["id"], "CONDITIONAL_CONFIRMED")
        await store.event(conn, booking["id"], booking["tenant_id"], "booking.conditional")
        return True
    try:
        async with conn.transaction():  # a savepoint: a failed signing keeps the rest
            await tickets.issue(
                conn, booking["id"], sales.signing_secret, sales.public_url, sales.cache
            )
    except Exception:  # any failure to sign: the operators said yes, so retry, never undo
        log.exception("tickets not issued; retried", extra={"booking": str(booking["id"])})
        return False
    await store.set_status(conn, booking["id"], "CONFIRMED")
    await store.event(conn, booking["id"], booking["tenant_id"], "booking.confirmed")
    return True


async def _settle_cancel(
    conn: asyncpg.Connection, booking: asyncpg.Record, states: set[str]
) -> None:
    if states & set(store.COMMITTED):
        # An operator refused to cancel its leg: the booking stands with what was not cancelled,
        # and the refund is what the cancelled legs gave back (each has its ledger line).
        refunded = await refunds.settle_partial(conn, booking["id"])
        reason = "cancellation refused by an operator; the legs it did not cancel stand"
        await store.set_status(conn, booking["id"], "CONFIRMED", reason, refund_minor=refunded)
        await store.event(
            conn,
            booking["id"],
            booking["tenant_id"],
            "booking.cancel_refused",
            refund_minor=refunded,
        )
        return
    await revocation.revoke_tickets(conn, booking["id"])
    await store.free_seats(conn, booking["id"])
    by_operator = (booking["reason"] or "").startswith("cancelled by operator")
    # What went back is what the cancelled legs gave back: the same sums as the ledger's.
    refunded = await refunds.refunded_so_far(conn, booking["id"])
    await store.set_status(
        conn,
        booking["id"],
        "CANCELLED",
        None if by_operator else "cancelled by the MaaS app",
        refund_minor=refunded,
    )
    await store.event(
        conn, booking["id"], booking["tenant_id"], "booking.cancelled", refund_minor=refunded
    )


def _why(step: str, booking: asyncpg.Record) -> str:
    return f"{step} failed: {booking['reason'] or 'an operator refused or did not answer'}"


async def reject(conn: asyncpg.Connection, booking: asyncpg.Record, reason: str) -> None:
    """Mark a booking REJECTED and owe its operators the compensation of every leg."""
    await _compensate(conn, booking["id"])
    await store.set_status(conn, booking["id"], "REJECTED", reason)
    await store.event(conn, booking["id"], booking["tenant_id"], "booking.rejected", reason=reason)


async def expire(conn: asyncpg.Connection, booking: asyncpg.Record) -> None:
    """Mark a locked PENDING booking EXPIRED and owe its operators the release of every leg."""
    await _compensate(conn, booking["id"])
    await store.set_status(conn, booking["id"], "EXPIRED", "not confirmed before expires_at")
    await store.event(conn, booking["id"], booking["tenant_id"], "booking.expired")


async def _compensate(conn: asyncpg.Connection, booking_id: uuid.UUID) -> None:
    # RESERVING and CONFIRMING legs stay owed: their answer decides what to undo.
    await store.move_legs(
        conn,
        booking_id,
        {"PENDING": "RELEASING", "CONFIRMED": "CANCELLING", "CONDITIONAL_CONFIRMED": "CANCELLING"},
    )
    await store.free_seats(conn, booking_id)


async def recover_due(sales: Sales, limit: int = 50, at_once: int = 8) -> int:
    """Finish or compensate bookings whose lease has passed (a crash, an operator that was down).

    Up to `at_once` bookings are driven together, so one slow operator does not hold up the rest.
    """
    rows = await store.claim_due(sales.pool, sales.lease, limit)
    gate = asyncio.Semaphore(at_once)

    async def one(booking_id: uuid.UUID) -> None:
        async with gate:
            expires_at = await sales.pool.fetchval(
                "SELECT expires_at FROM bookings WHERE id = $1", booking_id
            )
            try:
                await drive(
                    sales, booking_id, give_up=expires_at <= datetime.now(UTC), recovering=True
                )
            except (OSError, asyncpg.PostgresError):
                log.exception("recovery of a booking failed", extra={"booking": str(booking_id)})

    await asyncio.gather(*(one(row["id"]) for row in rows))
    return len(rows)
